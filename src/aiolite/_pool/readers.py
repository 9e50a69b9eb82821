"""The pool's reader connections: which one serves a read, and reader blocks' bookkeeping.

Plain reads (``pool.fetch*``) do not wait for a reader that is merely busy:
they queue on the least busy one, whose worker runs them back to back. A
``pool.reader()`` block takes one reader for itself alone: no plain read
runs on it meanwhile (a read between the block's requests would share the
snapshot its open cursor holds), and it skips readers with reads queued.
Waiting for a reader when blocks hold them all is the pool's business
(:class:`~aiolite._pool.turns.TurnQueue`, bounded by ``acquire_timeout``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any

import apsw

from .._apsw import Bindings, Connection, core_of
from .._errors import TransactionControlError
from .group_commit import check_statement
from .turns import TurnQueue

_reader_held: ContextVar[tuple[PoolReader, ...]] = ContextVar(
    "aiolite pool reader blocks", default=()
)
"""The readers whose ``pool.reader()`` block this context is inside."""


class PoolReader:
    """One reader connection and how busy it is."""

    __slots__ = ("checked_out", "conn", "in_flight")

    def __init__(self, conn: Connection[Any]) -> None:
        self.conn = conn
        self.in_flight = 0  # plain reads queued on it or running
        self.checked_out = False  # a reader block holds it


class Readers:
    """A pool's N reader connections, and the turns of the blocks that take one alone."""

    __slots__ = ("all", "slots")

    def __init__(self, conns: list[Connection[Any]]) -> None:
        self.all = [PoolReader(conn) for conn in conns]
        self.slots = TurnQueue(len(conns))
        """A place for each reader: a ``pool.reader()`` block waits for one."""

    def for_read(self) -> PoolReader | None:
        """The reader a plain read runs on, or None if blocks hold every reader.

        This task's own reader block's reader if it is inside one (the read
        then sees the block's snapshot), else the least busy reader.
        """
        own = [reader for reader in _reader_held.get() if reader in self.all]
        if own:
            return own[-1]
        reader = min(self.all, key=_load)
        return None if reader.checked_out else reader

    @contextmanager
    def check_out(self) -> Iterator[Connection[Any]]:
        """Once a block has its turn: the least busy free reader, for the block alone.

        The least busy: plain reads queued on a reader would otherwise hold
        up the block (all of them, behind a long scan).
        """
        reader = min((r for r in self.all if not r.checked_out), key=_load)
        reader.checked_out = True
        token = _reader_held.set((*_reader_held.get(), reader))
        try:
            yield reader.conn
        finally:
            with suppress(ValueError):  # finalized outside its task (a loop closed by hand)
                _reader_held.reset(token)
            # A raw BEGIN left open in the block would pin this reader's
            # snapshot for every later caller; queued ahead of them all.
            # (It also forgets a loss of that transaction: nobody is left to see it.)
            core_of(reader.conn).forget_lost_transaction()
            reader.checked_out = False

    @property
    def checked_out(self) -> int:
        return sum(reader.checked_out for reader in self.all)

    @property
    def in_flight(self) -> int:
        return sum(reader.in_flight for reader in self.all)


async def fetch(conn: Connection[Any], sql: str, bindings: Bindings, limit: int) -> list[Any]:
    """Up to ``limit`` rows of ``sql``: one trip to the worker, or none for a tiny read."""
    return await core_of(conn).first_batch(sql, bindings, limit)


async def fetch_shared(
    conn: Connection[Any], sql: str, bindings: Bindings, limit: int
) -> list[Any]:
    """``fetch`` on a connection other callers share: it must not be left in a transaction.

    A ``BEGIN`` left open on a reader would pin its snapshot (every later read
    there would miss every later commit); on the writer of a reader-less pool
    it would break the next group commit. A text that starts with transaction
    control is refused before it runs; one that holds several statements (a
    later one might) is checked after it ran, which costs a trip only then.
    """
    check_statement(sql)
    if ";" not in sql:
        return await fetch(conn, sql, bindings, limit)
    error: Exception | None = None
    try:
        rows = await fetch(conn, sql, bindings, limit)
    except Exception as exc:  # a later statement failed: an earlier one may have begun one
        error = exc
    if await core_of(conn).call(_end_transaction):
        raise TransactionControlError(
            "a pool read may not begin a transaction: use 'async with pool.reader() as db'"
        ) from error
    if error is not None:
        raise error
    return rows


def _end_transaction(conn: apsw.Connection) -> bool:
    """Worker side: roll back a transaction the statement left open; True if there was one."""
    if conn.get_autocommit():
        return False
    conn.execute("ROLLBACK")
    return True


def _load(reader: PoolReader) -> tuple[bool, int]:
    return reader.checked_out, reader.in_flight
