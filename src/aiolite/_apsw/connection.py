"""Layer 3: the async connection that users hold, and ``connect()``.

A :class:`Connection` is a thin front over an engine: every method that
needs the database becomes one request to the worker thread, named and typed
like its ``apsw.Connection`` original; facts that never change are plain
attributes read once at open.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from contextvars import ContextVar
from functools import partial
from time import monotonic
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Generic,
    ParamSpec,
    Self,
    TypeAlias,
    TypedDict,
    TypeVar,
    Unpack,
    overload,
)

import apsw

from .._engine.deadline import deadline as deadline_var
from .._engine.engine import ABANDONED, INLINE_BUDGET_SECONDS, NOT_NOW, Engine
from .._engine.inline import InlinePolicy
from .._frameworks import current_adapter
from . import opening as _opening
from .connection_methods import SQLiteMethods
from .cursor import (
    Cursor,
    PendingCursor,
    Statement,
    close_in_worker,
    execute_first_in_worker,
    execute_first_inline,
    execute_in_worker,
    execute_inline,
)
from .features.backup import BackupMethods
from .features.blob import BlobMethods
from .features.functions import FunctionMethods
from .features.hooks import HookMethods
from .features.session import SessionMethods
from .features.tracing import TracingMethods
from .features.vtable import TableFunctionMethods
from .rows import CompiledFactory, RowFactory, compile_row_factory
from .transaction import (
    Transaction,
    TransactionGuard,
    TransactionMode,
    held_transactions,
    run_atomically,
)

if TYPE_CHECKING:
    from types import TracebackType

    from .._frameworks._base import Event

RowT = TypeVar("RowT")
R = TypeVar("R")
P = ParamSpec("P")

Bindings: TypeAlias = Sequence[Any] | Mapping[str, Any] | None
"""Values for the ``?``/``:name`` parameters of a statement."""


_READ_AHEAD_SECONDS = INLINE_BUDGET_SECONDS / 2
"""How long an inline read keeps reading rows past its first batch (each a trip saved)."""

_IN_EXECUTEMANY = "executemany (it runs as one all-or-nothing unit: use a transaction block)"

_open_blocks: ContextVar[tuple[tuple[Connection[Any], Transaction], ...]] = ContextVar(
    "aiolite open 'async with db' blocks", default=()
)


class ConnectOptions(TypedDict, total=False):
    """Keyword options of :func:`aiolite.connect`.

    flags
        SQLite open flags (``apsw.SQLITE_OPEN_*``); the default is read-write,
        create if missing, and URI filenames when the name starts with ``file:``.
    vfs
        Name of the VFS to open the database with.
    readonly
        Open read-only.
    pragmas
        ``{name: value}`` set, in order, right after opening (after best practice,
        so they can override it).
    best_practice
        True (default): WAL for database files, foreign keys enforced, no
        double-quoted string literals, ``PRAGMA optimize`` at close.
    busy_timeout
        Seconds to wait for another connection's lock before ``BusyError``
        (default 5; None or 0 to fail at once). Cancellation and deadlines cut
        the wait short.
    prefetch
        Rows fetched with the statement itself (default 64): results this size
        or smaller cost one round trip to the worker.
    max_batch
        Largest batch later fetches grow to (default 4096).
    check_progress_steps
        SQLite steps between checks for cancellation and deadlines. None
        (default) adapts it to about 2 ms of work between checks.
    statement_cache_size
        Prepared statements kept for reuse (default 100).
    inline
        True (default): a statement that proved to be a tiny read (it only
        reads, and took well under half a millisecond in the worker) runs on
        the event loop's own thread next time, when the worker is idle,
        saving the thread round trip. Past half a millisecond it is abandoned
        before changing anything and re-run in the worker. Connections with
        callbacks (or after ``run``) keep everything in the worker.
    """

    flags: int
    vfs: str | None
    readonly: bool
    pragmas: Mapping[str, Any]
    best_practice: bool
    busy_timeout: float | None
    prefetch: int
    max_batch: int
    check_progress_steps: int | None
    statement_cache_size: int
    inline: bool


class Connection(
    SQLiteMethods,
    FunctionMethods,
    HookMethods,
    TableFunctionMethods,
    BlobMethods,
    BackupMethods,
    SessionMethods,
    TracingMethods,
    Generic[RowT],
):
    """An open SQLite database, used from async code.

    Made by :func:`aiolite.connect`. Methods that touch the database are
    awaitable and run, in the order they were called, in the connection's
    own worker thread; ``async with db:`` is a transaction.
    """

    def __init__(
        self,
        engine: Engine,
        opened: _opening.OpenedDatabase,
        row_factory: CompiledFactory,
        prefetch: int,
        max_batch: int,
        inline: bool = True,
    ) -> None:
        self._engine = engine
        self._inline = InlinePolicy() if inline else None
        self._row_factory = row_factory
        self._prefetch = prefetch
        self._max_batch = max_batch
        self._tx_owner: object | None = None
        self._tx_released: Event | None = None
        self._tx_guard = TransactionGuard(engine)
        self._core = ConnectionCore(self)
        self.filename: str = opened.filename
        """The database file's full path ("" for in-memory and temporary databases)."""
        self.filename_journal: str = opened.filename_journal
        self.filename_wal: str = opened.filename_wal
        self.open_flags: int = opened.open_flags
        """The ``apsw.SQLITE_OPEN_*`` flags the database was opened with."""
        self.open_vfs: str = opened.open_vfs
        """The name of the VFS the database was opened with."""
        self.framework: str = engine.adapter.name
        """``"asyncio"`` (uvloop and anyio's asyncio backend included) or ``"trio"``."""

    @property
    def closed(self) -> bool:
        """True once ``close()`` or ``stop()`` has begun."""
        return self._engine.closed

    # ------------------------------------------------------------------ requests

    async def _call(
        self, fn: Callable[Concatenate[apsw.Connection, P], R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Run ``fn(sync_connection, ...)`` in the worker, after any other task's transaction.

        It is one request of the open transaction, if any: it fails with
        ``TransactionRolledBackError`` once SQLite has rolled that back.
        """
        if kwargs:
            fn = partial(fn, **kwargs)
        result: R = await self._submit(self._tx_guard.run, fn, *args)
        return result

    async def _call_cleanup(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``_call`` for clean-up that runs no SQL (closing a cursor or a blob).

        It must work inside a lost transaction too: it is what an ``async
        with`` runs on the way out, and failing there would hide the error
        that got it there.
        """
        return await self._submit(fn, *args)

    async def _submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        while self._other_task_in_transaction():
            # Checked again after each wait: another task waiting for the same
            # block may have opened a block of its own before this one resumed.
            await self._wait_for_other_transaction()
        return await self._engine.submit(fn, *args)

    def _post(self, fn: Callable[..., Any], *args: Any) -> None:
        self._engine.post(fn, *args)

    async def run(
        self, fn: Callable[Concatenate[apsw.Connection, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Call ``fn(sync_connection, *args, **kwargs)`` in the worker thread.

        For work that makes many calls before it has an answer (a schema
        upgrade, a ``.dump``, ``apsw.ext`` helpers): one round trip instead
        of many. ``fn`` gets the plain ``apsw.Connection``.

        >>> import asyncio, aiolite
        >>> def upgrade(conn):
        ...     with conn:
        ...         if conn.pragma("user_version") == 0:
        ...             conn.execute("CREATE TABLE t(x); PRAGMA user_version = 1")
        ...     return conn.pragma("user_version")
        >>> async def main():
        ...     async with aiolite.connect(":memory:") as db:
        ...         return await db.run(upgrade)
        >>> asyncio.run(main())
        1

        ``fn`` may register callbacks on the connection, which must run in the
        worker thread, so after ``run`` the connection no longer tries tiny
        reads on the loop thread (see the ``inline`` option).
        """
        self._engine.keep_in_worker()
        return await self._call(fn, *args, **kwargs)

    def execute(self, statements: str, bindings: Bindings = None) -> PendingCursor[RowT]:
        """Run one or more SQL statements (``;``-separated) with ``bindings``.

        Await the result for a :class:`Cursor`, ``async for`` over it for the
        rows, or ``async with`` it to close the cursor at the end. The
        statement and the first batch of rows are one round trip.

        >>> import asyncio, aiolite
        >>> async def main():
        ...     async with aiolite.connect(":memory:") as db:
        ...         await db.execute("CREATE TABLE t(x, y); INSERT INTO t VALUES(?, ?)", (1, "one"))
        ...         async for x, y in db.execute("SELECT x, y FROM t"):
        ...             print(x, y)
        >>> asyncio.run(main())
        1 one
        """
        return PendingCursor(self, statements, bindings, False)

    def executemany(
        self, statements: str, sequenceofbindings: Iterable[Bindings]
    ) -> PendingCursor[RowT]:
        """Run ``statements`` once per item of ``sequenceofbindings``: all of them or none.

        One round trip, in a savepoint of its own: if any execution fails, or
        the request is cancelled or runs past its deadline, none of them stays
        (outside a transaction the savepoint is the transaction, so the rows
        are also committed once, not once each). Rows the statements return
        (``RETURNING``) are all fetched in that trip. Transaction control
        (``BEGIN``, ``COMMIT``, ``SAVEPOINT``...) would break that, and is
        refused with ``TransactionControlError`` before anything runs.
        """
        return PendingCursor(self, statements, sequenceofbindings, True)

    async def _open_cursor(
        self, sql: str, bindings: Bindings | Iterable[Bindings], many: bool
    ) -> Cursor[RowT]:
        statement, rows, done = await self._first_batch(sql, bindings, many, self._prefetch)
        return Cursor(self, statement, rows, done, self._prefetch * 16, self._max_batch)

    async def _first_batch(
        self,
        sql: str,
        bindings: Bindings | Iterable[Bindings],
        many: bool,
        size: int,
        *,
        first_only: bool = False,
    ) -> tuple[Statement, list[RowT], bool]:
        """Run ``sql`` and fetch up to ``size`` rows: inline if it is a proven tiny read.

        Returns the statement (still open unless done), the rows, and whether
        the statement has finished. Inline, for a cursor that will want more
        rows, it reads ahead while its time allows; with ``first_only`` it
        reads none ahead and closes the statement in the same run instead.
        """
        if not isinstance(sql, str):
            raise TypeError(f"SQL must be a str, not {type(sql).__name__}")
        engine = self._engine
        guard = self._tx_guard
        if many:
            statement = Statement(self._row_factory, engine.abandon_inline, _IN_EXECUTEMANY)
            rows, done = await self._submit(
                guard.run, run_atomically, execute_in_worker, statement, sql, bindings, True, None
            )
            return statement, rows, done
        policy = self._inline
        if policy is not None and policy.should_try(sql) and self._may_run_inline():
            statement = Statement(self._row_factory, engine.abandon_inline)
            started = monotonic()
            batch = engine.run_inline(
                guard.run,
                execute_first_inline if first_only else execute_inline,
                statement,
                sql,
                bindings,
                size,
                size if first_only else self._max_batch,
                started + _READ_AHEAD_SECONDS,
            )
            if batch is ABANDONED:
                policy.abandoned(sql)
                if statement.raw is not None:  # only the worker may touch it from now on
                    self._post(close_in_worker, statement)
            elif batch is not NOT_NOW:
                policy.ran_inline(sql, monotonic() - started)
                if engine.inline_streak_expired():
                    await engine.adapter.checkpoint()
                return statement, *batch
        statement = Statement(self._row_factory, engine.abandon_inline)
        run = execute_first_in_worker if first_only else execute_in_worker
        rows, done = await self._submit(
            guard.run_statement, run, statement, sql, bindings, False, size
        )
        if policy is not None:
            policy.learned(sql, statement.readonly, statement.elapsed)
        return statement, rows, done

    def _may_run_inline(self) -> bool:
        """Whether this task may run a statement on the loop thread right now."""
        if self._other_task_in_transaction():
            return False  # wait for it the normal way
        if self._tx_guard.lost is not None:
            return False  # the worker says why it cannot run
        if deadline_var.get() is not None:
            return False  # the worker path enforces deadlines exactly
        self._engine.adapter.check_loop()
        return True

    def interrupt(self) -> None:
        """Abort whatever SQL is running on the connection now (``sqlite3_interrupt``).

        Prefer cancelling the task that made the request: that stops exactly
        that request. This stops every running statement of the connection,
        including cursors other tasks are part way through.
        """
        self._engine.interrupt()

    # -------------------------------------------------------------- transactions

    def transaction(self, mode: TransactionMode = "deferred") -> Transaction:
        """A transaction block: ``async with db.transaction("immediate"): ...``.

        Commits when the block succeeds, rolls back when it raises or is
        cancelled; nested blocks are savepoints. Use ``"immediate"`` for blocks
        that write to a file other connections also write to: see
        :mod:`aiolite._apsw.transaction` for why.
        """
        return Transaction(self, mode)

    async def __aenter__(self) -> Self:
        block = Transaction(self)
        await block.__aenter__()
        _open_blocks.set((*_open_blocks.get(), (self, block)))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        blocks = _open_blocks.get()
        for position in range(len(blocks) - 1, -1, -1):
            if blocks[position][0] is self:
                block = blocks[position][1]
                _open_blocks.set(blocks[:position] + blocks[position + 1 :])
                break
        else:
            raise RuntimeError("'async with db' exited without a matching enter in this task")
        await block.__aexit__(exc_type, exc, tb)

    def _other_task_in_transaction(self) -> bool:
        """True while a task other than this one (and its children) holds a block open."""
        owner = self._tx_owner
        return owner is not None and owner not in held_transactions.get()

    def _in_own_transaction(self) -> bool:
        owner = self._tx_owner
        return owner is not None and owner in held_transactions.get()

    async def _acquire_transaction(self) -> object:
        self._engine.adapter.check_loop()
        while self._tx_owner is not None:
            await self._wait_for_other_transaction()
        owner = object()
        self._tx_owner = owner
        self._tx_released = self._engine.adapter.event()
        return owner

    def _release_transaction(self, owner: object) -> None:
        if self._tx_owner is owner:
            released = self._tx_released
            self._tx_owner = self._tx_released = None
            if released is not None:
                released.set()

    async def _wait_for_other_transaction(self) -> None:
        self._engine.adapter.check_loop()
        released = self._tx_released
        if released is not None:
            await released.wait()

    # ------------------------------------------------------------------ closing

    async def close(self) -> None:
        """Close the database and stop the worker thread. Idempotent.

        Requests still queued, and the one running (stopped inside SQLite),
        fail with ``ConnectionClosedError``; an open transaction is rolled
        back. Every later call fails the same way.
        """
        await self._engine.close()

    aclose = close

    def stop(self) -> None:
        """Close from synchronous code, with or without a running event loop.

        Waits up to two seconds for the worker thread to finish.
        """
        self._engine.stop()

    def __del__(self) -> None:
        engine = getattr(self, "_engine", None)
        if engine is not None and not engine.closed:
            warnings.warn(
                f"aiolite connection to {self.filename or 'memory'!r} was never closed",
                ResourceWarning,
                stacklevel=2,
                source=self,
            )
            engine.stop(timeout=None)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<aiolite.Connection {self.filename or ':memory:'!r} {state} ({self.framework})>"


class ConnectionCore:
    """What the layers above (the pool, the KV store) may ask of a connection.

    The connection's own methods are its public API; this is the small,
    named interface for aiolite's other packages, so that none of them needs
    a connection's private attributes. Get it with :func:`core_of`.
    """

    __slots__ = ("_connection",)

    def __init__(self, connection: Connection[Any]) -> None:
        self._connection = connection

    @property
    def engine(self) -> Engine:
        """The connection's engine: its worker thread and its framework adapter."""
        return self._connection._engine

    @property
    def row_factory(self) -> CompiledFactory:
        """The compiled row factory rows of this connection are shaped with."""
        return self._connection._row_factory

    async def call(
        self, fn: Callable[Concatenate[apsw.Connection, P], R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """``fn(sync_connection, ...)`` in the worker, as one request of the open transaction."""
        return await self._connection._call(fn, *args, **kwargs)

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(sync_connection, ...)`` without waiting for it."""
        self._connection._post(fn, *args)

    def forget_lost_transaction(self) -> None:
        """Queue forgetting a transaction SQLite rolled back (nobody is left to be told)."""
        self._connection._post(self._connection._tx_guard.forget)

    async def first_batch(self, sql: str, bindings: Bindings, limit: int) -> list[Any]:
        """Up to ``limit`` rows of ``sql``: one trip to the worker, or none for a tiny read."""
        _, rows, _ = await self._connection._first_batch(
            sql, bindings, False, limit, first_only=True
        )
        return rows[:limit]


def core_of(connection: Connection[Any]) -> ConnectionCore:
    """The internal interface of ``connection`` for aiolite's other layers."""
    return connection._core


class Connector(Generic[RowT]):
    """What :func:`connect` returns: await it, or use it with ``async with``."""

    __slots__ = ("_connection", "_database", "_options", "_row_factory")

    def __init__(
        self,
        database: str,
        options: ConnectOptions,
        row_factory: RowFactory[Any] | None,
    ) -> None:
        self._database = database
        self._options = options
        self._row_factory = row_factory
        self._connection: Connection[RowT] | None = None

    def __await__(self) -> Generator[Any, None, Connection[RowT]]:
        return self._open().__await__()

    async def __aenter__(self) -> Connection[RowT]:
        self._connection = await self._open()
        return self._connection

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection = self._connection
        if connection is not None:
            with connection._engine.adapter.shield():
                await connection.close()

    async def _open(self) -> Connection[RowT]:
        options = dict(self._options)
        prefetch = options.pop("prefetch", 64)
        max_batch = options.pop("max_batch", 4096)
        steps = options.pop("check_progress_steps", None)
        inline = bool(options.pop("inline", True))
        if not isinstance(prefetch, int) or prefetch < 1:
            raise ValueError(f"prefetch must be a positive int, not {prefetch!r}")
        if not isinstance(max_batch, int) or max_batch < prefetch:
            raise ValueError(f"max_batch must be an int >= prefetch, not {max_batch!r}")
        if steps is not None and (not isinstance(steps, int) or steps < 1):
            raise ValueError(f"check_progress_steps must be a positive int or None, not {steps!r}")
        opening = _opening.OpenOptions(database=self._database, **options)  # type: ignore[arg-type]
        factory = compile_row_factory(self._row_factory)
        engine = Engine(current_adapter(), check_progress_steps=steps)
        try:
            opened = await engine.open(
                partial(_opening.create, opening),
                partial(_opening.configure, opening, engine),
                partial(_opening.close, opening.best_practice),
            )
        except BaseException:
            engine.stop(timeout=None)  # the worker closes whatever it opened, then exits
            raise
        if opening.vfs is not None:
            engine.keep_in_worker()  # a Python VFS's methods must run in the worker
        return Connection(engine, opened, factory, prefetch, min(max_batch, 1 << 20), inline)


@overload
def connect(
    database: str | os.PathLike[str], *, row_factory: None = None, **options: Unpack[ConnectOptions]
) -> Connector[tuple[Any, ...]]: ...


@overload
def connect(
    database: str | os.PathLike[str],
    *,
    row_factory: RowFactory[RowT],
    **options: Unpack[ConnectOptions],
) -> Connector[RowT]: ...


def connect(
    database: str | os.PathLike[str],
    *,
    row_factory: RowFactory[Any] | None = None,
    **options: Unpack[ConnectOptions],
) -> Connector[Any]:
    """Open the SQLite database ``database`` (a path, ``":memory:"`` or a ``file:`` URI).

    Await it for the connection, or use ``async with`` to also close it at
    the end. ``row_factory`` shapes rows (tuples by default; ``aiolite.Row``,
    ``dict``, a dataclass, a NamedTuple or a function); the other options are
    listed in :class:`ConnectOptions`.

    >>> import asyncio, aiolite
    >>> async def main():
    ...     async with aiolite.connect(":memory:", row_factory=aiolite.Row) as db:
    ...         row = await (await db.execute("SELECT 1 AS id, 'Ada' AS name")).fetchone()
    ...         return row.name, db.closed
    >>> asyncio.run(main())
    ('Ada', False)
    """
    unknown = set(options) - set(ConnectOptions.__annotations__)
    if unknown:
        raise TypeError(f"connect() got unknown options: {', '.join(sorted(unknown))}")
    return Connector(_opening.database_name(database), options, row_factory)
