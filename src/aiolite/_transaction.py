"""Transaction blocks, and keeping other tasks out of them.

``async with db:`` (or ``db.transaction(mode)``) begins a transaction, commits
it if the block succeeds and rolls it back if the block raises or is
cancelled; a block inside a block is a savepoint.

A connection has one transaction, and tasks sharing the connection would
otherwise run their statements inside whichever transaction happens to be
open. So while a block is open, requests from other tasks wait until it ends.
"Inside the block" is carried by a context variable: the task that opened the
block, and tasks it starts from inside it (which copy its context), pass;
everyone else waits.

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
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any, Literal

import apsw

if TYPE_CHECKING:
    from types import TracebackType

    from ._connection import Connection

TransactionMode = Literal["deferred", "immediate", "exclusive"]
_MODES = ("deferred", "immediate", "exclusive")

held_transactions: ContextVar[frozenset[object]] = ContextVar(
    "aiolite transactions held", default=frozenset()
)
"""Ownership tokens of the transaction blocks this context is inside."""

_savepoint_numbers = itertools.count(1)


def begin_in_worker(conn: apsw.Connection, mode: str, savepoint: str, began: list[str]) -> bool:
    """Begin the block; True if it is a savepoint (nested, or inside a manual BEGIN).

    ``began`` records what actually ran, for :func:`undo_begin_in_worker`.
    """
    if conn.in_transaction:
        conn.execute(f"SAVEPOINT {savepoint}")
        began.append(savepoint)
        return True
    conn.execute(f"BEGIN {mode}")
    began.append("")
    return False


def undo_begin_in_worker(conn: apsw.Connection, began: list[str]) -> None:
    """Undo a begin whose caller never learned that it ran (it was cancelled meanwhile).

    Posted right after the begin request, so it runs after it: if the begin
    ran, its transaction (or savepoint) is rolled back; if the begin was
    skipped or failed, there is nothing to undo.
    """
    if began:
        _roll_back(conn, began[0] or None)


def finish_in_worker(conn: apsw.Connection, savepoint: str | None, commit: bool) -> None:
    """Commit or roll back the block; a failed commit rolls back before it raises."""
    if commit:
        try:
            conn.execute(f"RELEASE {savepoint}" if savepoint else "COMMIT")
        except BaseException:
            _roll_back(conn, savepoint)
            raise
    else:
        _roll_back(conn, savepoint)


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


class Transaction:
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

    __slots__ = ("_connection", "_held_reset", "_mode", "_owner", "_savepoint")

    def __init__(self, connection: Connection[Any], mode: TransactionMode = "deferred") -> None:
        if mode not in _MODES:
            raise ValueError(f"transaction mode must be one of {_MODES}, not {mode!r}")
        self._connection = connection
        self._mode = mode
        self._owner: object | None = None
        self._held_reset: Token[frozenset[object]] | None = None
        self._savepoint: str | None = None

    async def __aenter__(self) -> Transaction:
        connection = self._connection
        engine = connection._engine
        name = f"aiolite_{next(_savepoint_numbers)}"
        if not connection._in_own_transaction():
            self._owner = await connection._acquire_transaction()
            self._held_reset = held_transactions.set(held_transactions.get() | {self._owner})
        began: list[str] = []
        try:
            if await engine.submit(begin_in_worker, self._mode, name, began):
                self._savepoint = name
        except BaseException:
            # Cancelled (or timed out) while the BEGIN was in flight: it may have
            # run all the same, and a transaction left open would swallow every
            # later block on this connection as a never-committed savepoint.
            engine.post(undo_begin_in_worker, began)
            self._release()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        engine = self._connection._engine
        try:
            if exc_type is None:
                try:
                    await engine.submit(finish_in_worker, self._savepoint, True)
                except BaseException:
                    # Cancelled before the commit ran, or it failed: leave no
                    # transaction open behind us, whatever happened.
                    engine.post(finish_in_worker, self._savepoint, False)
                    raise
            else:
                with engine.adapter.shield():
                    await engine.submit(finish_in_worker, self._savepoint, False, cancellable=False)
        finally:
            self._release()

    def _release(self) -> None:
        if self._owner is not None:
            if self._held_reset is not None:
                held_transactions.reset(self._held_reset)
            self._connection._release_transaction(self._owner)
            self._owner = None
