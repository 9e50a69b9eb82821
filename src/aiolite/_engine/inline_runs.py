"""Running a request on the event loop's own thread, when that is safe and quick.

A thread round trip costs 50-80 us; a point query in SQLite about 1 us. So
when the worker is idle (nothing queued or running, so no request is
overtaken), a statement the caller knows to be a tiny read (see
:mod:`aiolite._engine.inline` for how it knows) runs right on the loop
thread, under a budget of ``INLINE_BUDGET_SECONDS``. Past the budget, or at
anything that must not happen on the loop thread (a busy wait, an async
callback, a statement that writes), SQLite abandons it: the caller re-runs it
in the worker, which is safe because it changed nothing.

The worker's lock on the connection is what makes this safe: an inline run
holds it, so the worker cannot start a request meanwhile, and it is only
tried, never waited for, so the loop never blocks on the worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from time import monotonic
from typing import TYPE_CHECKING, Any

from .._errors import ConnectionClosedError
from .request import ABANDONED, NOT_NOW
from .streak import InlineStreak

if TYPE_CHECKING:
    from .engine import Engine

INLINE_BUDGET_SECONDS = 0.0005
"""How long a statement may run on the loop thread before it is abandoned for the worker."""
_INLINE_STEPS = 500  # SQLite steps between budget checks while running inline


class InlineRuns:
    """One engine's runs on the loop thread: whether they are allowed, and the one going on."""

    __slots__ = (
        "_abandoned",
        "_engine",
        "_exec_lock",
        "_until",
        "_worker",
        "active",
        "allowed",
        "streak",
    )

    def __init__(self, engine: Engine, exec_lock: threading.Lock, worker: threading.Thread) -> None:
        self._engine = engine
        self._exec_lock = exec_lock  # held by whichever thread is using the connection
        self._worker = worker
        self.allowed = True
        """False once something makes loop-thread runs unsafe: see :meth:`keep_in_worker`."""
        self.active = False
        """True while a run is going on (the engine interrupts it when closing)."""
        self.streak = InlineStreak()
        """How long runs here have held the loop since it last had a turn."""
        self._abandoned = False
        self._until = 0.0

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(sync_connection, *args)`` here, or return ``NOT_NOW`` or ``ABANDONED``.

        ``NOT_NOW``: the worker was busy and nothing was tried. ``ABANDONED``:
        the run started but had to stop unfinished; it changed nothing, so
        the caller runs it again in the worker. Errors of the statement
        itself are raised as they would be from the worker. The run counts
        towards :attr:`streak`, so that a caller running inline back to back
        yields to the loop in time.
        """
        engine = self._engine
        if not self.allowed or engine.pending or engine.closing:
            return NOT_NOW
        exec_lock = self._exec_lock
        if not exec_lock.acquire(blocking=False):
            return NOT_NOW
        conn = engine.conn
        started = monotonic()
        try:
            if engine.pending or conn is None:  # a request arrived from another thread
                return NOT_NOW
            self.active = True
            self._abandoned = False
            self._until = started + INLINE_BUDGET_SECONDS
            conn.set_progress_handler(self._over_budget, _INLINE_STEPS)
            try:
                result = fn(conn, *args)
            except Exception as exc:
                if engine.closing:  # stop() from another thread interrupted it
                    raise ConnectionClosedError("the connection was closed") from exc
                if self._abandoned:
                    return ABANDONED
                raise
            finally:
                self.active = False
                progress = engine.progress
                tuner = progress.tuner
                conn.set_progress_handler(progress.on_progress, tuner.steps)
                tuner.interval = tuner.steps
            return ABANDONED if self._abandoned else result
        finally:
            exec_lock.release()
            streak = self.streak
            if streak.started is None:  # (only the first run of a streak pays the call)
                streak.ran(started)

    def keep_in_worker(self) -> None:
        """From now on, run nothing inline: user code (callbacks, virtual tables, a
        Python VFS, whatever ``run`` registered) may be called by any statement,
        and it must run in the worker, where it may block, write or await."""
        self.allowed = False

    def abandon(self) -> bool:
        """If running inline, mark the run abandoned and return True: the caller must stop it.

        Asked wherever the worker would wait or hand work to the loop: on
        the loop thread, that wait could never end.
        """
        if self.active and threading.current_thread() is not self._worker:
            self._abandoned = True
            return True
        return False

    def _over_budget(self) -> bool:
        if monotonic() > self._until:
            self._abandoned = True
            return True
        return False
