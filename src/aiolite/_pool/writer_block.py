"""A ``pool.writer()`` block: the writer alone, in one ``BEGIN IMMEDIATE`` transaction.

Which contexts are inside a block is a context variable, so the pool calls
that the block's task makes (or tasks it starts) join its transaction
instead of queueing behind it, which would wait for ever: a pool write there
runs in the block's transaction, all or nothing, and a read runs on the
writer and sees the block's own uncommitted changes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import apsw

from .._apsw import Connection, ConnectionCore, Execution, execute_in_worker, run_atomically
from .._errors import PoolTimeout
from .group_commit import WriteResult
from .write_queue import LOCK_HELD

_IN_WRITER_BLOCK = "a pool write inside 'pool.writer()' (the block is the transaction)"

_held: ContextVar[frozenset[int]] = ContextVar("aiolite pool writer blocks", default=frozenset())
"""Keys (``id(pool)``) of the pools whose writer block this context is inside."""


def holds_writer(pool_key: int) -> bool:
    """True inside a writer block of the pool ``pool_key`` (or a task started in one)."""
    return pool_key in _held.get()


@asynccontextmanager
async def writer_transaction(
    conn: Connection[Any], pool_key: int, on_busy: Callable[[], None]
) -> AsyncIterator[Connection[Any]]:
    """The block's transaction on the writer ``conn``, whose turn the caller holds.

    Commits when the block ends, rolls back if it raises or is cancelled.
    If another process holds the file's write lock past ``busy_timeout``,
    calls ``on_busy()`` and raises :class:`PoolTimeout`.
    """
    try:
        transaction = conn.transaction("immediate")
        await transaction.__aenter__()
    except apsw.BusyError as exc:
        on_busy()
        raise PoolTimeout(LOCK_HELD) from exc
    token = _held.set(_held.get() | {pool_key})
    try:
        yield conn
    except BaseException as exc:
        _held.reset(token)
        await transaction.__aexit__(type(exc), exc, exc.__traceback__)
        raise
    _held.reset(token)
    await transaction.__aexit__(None, None, None)


async def write_in_block(core: ConnectionCore, sql: str, bindings: Any, many: bool) -> WriteResult:
    """A pool write inside the block: part of the block's transaction.

    No ``on_commit`` hook runs: the block may still roll back. Transaction
    control is refused: the block begins and ends the transaction.
    """

    def run(conn: apsw.Connection) -> WriteResult:
        before = conn.total_changes()
        execution = Execution(core.row_factory, core.engine.abandon_inline, _IN_WRITER_BLOCK)
        rows, _ = execute_in_worker(conn, execution, sql, bindings, many, None)
        return WriteResult(rows, conn.total_changes() - before, conn.last_insert_rowid())

    # All or nothing, like a group-committed write: a failing script or
    # executemany leaves none of its statements in the block's transaction.
    result: WriteResult = await core.call(run_atomically, run)
    return result
