"""Waiting for another connection's lock, in a way cancellation and deadlines cut short.

SQLite calls a connection's busy handler while another connection holds a
lock it needs; a true answer means "try again". Its built-in busy timeout
sleeps in C where no progress handler runs, so a cancelled request stuck on
another writer's lock would wait out the whole timeout. aiolite installs a
:class:`BusyWaiter` instead, which waits in short sleeps and asks the engine
between them; a busy handler the user sets is wrapped in one too, so that it
is not consulted once the request must stop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from time import monotonic
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import apsw

    from .._engine import Engine

# SQLite's own busy-retry delays (sqliteDefaultBusyCallback), capped so that a
# cancelled request waiting on a lock notices within 50 ms.
_BUSY_DELAYS = (0.001, 0.002, 0.005, 0.010, 0.015, 0.020, 0.025, 0.025, 0.025, 0.050)


class BusyWaiter:
    """A connection's busy handler: aiolite's timed wait, or the user's handler.

    Either way it answers "stop waiting" as soon as the request is cancelled,
    past its deadline, or its connection is closing.
    """

    __slots__ = ("_engine", "_handler", "_started", "_timeout")

    def __init__(
        self,
        engine: Engine,
        timeout: float = 0.0,
        handler: Callable[[int], Any] | None = None,
    ) -> None:
        self._engine = engine
        self._timeout = timeout
        self._handler = handler
        self._started = 0.0

    def __call__(self, prior_calls: int) -> bool:
        handler = self._handler
        if handler is not None:
            if self._engine.should_abort():
                return False
            return bool(handler(prior_calls))
        now = monotonic()
        if prior_calls == 0:
            self._started = now
        if self._engine.should_abort():
            return False
        left = self._timeout - (now - self._started)
        if left <= 0:
            return False
        time.sleep(min(_BUSY_DELAYS[min(prior_calls, len(_BUSY_DELAYS) - 1)], left))
        return True


def install_busy_handler(conn: apsw.Connection, waiter: BusyWaiter | None) -> None:
    """Worker side: make ``waiter`` the connection's busy handler (None: fail at once)."""
    conn.set_busy_handler(waiter)
