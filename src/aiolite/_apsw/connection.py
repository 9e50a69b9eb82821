"""The async connection that users hold, and ``connect()``.

A :class:`Connection` is a thin public front over its
:class:`~aiolite._apsw.core.ConnectionCore`: every method that needs the
database becomes one request to the worker thread, named and typed like its
``apsw.Connection`` original; facts that never change are plain attributes
read once at open.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Generic,
    ParamSpec,
    Self,
    TypedDict,
    TypeVar,
    Unpack,
    overload,
)

import apsw

from .. import _logging
from .._engine import Engine
from .._frameworks import current_adapter
from . import opening as _opening
from .closing import Opener
from .connection_methods import SQLiteMethods
from .core import Bindings, ConnectionCore, core_of
from .cursor import PendingCursor
from .features.backup import BackupMethods
from .features.blob import BlobMethods
from .features.functions import FunctionMethods
from .features.hooks import HookMethods
from .features.session import SessionMethods
from .features.tracing import TracingMethods
from .features.vtable import TableFunctionMethods
from .misuse import AsyncOnly, hint_forgotten_await
from .rows import RowFactory, compile_row_factory
from .statement_log import StatementLog
from .transaction import Transaction, TransactionMode

if TYPE_CHECKING:
    from types import TracebackType

RowT = TypeVar("RowT")
R = TypeVar("R")
P = ParamSpec("P")


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
    slow_query
        Seconds: a statement that takes longer is logged at WARNING on the
        ``aiolite.sql`` logger. None (default): no threshold. (Every
        statement is logged at DEBUG there when that logger is enabled for
        DEBUG as the connection opens; see :mod:`aiolite._logging`.)
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
    slow_query: float | None


CONNECTION_ATTRIBUTES = frozenset(
    ("filename", "filename_journal", "filename_wal", "open_flags", "open_vfs", "framework")
)
"""The attributes a :class:`Connection` sets in ``__init__`` (no class attribute tells)."""


class Connection(
    AsyncOnly,
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

    def __init__(self, core: ConnectionCore, opened: _opening.OpenedDatabase) -> None:
        self._core = core
        self._engine = core.engine  # (read by tests that count round trips)
        self._inline = core.inline  # (read by tests of the inline policy)
        self.filename: str = opened.filename
        """The database file's full path ("" for in-memory and temporary databases)."""
        self.filename_journal: str = opened.filename_journal
        self.filename_wal: str = opened.filename_wal
        self.open_flags: int = opened.open_flags
        """The ``apsw.SQLITE_OPEN_*`` flags the database was opened with."""
        self.open_vfs: str = opened.open_vfs
        """The name of the VFS the database was opened with."""
        self.framework: str = core.adapter.loop_name
        """``"asyncio"`` (anyio's asyncio backend included), ``"uvloop"`` or ``"trio"``
        (anyio's trio backend included): for people; aiolite itself never keys off it."""
        core.filename = opened.filename

    @property
    def closed(self) -> bool:
        """True once ``close()`` or ``stop()`` has begun."""
        return self._engine.closed

    # ------------------------------------------------------------------ requests

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
        return await self._core.call(fn, *args, **kwargs)

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
        return PendingCursor(self, self._core, statements, bindings, False)

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
        return PendingCursor(self, self._core, statements, sequenceofbindings, True)

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
        return Transaction(self._core, mode)

    async def __aenter__(self) -> Self:
        block = Transaction(self._core)
        await block.__aenter__()
        self._core.gate.push_block(block)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        block: Transaction = self._core.gate.pop_block()
        await block.__aexit__(exc_type, exc, tb)

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
            _logging.unclosed(_logging.connection, f"connection to {self.filename or 'memory'!r}")
            engine.stop(timeout=None)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        if self.in_transaction:
            state += ", in transaction"
        return f"<aiolite.Connection {self._core.describe()} {state} ({self.framework})>"


class Connector(Opener[Connection[RowT]]):
    """What :func:`connect` returns: await it, or use it with ``async with``."""

    __slots__ = ("_options", "_row_factory", "_setup")

    def __init__(
        self,
        database: str,
        options: ConnectOptions,
        row_factory: RowFactory[Any] | None,
        setup: _opening.SetUp | None = None,
    ) -> None:
        super().__init__(database)
        self._options = options
        self._row_factory = row_factory
        self._setup = setup

    async def _close(self, connection: Connection[RowT]) -> None:
        with core_of(connection).adapter.shield():
            await connection.close()

    async def _open(self) -> Connection[RowT]:
        options = dict(self._options)
        prefetch = options.pop("prefetch", 64)
        max_batch = options.pop("max_batch", 4096)
        steps = options.pop("check_progress_steps", None)
        inline = bool(options.pop("inline", True))
        slow_query = options.pop("slow_query", None)
        if slow_query is not None and (
            not isinstance(slow_query, int | float) or not slow_query >= 0
        ):
            raise ValueError(f"slow_query must be >= 0 seconds or None, not {slow_query!r}")
        if not isinstance(prefetch, int) or prefetch < 1:
            raise ValueError(f"prefetch must be a positive int, not {prefetch!r}")
        if not isinstance(max_batch, int) or max_batch < prefetch:
            raise ValueError(f"max_batch must be an int >= prefetch, not {max_batch!r}")
        if steps is not None and (not isinstance(steps, int) or steps < 1):
            raise ValueError(f"check_progress_steps must be a positive int or None, not {steps!r}")
        opening = _opening.OpenOptions.from_connect(self._database, options, self._setup)
        factory = compile_row_factory(self._row_factory)
        adapter = current_adapter()
        engine = Engine(adapter, check_progress_steps=steps)
        busy = _opening.busy_waiter(opening, engine)
        try:
            opened = await engine.open(
                partial(_opening.create, opening),
                partial(_opening.configure, opening, busy),
                partial(_opening.close, opening.setup),
            )
        except BaseException:
            engine.stop(timeout=None)  # the worker closes whatever it opened, then exits
            raise
        if opening.vfs is not None:
            engine.keep_in_worker()  # a Python VFS's methods must run in the worker
        max_batch = min(max_batch, 1 << 20)
        core = ConnectionCore(engine, adapter, factory, prefetch, max_batch, inline, busy)
        core.log = StatementLog.for_connection(opened.filename, slow_query)
        return Connection(core, opened)


hint_forgotten_await(Connector, Connection, "aiolite.connect(...)", CONNECTION_ATTRIBUTES)


@overload
def connect(
    database: str | os.PathLike[str], *, row_factory: None = None, **options: Unpack[ConnectOptions]
) -> Connector[tuple[Any, ...]]: ...


@overload
def connect(
    database: str | os.PathLike[str],
    *,
    row_factory: type[dict[Any, Any]],
    **options: Unpack[ConnectOptions],
) -> Connector[dict[str, Any]]: ...


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


def open_connection(
    database: str,
    setup: _opening.SetUp,
    *,
    row_factory: RowFactory[Any] | None = None,
    **options: Unpack[ConnectOptions],
) -> Connector[Any]:
    """``connect()`` with a set-up of the caller's instead of ``best_practice``/``pragmas``.

    For aiolite's other layers: the pool opens its writer and readers with it.
    """
    return Connector(database, options, row_factory, setup)
