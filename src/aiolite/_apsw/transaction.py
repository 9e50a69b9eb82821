"""Transaction blocks: ``async with db:`` and ``db.transaction(mode)``.

A block begins a transaction, commits it if the block succeeds and rolls it
back if the block raises or is cancelled; a block inside a block is a
savepoint. While it is open, other tasks' requests wait at the connection's
gate (:mod:`aiolite._apsw.task_gate`); every request in it runs through the
connection's guard (:mod:`aiolite._apsw.guard`), which notices when SQLite
rolled the transaction back under the block.

Why ``"immediate"`` for blocks that write to a shared file: a ``deferred``
transaction starts as a reader and upgrades to a writer at its first write.
If another connection wrote in between, the upgrade fails with
``BusyError`` at once, without waiting for the busy timeout, because waiting
could not help (the reader's snapshot is already stale). ``BEGIN IMMEDIATE``
takes the write lock up front, where waiting does help.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import apsw

from .misuse import AsyncOnly

if TYPE_CHECKING:
    from types import TracebackType

    from .core import ConnectionCore
    from .guard import TransactionGuard
    from .task_gate import Hold

R = TypeVar("R")

TransactionMode = Literal["deferred", "immediate", "exclusive"]
_MODES = ("deferred", "immediate", "exclusive")

_savepoint_numbers = itertools.count(1)

_REQUEST_SAVEPOINT_SQL = "SAVEPOINT aiolite_request"
_REQUEST_RELEASE_SQL = "RELEASE aiolite_request"
_REQUEST_UNDO_SQL = "ROLLBACK TO aiolite_request; RELEASE aiolite_request"


def run_atomically(conn: apsw.Connection, fn: Callable[..., R], *args: Any) -> R:
    """Worker side: ``fn(conn, *args)`` all or nothing, in a savepoint of its own.

    Outside a transaction the savepoint is the transaction, so its work is
    also committed once (not once per statement). On failure or interruption
    it is undone: rolled back to the savepoint inside a transaction, or the
    whole transaction it began outside one. (An interrupted write inside a
    transaction may already have made SQLite roll back everything; the
    :class:`TransactionGuard` then reports the loss.) The pool's group commit
    has its own savepoint per write, for the same reason, because it also
    undoes a write whose caller was cancelled after it ran.
    """
    outer = conn.in_transaction
    conn.execute(_REQUEST_SAVEPOINT_SQL)
    try:
        result = fn(conn, *args)
        conn.execute(_REQUEST_RELEASE_SQL)
    except BaseException:
        if conn.in_transaction:
            if outer:
                conn.execute(_REQUEST_UNDO_SQL)
            else:  # (also when the RELEASE, i.e. the COMMIT, failed: no lock is kept)
                conn.execute("ROLLBACK")
        raise
    return result


def begin_in_worker(
    conn: apsw.Connection, guard: TransactionGuard, mode: str, savepoint: str, began: list[str]
) -> bool:
    """Begin the block; True if it is a savepoint (nested, or inside a manual BEGIN).

    ``began`` records what actually ran, for :func:`undo_begin_in_worker`. A
    block opened inside a lost transaction fails at once, like any request.
    """
    if guard.lost is not None:
        guard.refuse()
    if conn.in_transaction:
        conn.execute(f"SAVEPOINT {savepoint}")
        began.append(savepoint)
        guard.blocks.append(savepoint)
        return True
    conn.execute(f"BEGIN {mode}")
    guard.in_transaction = True
    began.append("")
    guard.blocks.append(savepoint)
    return False


def undo_begin_in_worker(
    conn: apsw.Connection, guard: TransactionGuard, began: list[str], name: str
) -> None:
    """Undo a begin whose caller never learned that it ran (it was cancelled meanwhile).

    Posted right after the begin request, so it runs after it: if the begin
    ran, its transaction (or savepoint) is rolled back; if the begin was
    skipped or failed, there is nothing to undo.
    """
    if name in guard.blocks:
        guard.blocks.remove(name)
    if began:
        _roll_back(conn, began[0] or None)
        guard.in_transaction = conn.in_transaction


def finish_in_worker(
    conn: apsw.Connection,
    guard: TransactionGuard,
    name: str,
    savepoint: str | None,
    commit: bool,
) -> None:
    """Commit or roll back the block; a failed commit rolls back before it raises.

    If the block's transaction was lost, there is nothing left to commit or
    roll back: a block ending normally raises the loss's error, and the block
    that began the transaction clears the loss (the connection is whole
    again). A savepoint block leaves it to the block or ``BEGIN`` around it.
    May run twice for one block (a commit that failed, then the rollback
    posted after it): the second run finds nothing to do.
    """
    try:
        if guard.lost is not None:
            try:
                if commit:
                    guard.refuse()
            finally:
                if name in guard.blocks:
                    guard.blocks.remove(name)
                    if savepoint is None:
                        guard.lost = None
            return
        if name in guard.blocks:
            guard.blocks.remove(name)
        if commit:
            try:
                conn.execute(f"RELEASE {savepoint}" if savepoint else "COMMIT")
            except BaseException:
                _roll_back(conn, savepoint)
                raise
        else:
            _roll_back(conn, savepoint)
    finally:
        guard.in_transaction = conn.in_transaction


def _roll_back(conn: apsw.Connection, savepoint: str | None) -> None:
    # SQLite may already have rolled the whole transaction back (an interrupted
    # write does that); then there is nothing left to undo.
    if not conn.in_transaction:
        return
    if savepoint is None:
        conn.execute("ROLLBACK")
        return
    with contextlib.suppress(apsw.SQLError):  # the savepoint went with an outer rollback
        conn.execute(f"ROLLBACK TO {savepoint}; RELEASE {savepoint}")


class Transaction(AsyncOnly):
    """One ``async with`` transaction block on a connection.

    >>> import asyncio, aiolite
    >>> async def main():
    ...     async with aiolite.connect(":memory:") as db:
    ...         await db.execute("CREATE TABLE acct(id, bal)")
    ...         await db.execute("INSERT INTO acct VALUES (1, 10), (2, 0)")
    ...         async with db.transaction("immediate"):
    ...             await db.execute("UPDATE acct SET bal = bal - 3 WHERE id = 1")
    ...             await db.execute("UPDATE acct SET bal = bal + 3 WHERE id = 2")
    ...         return await (await db.execute("SELECT bal FROM acct ORDER BY id")).get
    >>> asyncio.run(main())
    [7, 3]
    """

    __slots__ = ("_core", "_hold", "_mode", "_name", "_savepoint")

    def __init__(self, core: ConnectionCore, mode: TransactionMode = "deferred") -> None:
        if mode not in _MODES:
            raise ValueError(f"transaction mode must be one of {_MODES}, not {mode!r}")
        self._core = core
        self._mode = mode
        self._hold: Hold | None = None
        self._savepoint: str | None = None
        self._name = ""

    async def __aenter__(self) -> Transaction:
        core = self._core
        engine = core.engine
        guard = core.guard
        name = self._name = f"aiolite_{next(_savepoint_numbers)}"
        self._hold = await core.gate.enter()
        began: list[str] = []
        try:
            if await engine.submit(begin_in_worker, guard, self._mode, name, began):
                self._savepoint = name
        except BaseException:
            # Cancelled (or timed out) while the BEGIN was in flight: it may have
            # run all the same, and a transaction left open would swallow every
            # later block on this connection as a never-committed savepoint.
            engine.post(undo_begin_in_worker, guard, began, name)
            self._release()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        engine = self._core.engine
        finish = (self._core.guard, self._name, self._savepoint)
        try:
            if exc_type is None:
                try:
                    await engine.submit(finish_in_worker, *finish, True)
                except BaseException:
                    # Cancelled before the commit ran, or it failed: leave no
                    # transaction open behind us, whatever happened.
                    engine.post(finish_in_worker, *finish, False)
                    raise
            else:
                with self._core.adapter.shield():
                    await engine.submit(finish_in_worker, *finish, False, cancellable=False)
        finally:
            self._release()

    def __repr__(self) -> str:
        if self._name not in self._core.guard.blocks:  # (a snapshot of the worker's list)
            state = "not open"
        else:
            state = f"open, savepoint {self._savepoint}" if self._savepoint else "open"
        return f"<aiolite.Transaction {self._mode} on {self._core.describe()} {state}>"

    def _release(self) -> None:
        hold, self._hold = self._hold, None
        if hold is not None:
            self._core.gate.leave(hold)
