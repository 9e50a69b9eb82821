"""Layer 4: one writer and N readers on one WAL database, for many concurrent tasks.

Why this shape: SQLite has one writer at a time per file, however many
connections try; with WAL, readers never wait for it. So the pool keeps
exactly one writer connection (no "database is locked" between this
process's own writes), N query-only reader connections that really run in
parallel (each has its own worker thread, and SQLite releases the GIL while
it works), and gathers concurrent single-statement writes into group
commits (:mod:`aiolite._pool.write_queue` and :mod:`aiolite._pool.group_commit`).

Waiting is bounded: a writer block, a reader block or a queued write that
cannot get its connection within ``acquire_timeout`` fails with
:class:`PoolTimeout`, and so does a write that waited out ``busy_timeout``
for another *process* to release the file's write lock. Plain reads
(``fetchall``/``fetchone``) do not wait for a reader that is merely busy
(:mod:`aiolite._pool.readers`); when blocks hold every reader they wait,
like a block, up to ``acquire_timeout``.

Durability: the contract says a write is durable when it returns, so the
default is ``synchronous="FULL"``: the WAL is fsynced at every commit (one
fsync shared by a whole group commit), and a returned write survives a power
cut or OS crash. Surviving the *process* being killed needs no fsync at all:
once COMMIT returns its WAL frames belong to the operating system, so that
holds at every level, OFF included (``tests/stress/test_crash_safety.py``).
``"NORMAL"`` keeps the database intact through a power cut but may lose the
commits since the WAL's last sync (``tests/stress/test_faults.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from math import inf
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Self, TypeVar

import apsw

from .. import _logging
from .._apsw import AsyncOnly, Bindings, Connection, core_of
from .._errors import ConnectionClosedError, PoolTimeout
from .group_commit import WriteResult, check_statement
from .readers import Readers, fetch, fetch_shared
from .turns import Turn, TurnQueue
from .write_queue import WriteQueue
from .writer_block import holds_writer, write_in_block, writer_transaction

if TYPE_CHECKING:
    from types import TracebackType

    from .._frameworks import Event, FrameworkAdapter


RowT = TypeVar("RowT")


@dataclass(frozen=True, slots=True)
class PoolStats:
    """A snapshot of what a pool is doing (``pool.stats()``).

    ``commits`` counts group commits, ``writes`` the group-committed writes
    that succeeded (so ``writes / commits`` is the average batch size);
    ``timeouts`` counts :class:`PoolTimeout` errors raised.
    """

    readers: int
    readers_checked_out: int
    reads_in_flight: int
    writer_busy: bool
    writes_queued: int
    writer_waiters: int
    commits: int
    writes: int
    failed_writes: int
    reads: int
    timeouts: int
    closed: bool


class Pool(AsyncOnly, Generic[RowT]):
    """One writer and N reader connections to one database file.

    Made by :func:`aiolite.open_pool`; use it with ``async with``. Its rows
    are shaped by ``open_pool``'s ``row_factory``, and typed after it
    (``Pool[User]`` for ``row_factory=User``).

    >>> import asyncio, aiolite, tempfile, os
    >>> async def main(path):
    ...     async with aiolite.open_pool(path, readers=2) as pool:
    ...         await pool.execute("CREATE TABLE t(x)")
    ...         inserts = [pool.execute("INSERT INTO t VALUES(?)", (i,)) for i in range(10)]
    ...         await asyncio.gather(*inserts)  # group-committed
    ...         return await pool.fetchone("SELECT count(*), sum(x) FROM t")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     asyncio.run(main(os.path.join(folder, "app.db")))
    (10, 45)
    """

    def __init__(
        self,
        writer: Connection[RowT],
        readers: list[Connection[RowT]],
        acquire_timeout: float,
        close_timeout: float,
    ) -> None:
        self._writer = writer
        self._writer_core = core_of(writer)
        self._adapter: FrameworkAdapter = self._writer_core.adapter
        self._readers = Readers(readers)
        self._gate = TurnQueue(1)  # the writer: a writer block or a group-commit batch
        self._queue = WriteQueue(writer, self._gate, acquire_timeout)
        self.close_timeout = close_timeout
        self._active = 0
        self._idle: Event | None = None
        # The close, one job in three steps whose progress survives a
        # cancelled close(): draining (closing, not stopping), stopping, closed.
        self._closing = False
        self._close_deadline = inf  # loop clock: the earliest any close() asked for
        self._stopping = False
        self._closed = False
        self._writer_core.engine.call_when_gone(self._queue.closer_for_writer())
        self._reads = self._timeouts = 0
        self.path: str = writer.filename
        """The database file's full path ("" for an in-memory pool)."""

    @property
    def acquire_timeout(self) -> float:
        """Seconds a call may wait for a connection in this process (``inf``: no limit)."""
        return self._queue.timeout

    @acquire_timeout.setter
    def acquire_timeout(self, seconds: float) -> None:
        self._queue.timeout = seconds

    # ------------------------------------------------------------------- reads

    async def fetchall(self, sql: str, bindings: Bindings = None) -> list[RowT]:
        """All rows of a query, run on the least busy reader (one round trip).

        Inside this task's ``pool.writer()`` block it runs on the writer, so
        it sees the block's own uncommitted changes.
        """
        return await self._read(sql, bindings, 1 << 40)

    async def fetchone(self, sql: str, bindings: Bindings = None) -> RowT | None:
        """The first row of a query, or None."""
        rows = await self._read(sql, bindings, 1)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, bindings: Bindings = None) -> Any:
        """The first column of the first row, or None when there are no rows."""
        rows: list[Any] = await self._read(sql, bindings, 1)
        return rows[0][0] if rows else None

    async def _read(self, sql: str, bindings: Bindings, limit: int) -> list[RowT]:
        if not isinstance(sql, str):
            raise TypeError(f"SQL must be a str, not {type(sql).__name__}")
        self._enter()
        try:
            if holds_writer(id(self)):  # in this task's writer block: its own transaction
                return await fetch(self._writer, sql, bindings, limit)
            if not self._readers.all:
                return await fetch_shared(self._writer, sql, bindings, limit)
            reader = self._readers.for_read()
            if reader is None:
                # Every reader is some block's alone. A read run between that
                # block's requests would share the snapshot its open cursor
                # holds, and miss writes its own task saw committed: wait.
                async with self.reader() as conn:
                    rows = await fetch_shared(conn, sql, bindings, limit)
                self._reads += 1
                return rows
            reader.in_flight += 1
            try:
                rows = await fetch_shared(reader.conn, sql, bindings, limit)
            finally:
                reader.in_flight -= 1
            self._reads += 1
            return rows
        finally:
            self._leave()

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[Connection[RowT]]:
        """A read-only reader connection for this block alone.

        It refuses writes, ATTACH and pragmas that set a value with
        :class:`~aiolite.ReaderReadOnlyError`: later callers share it.

        Use it for several queries on one snapshot (``async with db:`` inside
        makes them one read transaction). Waits at most ``acquire_timeout``
        for a reader when other blocks hold them all. An in-memory pool (or
        ``readers=0``) has no readers: the block gets the writer, exclusively.
        """
        if not self._readers.all:
            async with self._writer_turn() as conn:
                yield conn
            return
        async with self._turn(self._readers.slots, "a reader connection"):
            with self._readers.check_out() as conn:
                yield conn

    # ------------------------------------------------------------------ writes

    async def execute(self, sql: str, bindings: Bindings = None) -> WriteResult:
        """Run a write on the writer, group-committed with concurrent writes.

        Returns after the commit that holds it. A failing statement raises
        here and leaves the other writes of its batch alone. Inside this
        task's ``pool.writer()`` block it joins that block's transaction.
        """
        return await self._write(sql, bindings, False, None)

    async def executemany(self, sql: str, sequenceofbindings: Iterable[Bindings]) -> WriteResult:
        """``execute`` once per item of ``sequenceofbindings``: all of them or none."""
        return await self._write(sql, sequenceofbindings, True, None)

    async def _write(
        self, sql: str, bindings: Any, many: bool, on_commit: Callable[[], None] | None
    ) -> WriteResult:
        if not isinstance(sql, str):
            raise TypeError(f"SQL must be a str, not {type(sql).__name__}")
        if holds_writer(id(self)):
            return await write_in_block(self._writer_core, sql, bindings, many)
        check_statement(sql)
        self._enter()
        try:
            return await self._queue.write(sql, bindings, many, on_commit)
        finally:
            self._leave()

    @asynccontextmanager
    async def writer(self) -> AsyncIterator[Connection[RowT]]:
        """The writer connection, exclusively, in a ``BEGIN IMMEDIATE`` transaction.

        The block commits when it ends and rolls back if it raises or is
        cancelled. Waits at most ``acquire_timeout`` for the writer (and for
        another process's write lock), then raises :class:`PoolTimeout`.
        ``pool.execute`` and the ``pool.fetch*`` methods called inside the
        block run in its transaction.
        """
        async with (
            self._writer_turn() as conn,
            writer_transaction(conn, id(self), self._count_timeout) as block,
        ):
            yield block

    @asynccontextmanager
    async def _writer_turn(self) -> AsyncIterator[Connection[RowT]]:
        if holds_writer(id(self)):
            raise RuntimeError("this task already holds the pool's writer; blocks do not nest")
        try:
            async with self._turn(self._gate, "the writer"):
                yield self._writer
        finally:
            self._queue.schedule()  # writes that queued behind the block

    @asynccontextmanager
    async def _turn(self, queue: TurnQueue, what: str) -> AsyncIterator[None]:
        """Hold a place of ``queue`` for the block, waiting at most ``acquire_timeout``."""
        self._enter()
        try:
            event = self._adapter.event()
            turn = Turn(event.set)
            queue.request(turn)
            try:
                await self._wait_turn(turn, event, what)
                yield
            finally:
                queue.withdraw(turn)
        finally:
            self._leave()

    async def _wait_turn(self, turn: Turn, event: Event, what: str) -> None:
        if turn.granted:
            return
        timeout = self.acquire_timeout
        if not await self._adapter.wait_event(event, timeout) and not turn.granted:
            self._timeouts += 1
            raise PoolTimeout(f"waited more than acquire_timeout={timeout} s for {what}")

    def request_checkpoint(self) -> None:
        """Ask the writer's thread for a passive WAL checkpoint (never waits)."""
        if not self._writer.closed:
            self._writer_core.engine.post(_checkpoint)

    def holds_writer(self) -> bool:
        """True inside this task's ``pool.writer()`` block (or a task started in it)."""
        return holds_writer(id(self))

    def _count_timeout(self) -> None:
        self._timeouts += 1

    def _writer_idle(self) -> bool:
        self._adapter.check_loop()
        return (
            self._gate.held == 0
            and not self._queue.pending
            and not self._closing
            and not holds_writer(id(self))
        )

    # ------------------------------------------------------------- bookkeeping

    def stats(self) -> PoolStats:
        """What the pool is doing now, and counters since it opened."""
        queue = self._queue
        return PoolStats(
            readers=len(self._readers.all),
            readers_checked_out=self._readers.checked_out,
            reads_in_flight=self._readers.in_flight,
            writer_busy=self._gate.held > 0,
            writes_queued=len(queue.pending),
            writer_waiters=self._gate.waiting,
            commits=queue.commits,
            writes=queue.writes,
            failed_writes=queue.failed,
            reads=self._reads,
            timeouts=self._timeouts + queue.timeouts,
            closed=self._closed,
        )

    @property
    def closed(self) -> bool:
        return self._closing

    @property
    def writer_connection(self) -> Connection[RowT]:
        """The writer connection itself (for settings; write through the pool)."""
        return self._writer

    def _enter(self) -> None:
        self._adapter.check_loop()
        if self._closing and not holds_writer(id(self)):
            raise ConnectionClosedError("the pool is closed")
        self._active += 1

    def _leave(self) -> None:
        self._active -= 1
        if self._active == 0 and self._idle is not None:
            idle, self._idle = self._idle, None
            idle.set()

    async def close(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Close every connection, after waiting (bounded) for work in flight.

        New calls fail with ``ConnectionClosedError`` at once. Work already
        running or queued gets up to ``timeout`` seconds (default
        ``close_timeout``) to finish; whatever is still unfinished then fails
        with ``ConnectionClosedError`` (running statements are stopped inside
        SQLite, open transactions rolled back). Idempotent.

        A close that is itself cancelled (a shutdown handler's own timeout,
        say) leaves the job where it got to, and the next ``close()``
        carries on from there: it waits no later than the first one would
        have (the earliest deadline any close asked for wins), then stops
        what is left. Once any close has begun stopping the connections, a
        cancellation no longer matters: their worker threads close them and
        exit on their own, and writes still waiting fail. ``stats().closed``
        turns True when a close has seen every worker thread end.
        """
        if self._closed:
            return
        self._adapter.check_loop()  # a refused close changes nothing
        limit = self.close_timeout if timeout is None else timeout
        self._close_deadline = min(self._close_deadline, self._adapter.now() + limit)
        self._closing = True
        if not self._stopping:
            await self._wait_idle()  # the one step a cancellation may interrupt half way
            self._stop()
        with self._adapter.shield():
            errors: list[BaseException] = []
            for conn in self._connections():
                try:
                    await conn.close()  # resumable: waits for the worker begun above
                except Exception as exc:
                    errors.append(exc)
            self._queue.close()
            self._closed = True
        if errors:
            raise errors[0]

    async def _wait_idle(self) -> None:
        """Give work in flight until the close deadline to finish."""
        while self._active:
            remaining = self._close_deadline - self._adapter.now()
            if remaining <= 0:
                return
            if self._idle is None:
                self._idle = self._adapter.event()
            await self._adapter.wait_event(self._idle, remaining)

    def _stop(self) -> None:
        """Begin closing every connection, at once and without an await in between.

        Past this point nothing depends on the closer: each worker stops what
        it runs, rolls back, closes and exits by itself, and the writer's
        exit fails the writes it will never run (``WriteQueue.closer_for_writer``).
        """
        self._stopping = True
        for conn in self._connections():
            core_of(conn).engine.begin_close()

    def _connections(self) -> tuple[Connection[Any], ...]:
        return (self._writer, *(reader.conn for reader in self._readers.all))

    aclose = close

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._adapter.shield():
            await self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closing", True):  # (True: __init__ never got that far)
            path = getattr(self, "path", "") or ":memory:"
            _logging.unclosed(_logging.pool, f"pool on {path!r}")

    def __repr__(self) -> str:
        state = "closed" if self._closing else "open"
        readers = len(self._readers.all)
        return f"<aiolite.Pool {self.path or ':memory:'!r} readers={readers} {state}>"


P = ParamSpec("P")
R = TypeVar("R")


class PoolCore:
    """What the KV store (layer 5) may ask of a pool beyond its public API.

    A write with a hook run right after the commit that holds it, whether
    the writer is free for a write made outside the pool, a call in one of
    its worker threads, and the framework adapter: so the KV store needs
    none of the pool's private attributes, nor its connections.
    Get it with :func:`core_of_pool`.
    """

    __slots__ = ("_pool",)

    def __init__(self, pool: Pool[Any]) -> None:
        self._pool = pool

    @property
    def adapter(self) -> FrameworkAdapter:
        """The adapter of the loop the pool belongs to."""
        return self._pool._adapter

    def write(
        self, sql: str, bindings: Any, many: bool, on_commit: Callable[[], None] | None
    ) -> Coroutine[Any, Any, WriteResult]:
        """``pool.execute``/``executemany``, calling ``on_commit()`` after the commit.

        The hook runs on the loop thread, before any later write's caller
        hears of its own; inside this task's writer block the write joins
        the block's transaction and the hook is not called (it may roll back).
        (The pool's own coroutine, not one wrapping it: one frame less per write.)
        """
        return self._pool._write(sql, bindings, many, on_commit)

    async def call(
        self,
        fn: Callable[Concatenate[apsw.Connection, P], R],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """``fn(sync_connection, *args)`` in a worker thread of the pool, never on the loop's.

        Inside this task's writer block it runs on the writer (so it sees the
        block's own changes); otherwise on a reader checked out for the one
        call, so that it never runs as a proven tiny read on the loop thread.
        """
        pool = self._pool
        if holds_writer(id(pool)):
            return await core_of(pool._writer).call(fn, *args, **kwargs)
        async with pool.reader() as conn:
            return await core_of(conn).call(fn, *args, **kwargs)

    def writer_idle(self) -> bool:
        """May a write commit on the loop thread, outside the pool, now?

        Only when nothing in this process is writing or waiting to write, so
        such a write is never reordered against any write of this pool.
        """
        return self._pool._writer_idle()


def core_of_pool(pool: Pool[Any]) -> PoolCore:
    """The internal interface of ``pool`` for the KV store.

    A new small object each time, not one the pool keeps: a pool referring
    to it would be a reference cycle, and a pool dropped unclosed would then
    keep its worker threads until the garbage collector ran.
    """
    return PoolCore(pool)


def _checkpoint(conn: apsw.Connection) -> None:
    if not conn.in_transaction:
        conn.wal_checkpoint(mode=apsw.SQLITE_CHECKPOINT_PASSIVE)
