"""Hooks, the authorizer, busy and progress handlers, and tracers: sync or async.

Each setter runs the APSW method of the same name in the worker thread with
the callback bridged (an ``async def`` runs in the event loop while SQLite
waits for it). None removes the callback. Sync callbacks run in the worker,
inside the context of the request that made SQLite call them, so context
variables set where the query was issued are visible in both kinds.

Two handlers are shared with aiolite itself:

* the **progress handler** stays aiolite's (it is how cancellation and
  deadlines reach SQLite); yours is chained after it, and
* the **busy handler** you set replaces the cancellable busy wait that
  ``connect(busy_timeout=...)`` installs, but is not called once the request
  is cancelled or past its deadline (SQLite then gets "stop waiting" and
  raises ``BusyError``). ``set_busy_handler(None)`` puts aiolite's wait back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import apsw

from ..._engine import current_worker_engine
from ..arguments import require_callable_or_none
from ..busy import BusyWaiter, install_busy_handler
from ..core import CoreFront
from ..opening import set_authorizer
from .callbacks import bridge

if TYPE_CHECKING:
    from ..._engine import Engine


def should_stop() -> bool:
    """In a sync callback: True once the request that called it is cancelled,
    past its deadline, or its connection is closing.

    A sync callback that loops or waits without running SQL (SQL it runs is
    stopped by the progress handler anyway) should check this and raise, so
    a cancellation or deadline is not held up by it. False outside an aiolite
    worker thread.

    >>> import aiolite
    >>> aiolite.should_stop()
    False
    """
    engine = current_worker_engine()
    return engine is not None and engine.should_abort()


def _set_progress_handler(
    conn: apsw.Connection, engine: Engine, handler: Callable[[], Any] | None, nsteps: int
) -> None:
    engine.set_user_progress_handler(handler, nsteps)


def _set_attribute(conn: apsw.Connection, name: str, value: Any) -> None:
    setattr(conn, name, value)


class HookMethods(CoreFront):
    """The ``set_*_hook``, authorizer, handler and tracer setters of the connection.

    >>> import asyncio, aiolite
    >>> async def main():
    ...     changed = []
    ...     async def remember(op, dbname, table, rowid):   # runs in the event loop
    ...         changed.append((table, rowid))
    ...     async with aiolite.connect(":memory:") as db:
    ...         await db.set_update_hook(remember)
    ...         await db.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2)")
    ...     return changed
    >>> asyncio.run(main())
    [('t', 1), ('t', 2)]
    """

    def _bridged(self, callback: Any, what: str) -> Any:
        require_callable_or_none(callback, what)
        return bridge(self._core.engine, callback)

    async def set_update_hook(self, callable: Callable[[int, str, str, int], Any] | None) -> None:
        """``callable(op, dbname, table, rowid)`` after each row changes (``op``:
        ``apsw.SQLITE_INSERT``, ``_UPDATE`` or ``_DELETE``)."""
        await self._core.call(apsw.Connection.set_update_hook, self._bridged(callable, "callable"))

    async def set_commit_hook(self, callable: Callable[[], Any] | None, *, id: Any = None) -> None:
        """``callable()`` before each commit; a true result turns it into a rollback."""
        await self._core.call(
            apsw.Connection.set_commit_hook, self._bridged(callable, "callable"), id=id
        )

    async def set_rollback_hook(
        self, callable: Callable[[], Any] | None, *, id: Any = None
    ) -> None:
        """``callable()`` after each rollback (not for a rollback while the connection closes
        with an async hook once the event loop is gone)."""
        await self._core.call(
            apsw.Connection.set_rollback_hook, self._bridged(callable, "callable"), id=id
        )

    async def set_wal_hook(self, callable: Callable[[Any, str, int], Any] | None) -> None:
        """``callable(connection, dbname, pages)`` after a commit to a WAL database; returns
        ``apsw.SQLITE_OK``. ``connection`` is the worker's sync connection: an async hook
        must not use it (the worker is busy inside SQLite)."""
        await self._core.call(apsw.Connection.set_wal_hook, self._bridged(callable, "callable"))

    async def set_preupdate_hook(
        self, callable: Callable[[apsw.PreUpdate], Any] | None, *, id: Any = None
    ) -> None:
        """``callable(update)`` before each row change, with an ``apsw.PreUpdate`` (old and
        new values), valid only until the callback returns."""
        await self._core.call(
            apsw.Connection.preupdate_hook, self._bridged(callable, "callable"), id=id
        )

    async def set_authorizer(self, callable: Callable[..., Any] | None) -> None:
        """``callable(op, p1, p2, dbname, trigger)`` while statements are prepared; returns
        ``apsw.SQLITE_OK``, ``SQLITE_DENY`` or ``SQLITE_IGNORE``.

        On a pool's reader it runs after the reader's own (which refuses
        writes), for the actions that one allowed; None removes only yours.
        """
        await self._core.call(set_authorizer, self._bridged(callable, "callable"))

    async def set_busy_handler(self, callable: Callable[[int], Any] | None) -> None:
        """``callable(prior_calls)`` while another connection holds a lock: true to retry.

        It replaces aiolite's busy wait (``connect(busy_timeout=...)``), but is
        skipped once the request is cancelled or past its deadline. A sync
        handler that sleeps should sleep briefly and check
        :func:`aiolite.should_stop`. None restores aiolite's wait.
        """
        bridged = self._bridged(callable, "callable")
        core = self._core
        waiter = core.busy if bridged is None else BusyWaiter(core.engine, handler=bridged)
        await core.call(install_busy_handler, waiter)

    async def set_progress_handler(
        self, callable: Callable[[], Any] | None, nsteps: int = 100
    ) -> None:
        """``callable()`` about every ``nsteps`` SQLite steps; a true result aborts the statement.

        Chained after aiolite's own progress handler (which stops cancelled
        requests), so both keep working. None removes yours.
        """
        if not isinstance(nsteps, int) or nsteps < 1:
            raise ValueError(f"nsteps must be a positive int, not {nsteps!r}")
        bridged = self._bridged(callable, "callable")
        await self._core.call(_set_progress_handler, self._core.engine, bridged, nsteps)

    async def set_exec_trace(self, callable: Callable[[Any, str, Any], Any] | None) -> None:
        """``callable(cursor, sql, bindings)`` before each statement runs; false aborts it.

        aiolite's cursors keep their own tracer (it learns column names) and
        call this one from it.
        """
        await self._core.call(_set_attribute, "exec_trace", self._bridged(callable, "callable"))

    async def set_row_trace(self, callable: Callable[[Any, Any], Any] | None) -> None:
        """``callable(cursor, row)`` for each row; returns the row to deliver,
        or None to skip it."""
        await self._core.call(_set_attribute, "row_trace", self._bridged(callable, "callable"))

    async def trace_v2(
        self, mask: int, callback: Callable[[dict[str, Any]], Any] | None = None, *, id: Any = None
    ) -> None:
        """``sqlite3_trace_v2``: ``callback(event)`` for the ``apsw.SQLITE_TRACE_*`` in ``mask``."""
        await self._core.call(
            apsw.Connection.trace_v2, mask, self._bridged(callback, "callback"), id=id
        )

    async def set_profile(self, callable: Callable[[str, int], Any] | None) -> None:
        """``callable(sql, nanoseconds)`` after each statement finishes."""
        await self._core.call(apsw.Connection.set_profile, self._bridged(callable, "callable"))
