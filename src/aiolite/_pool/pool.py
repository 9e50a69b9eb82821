"""Layer 4: one writer and N readers on one WAL database, for many concurrent tasks.

Why this shape: SQLite has one writer at a time per file, however many
connections try; with WAL, readers never wait for it. So the pool keeps
exactly one writer connection (no "database is locked" between this
process's own writes), N query-only reader connections that really run in
parallel (each has its own worker thread, and SQLite releases the GIL while
it works), and gathers concurrent single-statement writes into group
commits (see :mod:`aiolite._pool.group_commit`).

Waiting is bounded: a writer block, a reader block or a queued write that
cannot get its connection within ``acquire_timeout`` fails with
:class:`PoolTimeout`, and so does a write that waited out ``busy_timeout``
for another *process* to release the file's write lock. Plain reads
(``fetchall``/``fetchone``) do not wait for a reader that is merely busy:
they queue on the least busy one, whose worker runs them back to back. They
never run on a reader a ``pool.reader()`` block holds (a read between the
block's requests would share its open cursor's snapshot), so when blocks
hold every reader they wait, like a block, up to ``acquire_timeout``.

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

import asyncio
import os
import weakref
from collections.abc import AsyncIterator, Generator, Iterable
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from math import inf
from typing import TYPE_CHECKING, Any, Literal, Self, TypeAlias

import apsw

from .._apsw.connection import Bindings, Connection, core_of, open_connection
from .._apsw.cursor import Statement, execute_in_worker
from .._apsw.opening import SetUp
from .._apsw.transaction import run_atomically
from .._errors import ConnectionClosedError, TransactionControlError
from .group_commit import (
    DONE,
    QUEUED,
    RUNNING,
    Batch,
    WriteJob,
    WriteResult,
    check_statement,
    finish_batch,
    run_batch,
)
from .turns import FutureEvent, PoolTimeout, Turn, TurnQueue, wait_event

if TYPE_CHECKING:
    from types import TracebackType

    from .._apsw.rows import RowFactory
    from .._frameworks._base import Event, FrameworkAdapter

Synchronous: TypeAlias = Literal["OFF", "NORMAL", "FULL", "EXTRA"]

_MAX_BATCH = 1024
"""Most writes in one group commit; more wait for the next (keeps each batch's latency bounded)."""

_IN_WRITER_BLOCK = "a pool write inside 'pool.writer()' (the block is the transaction)"

_writer_held: ContextVar[frozenset[int]] = ContextVar(
    "aiolite pool writer blocks", default=frozenset()
)
"""ids of the pools whose writer block this context is inside."""

_reader_held: ContextVar[tuple[_Reader, ...]] = ContextVar("aiolite pool reader blocks", default=())
"""The readers whose ``pool.reader()`` block this context is inside."""


def _is_memory(path: str) -> bool:
    return path in ("", ":memory:") or (path.startswith("file:") and "mode=memory" in path)


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


class _Reader:
    __slots__ = ("checked_out", "conn", "in_flight")

    def __init__(self, conn: Connection[Any]) -> None:
        self.conn = conn
        self.in_flight = 0
        self.checked_out = False


async def _fetch(conn: Connection[Any], sql: str, bindings: Bindings, limit: int) -> list[Any]:
    """Up to ``limit`` rows of ``sql``: one trip to the worker, or none for a tiny read."""
    return await core_of(conn).first_batch(sql, bindings, limit)


async def _fetch_shared(
    conn: Connection[Any], sql: str, bindings: Bindings, limit: int
) -> list[Any]:
    """``_fetch`` on a connection other callers share: it must not be left in a transaction.

    A ``BEGIN`` left open on a reader would pin its snapshot (every later read
    there would miss every later commit); on the writer of a reader-less pool
    it would break the next group commit. A text that starts with transaction
    control is refused before it runs; one that holds several statements (a
    later one might) is checked after it ran, which costs a trip only then.
    """
    check_statement(sql)
    if ";" not in sql:
        return await _fetch(conn, sql, bindings, limit)
    error: Exception | None = None
    try:
        rows = await _fetch(conn, sql, bindings, limit)
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


class Pool:
    """One writer and N reader connections to one database file.

    Made by :func:`aiolite.open_pool`; use it with ``async with``.

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
        writer: Connection[Any],
        readers: list[Connection[Any]],
        acquire_timeout: float,
        close_timeout: float,
    ) -> None:
        self._writer = writer
        self._readers = [_Reader(conn) for conn in readers]
        self._writer_core = core_of(writer)
        self._adapter: FrameworkAdapter = self._writer_core.engine.adapter
        self.acquire_timeout = acquire_timeout
        self.close_timeout = close_timeout
        self._gate = TurnQueue(1)  # the writer: a writer block or a group-commit batch
        self._reader_slots = TurnQueue(len(readers))
        self._pending: list[WriteJob] = []
        self._batch_turn: Turn | None = None  # queued or running
        self._batches_in_flight: list[Batch] = []
        self._active = 0
        self._idle: Event | None = None
        self._closing = False
        self._closed = False
        self._loop = asyncio.get_running_loop() if self._adapter.name == "asyncio" else None
        self._sweeper: asyncio.TimerHandle | None = None
        self._commits = self._writes = self._failed = self._reads = self._timeouts = 0
        self.path: str = writer.filename
        """The database file's full path ("" for an in-memory pool)."""

    # ------------------------------------------------------------------- reads

    async def fetchall(self, sql: str, bindings: Bindings = None) -> list[Any]:
        """All rows of a query, run on the least busy reader (one round trip).

        Inside this task's ``pool.writer()`` block it runs on the writer, so
        it sees the block's own uncommitted changes.
        """
        return await self._read(sql, bindings, 1 << 40)

    async def fetchone(self, sql: str, bindings: Bindings = None) -> Any:
        """The first row of a query, or None."""
        rows = await self._read(sql, bindings, 1)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, bindings: Bindings = None) -> Any:
        """The first column of the first row, or None when there are no rows."""
        rows = await self._read(sql, bindings, 1)
        return rows[0][0] if rows else None

    async def _read(self, sql: str, bindings: Bindings, limit: int) -> list[Any]:
        if not isinstance(sql, str):
            raise TypeError(f"SQL must be a str, not {type(sql).__name__}")
        self._enter()
        try:
            if self._holds_writer():  # in this task's writer block: its own transaction
                return await _fetch(self._writer, sql, bindings, limit)
            if not self._readers:
                return await _fetch_shared(self._writer, sql, bindings, limit)
            reader = min(self._readers, key=_load)
            own = [r for r in _reader_held.get() if r in self._readers]
            if own:  # in this task's reader block: its own connection
                reader = own[-1]
            elif reader.checked_out:
                # Every reader is some block's alone. A read run between that
                # block's requests would share the snapshot its open cursor
                # holds, and miss writes its own task saw committed: wait.
                async with self.reader() as conn:
                    rows = await _fetch_shared(conn, sql, bindings, limit)
                self._reads += 1
                return rows
            reader.in_flight += 1
            try:
                rows = await _fetch_shared(reader.conn, sql, bindings, limit)
            finally:
                reader.in_flight -= 1
            self._reads += 1
            return rows
        finally:
            self._leave()

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[Connection[Any]]:
        """A reader connection (``PRAGMA query_only``) for this block alone.

        Use it for several queries on one snapshot (``async with db:`` inside
        makes them one read transaction). Waits at most ``acquire_timeout``
        for a reader when other blocks hold them all. An in-memory pool (or
        ``readers=0``) has no readers: the block gets the writer, exclusively.
        """
        if not self._readers:
            async with self._writer_turn() as conn:
                yield conn
            return
        async with self._turn(self._reader_slots, "a reader connection"):
            # The least busy free one: plain reads queued on a reader would
            # otherwise hold up the block (all of them, behind a long scan).
            reader = min((r for r in self._readers if not r.checked_out), key=_load)
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

    # ------------------------------------------------------------------ writes

    async def execute(self, sql: str, bindings: Bindings = None) -> WriteResult:
        """Run a write on the writer, group-committed with concurrent writes.

        Returns after the commit that holds it. A failing statement raises
        here and leaves the other writes of its batch alone. Inside this
        task's ``pool.writer()`` block it joins that block's transaction.
        """
        return await self._write(sql, bindings, False)

    async def executemany(self, sql: str, sequenceofbindings: Iterable[Bindings]) -> WriteResult:
        """``execute`` once per item of ``sequenceofbindings``: all of them or none."""
        return await self._write(sql, sequenceofbindings, True)

    async def _write(
        self, sql: str, bindings: Any, many: bool, on_commit: Any = None
    ) -> WriteResult:
        if not isinstance(sql, str):
            raise TypeError(f"SQL must be a str, not {type(sql).__name__}")
        if self._holds_writer():
            return await self._write_in_block(sql, bindings, many)
        check_statement(sql)
        self._enter()
        try:
            loop = self._loop
            done = FutureEvent(loop) if loop is not None else self._adapter.event()
            job = WriteJob(sql, bindings, many, done, on_commit)
            self._pending.append(job)
            self._schedule_batch()
            try:
                if job.state != DONE:
                    await self._wait_job(job)
            except BaseException:
                if job.state == QUEUED:
                    self._pending.remove(job)
                elif job.state == RUNNING:
                    job.cancelled = True
                raise
            if job.error is not None:
                self._failed += 1
                raise _public_error(job.error)
            assert job.result is not None
            self._writes += 1
            return job.result
        finally:
            self._leave()

    async def _wait_job(self, job: WriteJob) -> None:
        """Wait for ``job``; fail it if it is still queued after ``acquire_timeout``.

        Under asyncio one timer serves every queued write (they time out in
        the order they were queued), because a timer per write costs more
        than the write itself when thousands are queued at once.
        """
        timeout = self.acquire_timeout
        if timeout == inf:
            await job.done.wait()
            return
        loop = self._loop
        if loop is not None:
            job.deadline = loop.time() + timeout
            if self._sweeper is None:
                self._sweeper = loop.call_at(job.deadline, _sweep_weakly, weakref.ref(self))
            await job.done.wait()
        elif not await wait_event(self._adapter, job.done, timeout):
            if job.state == QUEUED:
                self._pending.remove(job)
                self._expire(job)
            else:
                await job.done.wait()  # it is in a running batch: the outcome is near

    def _sweep(self) -> None:
        """Fail the queued writes whose time is up; re-arm for the next one."""
        self._sweeper = None
        assert self._loop is not None
        now = self._loop.time()
        pending = self._pending
        expired = 0
        while expired < len(pending) and pending[expired].deadline <= now:
            expired += 1
        for job in pending[:expired]:
            self._expire(job)
            job.done.set()
        del pending[:expired]
        if pending:
            self._sweeper = self._loop.call_at(
                pending[0].deadline, _sweep_weakly, weakref.ref(self)
            )

    def _expire(self, job: WriteJob) -> None:
        job.state = DONE
        job.error = PoolTimeout(
            f"the write waited more than acquire_timeout={self.acquire_timeout} s for the writer"
        )
        self._timeouts += 1

    async def _write_in_block(self, sql: str, bindings: Any, many: bool) -> WriteResult:
        """A write inside this task's writer block: part of the block's transaction.

        ``on_commit`` hooks are not called: the block may still roll back.
        Transaction control is refused: the block begins and ends the transaction.
        """

        def run(conn: apsw.Connection) -> WriteResult:
            before = conn.total_changes()
            statement = Statement(
                self._writer_core.row_factory,
                self._writer_core.engine.abandon_inline,
                _IN_WRITER_BLOCK,
            )
            rows, _ = execute_in_worker(conn, statement, sql, bindings, many, None)
            return WriteResult(rows, conn.total_changes() - before, conn.last_insert_rowid())

        # All or nothing, like a group-committed write: a failing script or
        # executemany leaves none of its statements in the block's transaction.
        result: WriteResult = await self._writer_core.call(run_atomically, run)
        return result

    def _schedule_batch(self) -> None:
        if self._batch_turn is None and self._pending:
            turn = Turn(lambda: self._start_batch(turn))
            self._batch_turn = turn
            self._gate.request(turn)

    def _start_batch(self, turn: Turn) -> None:
        """The writer is ours: run everything queued (up to a limit) as one batch."""
        jobs, self._pending = self._pending[:_MAX_BATCH], self._pending[_MAX_BATCH:]
        if not jobs:
            self._end_batch(turn, None)
            return
        for job in jobs:
            job.state = RUNNING
        batch = Batch(jobs, self._writer_core.row_factory)
        self._batches_in_flight.append(batch)
        adapter = self._adapter
        report = partial(adapter.call_soon_threadsafe, partial(self._end_batch, turn, batch))
        self._writer_core.engine.post(run_batch, batch, report)
        if self._writer.closed:  # post() refused it: the pool is closing
            self._end_batch(turn, batch)

    def _end_batch(self, turn: Turn, batch: Batch | None) -> None:
        if batch is not None:
            if batch.finished:
                return
            self._batches_in_flight.remove(batch)
            finish_batch(batch, _closed_error)
            if any(job.result is not None for job in batch.jobs):
                self._commits += 1
        self._batch_turn = None
        self._gate.withdraw(turn)
        self._schedule_batch()

    @asynccontextmanager
    async def writer(self) -> AsyncIterator[Connection[Any]]:
        """The writer connection, exclusively, in a ``BEGIN IMMEDIATE`` transaction.

        The block commits when it ends and rolls back if it raises or is
        cancelled. Waits at most ``acquire_timeout`` for the writer (and for
        another process's write lock), then raises :class:`PoolTimeout`.
        ``pool.execute`` and the ``pool.fetch*`` methods called inside the
        block run in its transaction.
        """
        async with self._writer_turn() as conn:
            try:
                transaction = conn.transaction("immediate")
                await transaction.__aenter__()
            except apsw.BusyError as exc:
                self._timeouts += 1
                raise PoolTimeout(
                    "another connection held the database's write lock past busy_timeout"
                ) from exc
            token = _writer_held.set(_writer_held.get() | {id(self)})
            try:
                yield conn
            except BaseException as exc:
                _writer_held.reset(token)
                await transaction.__aexit__(type(exc), exc, exc.__traceback__)
                raise
            _writer_held.reset(token)
            await transaction.__aexit__(None, None, None)

    @asynccontextmanager
    async def _writer_turn(self) -> AsyncIterator[Connection[Any]]:
        if self._holds_writer():
            raise RuntimeError("this task already holds the pool's writer; blocks do not nest")
        try:
            async with self._turn(self._gate, "the writer"):
                yield self._writer
        finally:
            self._schedule_batch()  # writes that queued behind the block

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
        if not await wait_event(self._adapter, event, self.acquire_timeout) and not turn.granted:
            self._timeouts += 1
            raise PoolTimeout(
                f"waited more than acquire_timeout={self.acquire_timeout} s for {what}"
            )

    def writer_idle_for_inline(self) -> bool:
        """May a write commit on the loop thread, outside the pool, now?

        Only when nothing in this process is writing or waiting to write, so
        such a write is never reordered against any write of this pool.
        """
        self._adapter.check_loop()
        return (
            self._gate.held == 0
            and not self._pending
            and not self._closing
            and not self._holds_writer()
        )

    def request_checkpoint(self) -> None:
        """Ask the writer's thread for a passive WAL checkpoint (never waits)."""
        if not self._writer.closed:
            self._writer_core.engine.post(_checkpoint)

    def holds_writer(self) -> bool:
        """True inside this task's ``pool.writer()`` block (or a task started in it)."""
        return self._holds_writer()

    def _holds_writer(self) -> bool:
        return id(self) in _writer_held.get()

    # ------------------------------------------------------------- bookkeeping

    def stats(self) -> PoolStats:
        """What the pool is doing now, and counters since it opened."""
        return PoolStats(
            readers=len(self._readers),
            readers_checked_out=sum(r.checked_out for r in self._readers),
            reads_in_flight=sum(r.in_flight for r in self._readers),
            writer_busy=self._gate.held > 0,
            writes_queued=len(self._pending),
            writer_waiters=self._gate.waiting,
            commits=self._commits,
            writes=self._writes,
            failed_writes=self._failed,
            reads=self._reads,
            timeouts=self._timeouts,
            closed=self._closed,
        )

    @property
    def closed(self) -> bool:
        return self._closing

    @property
    def writer_connection(self) -> Connection[Any]:
        """The writer connection itself (for settings; write through the pool)."""
        return self._writer

    def _enter(self) -> None:
        self._adapter.check_loop()
        if self._closing and not self._holds_writer():
            raise ConnectionClosedError("the pool is closed")
        self._active += 1

    def _leave(self) -> None:
        self._active -= 1
        if self._active == 0 and self._idle is not None:
            self._idle.set()

    async def close(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Close every connection, after waiting (bounded) for work in flight.

        New calls fail with ``ConnectionClosedError`` at once. Work already
        running or queued gets up to ``timeout`` seconds (default
        ``close_timeout``) to finish; whatever is still unfinished then fails
        with ``ConnectionClosedError`` (running statements are stopped inside
        SQLite, open transactions rolled back). Idempotent.
        """
        if self._closing:
            return
        self._closing = True
        limit = self.close_timeout if timeout is None else timeout
        if self._active:
            self._idle = self._adapter.event()
            await wait_event(self._adapter, self._idle, limit)
        with self._adapter.shield():
            errors: list[BaseException] = []
            for conn in (self._writer, *(r.conn for r in self._readers)):
                try:
                    await conn.close()
                except Exception as exc:
                    errors.append(exc)
            for batch in list(self._batches_in_flight):
                self._batches_in_flight.remove(batch)
                finish_batch(batch, _closed_error)
            if self._sweeper is not None:
                self._sweeper.cancel()
            for job in self._pending:
                job.error, job.state = _closed_error(), DONE
                job.done.set()
            self._pending.clear()
            self._closed = True
        if errors:
            raise errors[0]

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

    def __repr__(self) -> str:
        state = "closed" if self._closing else "open"
        return f"<aiolite.Pool {self.path or ':memory:'!r} readers={len(self._readers)} {state}>"


def _sweep_weakly(pool: weakref.ref[Pool]) -> None:
    """The sweep timer's callback: it stays armed after the writes it watched are
    done, and must not keep a pool that was dropped unclosed (and so its worker
    threads) alive until it fires."""
    alive = pool()
    if alive is not None:
        alive._sweep()


def _checkpoint(conn: apsw.Connection) -> None:
    if not conn.in_transaction:
        conn.wal_checkpoint(mode=apsw.SQLITE_CHECKPOINT_PASSIVE)


def _load(reader: _Reader) -> tuple[bool, int]:
    return reader.checked_out, reader.in_flight


def _closed_error() -> BaseException:
    return ConnectionClosedError("the pool closed before this write was committed")


def _public_error(error: BaseException) -> BaseException:
    if isinstance(error, apsw.BusyError):
        return PoolTimeout(
            "another connection held the database's write lock past busy_timeout"
        ).with_traceback(error.__traceback__)
    return error


class PoolOpener:
    """What :func:`open_pool` returns: await it, or ``async with`` it."""

    def __init__(self, path: str, options: dict[str, Any]) -> None:
        self._path = path
        self._options = options
        self._pool: Pool | None = None

    def __await__(self) -> Generator[Any, None, Pool]:
        return self._open().__await__()

    async def __aenter__(self) -> Pool:
        self._pool = await self._open()
        return self._pool

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            await self._pool.__aexit__(exc_type, exc, tb)

    async def _open(self) -> Pool:
        o = self._options
        memory = _is_memory(self._path)
        common: dict[str, Any] = {
            "busy_timeout": o["busy_timeout"],
            "row_factory": o["row_factory"],
            "vfs": o["vfs"],
        }
        if o["check_progress_steps"] is not None:
            common["check_progress_steps"] = o["check_progress_steps"]
        # No PRAGMA optimize at open: it fails at once with BusyError while
        # another process writes. The writer makes the file WAL (the readers
        # depend on it), after the pragmas so that none of them undoes it.
        writer_setup = SetUp(
            journal="keep" if memory else "require_wal",
            optimize=False,
            pragmas={"synchronous": o["synchronous"], **o["pragmas"]},
            wal_timeout=o["busy_timeout"],
        )
        writer: Connection[Any] = await open_connection(self._path, writer_setup, **common)
        readers: list[Connection[Any]] = []
        if not memory:
            reader_setup = SetUp(
                journal="keep", optimize=False, pragmas={**o["pragmas"], "query_only": True}
            )
            try:
                for _ in range(o["readers"]):
                    readers.append(await open_connection(self._path, reader_setup, **common))
            except BaseException:
                for conn in (writer, *readers):
                    await conn.close()
                raise
        return Pool(writer, readers, o["acquire_timeout"], o["close_timeout"])


def open_pool(
    path: str | os.PathLike[str],
    *,
    readers: int = 4,
    acquire_timeout: float | None = 30.0,
    busy_timeout: float | None = None,
    close_timeout: float = 5.0,
    synchronous: Synchronous = "FULL",
    row_factory: RowFactory[Any] | None = None,
    pragmas: dict[str, Any] | None = None,
    check_progress_steps: int | None = None,
    vfs: str | None = None,
) -> PoolOpener:
    """Open a pool of one writer and ``readers`` reader connections on ``path``.

    Await it for the :class:`Pool`, or ``async with`` it to close at the end.

    acquire_timeout
        Seconds a call may wait for a connection in this process (None: no
        limit); past it, :class:`PoolTimeout`.
    busy_timeout
        Seconds to wait for another process's lock on the file (default: the
        same as ``acquire_timeout``); a write that waits it out raises
        :class:`PoolTimeout`.
    close_timeout
        Seconds ``close()`` waits for work in flight before stopping it.
    synchronous
        ``"FULL"`` (default): a write that returned survives power loss (one
        fsync per commit, shared by each group commit); ``"NORMAL"``: it
        survives the process being killed, but the last commits before a
        power cut may be lost (no fsync per commit, about 3x the rate of
        sequential single writes).
    readers
        Reader connections (threads). An in-memory database has none: reads
        and writes share its one connection.
    pragmas
        Extra ``{name: value}`` set on every connection at open.
    vfs
        The name of a registered VFS (an :class:`aiolite.VFS`, say) that
        every connection of the pool opens the file with; None: SQLite's default.
    """
    if not isinstance(readers, int) or isinstance(readers, bool) or readers < 0:
        raise ValueError(f"readers must be an int >= 0, not {readers!r}")
    if acquire_timeout is None:
        acquire_timeout = inf
    if not acquire_timeout > 0:
        raise ValueError(f"acquire_timeout must be > 0 seconds or None, not {acquire_timeout!r}")
    if busy_timeout is None:
        busy_timeout = acquire_timeout if acquire_timeout != inf else 24 * 3600.0
    if not close_timeout >= 0:
        raise ValueError(f"close_timeout must be >= 0 seconds, not {close_timeout!r}")
    sync = str(synchronous).upper()
    if sync not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}")
    options = {
        "readers": readers,
        "acquire_timeout": acquire_timeout,
        "busy_timeout": busy_timeout,
        "close_timeout": close_timeout,
        "synchronous": sync,
        "row_factory": row_factory,
        "pragmas": dict(pragmas or {}),
        "check_progress_steps": check_progress_steps,
        "vfs": vfs,
    }
    if isinstance(path, str | os.PathLike):
        return PoolOpener(os.fspath(path), options)
    raise TypeError(f"path must be a str or path, not {type(path).__name__}")
