"""The aiosqlite ``Connection`` and ``connect()``, on the aiolite engine.

Every call runs in the connection's worker thread, one at a time in
submission order, exactly as aiosqlite does. The connection underneath is
:mod:`._dbapi`'s: sqlite3's API and semantics (implicit transactions,
``row_factory``, ``text_factory``, adapters and converters, its exception
types) on APSW's SQLite, the one library the rest of aiolite uses, so an
``aiolite.aiosqlite`` connection and an aiolite pool can share a file
safely. What the engine adds:
cancelling the awaiting task really stops the query inside SQLite and leaves
the connection usable; trio and anyio work; the worker is a daemon thread
that is closed at exit, so a forgotten connection never hangs the process;
and results are delivered without touching a closed event loop.

Inside the module: a connection's state and its link to the engine are its
:class:`~._worker.Worker` (aiosqlite's ``_tx``), which is also the small
internal interface its cursors and blobs are given; its requests run the
bodies in :mod:`._requests` (the cursor's are in :mod:`._fetching`); and the
few asyncio operations aiosqlite's API needs come from
:mod:`aiolite._frameworks.asyncio_bridge`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Generator, Iterable
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from warnings import warn

from .._apsw import bridge
from .._engine import Engine
from .._errors import WrongEventLoopError
from .._frameworks import FrameworkAdapter, asyncio_bridge, current_adapter
from . import _dbapi, _fetching, _requests
from ._fetching import Batch, RowFactory
from ._requests import LOG as LOG  # aiosqlite.core.LOG, as in aiosqlite
from ._worker import Worker
from .blob import Blob
from .context import contextmanager
from .cursor import Cursor

__all__ = ["Connection", "Cursor", "connect"]

IsolationLevel = Literal["DEFERRED", "IMMEDIATE", "EXCLUSIVE"] | None
AuthorizerCallback = Callable[[int, str | None, str | None, str | None, str | None], int]

_DUMP_CHUNK = 512


class Connection:
    """An async proxy for ``sqlite3.Connection``: await it (or ``async with``) to open.

    >>> import asyncio
    >>> from aiolite import aiosqlite
    >>> async def main():
    ...     async with aiosqlite.connect(":memory:") as db:
    ...         db.row_factory = aiosqlite.Row
    ...         await db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT)")
    ...         await db.execute("INSERT INTO t(name) VALUES (?)", ("Ada",))
    ...         busy = db.in_transaction
    ...         await db.commit()
    ...         rows = await db.execute_fetchall("SELECT id, name FROM t")
    ...         return busy, db.in_transaction, [dict(row) for row in rows]
    >>> asyncio.run(main())
    (True, False, [{'id': 1, 'name': 'Ada'}])
    """

    def __init__(
        self,
        connector: Callable[[], _dbapi.Connection],
        iter_chunk_size: int,
        loop: asyncio_bridge.EventLoop | None = None,
    ) -> None:
        if loop is not None:
            warn(
                "aiosqlite.Connection no longer uses the `loop` parameter",
                DeprecationWarning,
                stacklevel=2,
            )
        self._connector = connector
        self._tx = Worker(iter_chunk_size)
        self._autocommit: Any = _requests.NO_AUTOCOMMIT
        self._adapter: FrameworkAdapter | None = None  # the running loop's, once awaited

    @property
    def _thread(self) -> Any:
        """The worker thread (a stand-in until the connection is awaited), as in aiosqlite."""
        return self._tx.thread

    @property
    def _conn(self) -> _dbapi.Connection:
        connection = self._tx.connection
        if connection is None:
            raise ValueError("no active connection")
        return connection

    # aiosqlite's private attributes, which libraries read: the state is the worker's.

    @property
    def _running(self) -> bool:
        return self._tx.running

    @_running.setter
    def _running(self, value: bool) -> None:
        self._tx.running = value

    @property
    def _connection(self) -> _dbapi.Connection | None:
        return self._tx.connection

    @_connection.setter
    def _connection(self, value: _dbapi.Connection | None) -> None:
        self._tx.connection = value

    @property
    def _iter_chunk_size(self) -> int:
        return self._tx.iter_chunk_size

    @_iter_chunk_size.setter
    def _iter_chunk_size(self, value: int) -> None:
        self._tx.iter_chunk_size = value

    # ---------------------------------------------------------------- lifecycle

    def __await__(self) -> Generator[Any, None, Connection]:
        return self._connect().__await__()

    async def __aenter__(self) -> Connection:
        return await self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _connect(self) -> Connection:
        """Start the worker and open the database in it (once)."""
        if self._connection is not None:
            return self
        worker = self._tx
        if worker.engine is not None:
            raise RuntimeError("this connection was already awaited once")
        self._adapter = adapter = current_adapter()
        engine = Engine(adapter, check_progress_steps=None)
        worker.engine = engine
        try:
            connection, self._autocommit = await engine.open(
                self._connector, _requests.opened, worker.close_connection
            )
            self._connection = connection
        except BaseException:
            # Cancelled or failed: the worker closes whatever it opened, then exits.
            self._running = False
            engine.stop(timeout=None)
            raise
        return self

    async def close(self) -> None:
        """Finish the requests already queued, close the database, stop the worker.

        Idempotent. A transaction not committed is rolled back (sqlite3's ``close``).
        """
        if self._connection is None:
            return
        engine = self._tx.engine
        assert engine is not None
        try:
            if not engine.closed and not self._tx.empty():
                await self._tx.run(_requests.noop)  # let the requests already queued finish
        finally:
            # Until the worker is gone, calls still reach it and find the database
            # closed (sqlite3.ProgrammingError), as with aiosqlite.
            try:
                assert self._adapter is not None  # set with the engine
                with self._adapter.shield():
                    await engine.close()
            except WrongEventLoopError:  # closed from another loop than its own
                engine.stop(timeout=None)
                await self._tx.exit_future(opened=True)  # of the running loop
            finally:
                self._connection = None
                self._running = False

    def stop(self) -> asyncio_bridge.Future[None] | None:
        """Close the database and stop the worker from synchronous code; prefer ``close()``.

        Inside a running asyncio loop it returns a future done once the
        database is closed; elsewhere it waits (up to two seconds) and returns None.
        """
        self._running = False
        opened, self._connection = self._connection is not None, None
        engine = self._tx.engine
        loop = asyncio_bridge.running_loop()
        if loop is None:
            if engine is not None:
                engine.stop()
            return None
        if engine is not None:
            engine.stop(timeout=None)
        return self._tx.exit_future(opened, loop)

    def __del__(self) -> None:
        if getattr(self, "_connection", None) is None:
            return
        warn(
            f"{self!r} was deleted before being closed. "
            "Please use 'async with' or '.close()' to close the connection properly.",
            ResourceWarning,
            stacklevel=1,
            source=self,
        )
        self._running = False
        self._connection = None
        engine = self._tx.engine
        if engine is not None:
            engine.stop(timeout=None)

    # ------------------------------------------------------------------- requests

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` in the worker thread and return its result.

        (aiosqlite's private entry point, which some libraries call directly;
        the connection's own methods call ``self._tx.run``.)
        """
        if kwargs:
            fn = partial(fn, **kwargs)
        return await self._tx.run(fn, *args)

    def _new_cursor(
        self, cursor: _dbapi.Cursor, factory: RowFactory = None, first: Batch | None = None
    ) -> Cursor:
        """An async cursor over ``cursor``, given the interface it uses to reach this connection."""
        return Cursor(self, cursor, factory, first, worker=self._tx)

    @contextmanager
    async def cursor(self) -> Cursor:
        """A new :class:`Cursor`."""
        return self._new_cursor(await self._tx.run(self._conn.cursor))

    async def commit(self) -> None:
        """Commit the current transaction."""
        worker = self._tx
        if worker.connection is None:
            raise ValueError("no active connection")
        await worker.run_bound(_requests.commit)

    async def rollback(self) -> None:
        """Roll back the current transaction."""
        await self._tx.run(self._conn.rollback)

    @contextmanager
    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> Cursor:
        """Execute ``sql`` on a new cursor and return it."""
        worker = self._tx
        if worker.connection is None:
            raise ValueError("no active connection")
        cursor, factory, first = await worker.run_bound(
            _fetching.execute_new,
            sql,
            () if parameters is None else parameters,
            _fetching.FIRST_BATCH,
        )
        return Cursor(self, cursor, factory, first, worker=worker)

    @contextmanager
    async def execute_insert(self, sql: str, parameters: Iterable[Any] | None = None) -> Any:
        """Execute an insert and return the row ``(last_insert_rowid(),)``."""
        worker = self._tx
        if worker.connection is None:
            raise ValueError("no active connection")
        return await worker.run_bound(
            _requests.execute_insert, sql, () if parameters is None else parameters
        )

    @contextmanager
    async def execute_fetchall(
        self, sql: str, parameters: Iterable[Any] | None = None
    ) -> list[Any]:
        """Execute ``sql`` and return all its rows, in one round trip."""
        worker = self._tx
        if worker.connection is None:
            raise ValueError("no active connection")
        rows: list[Any] = await worker.run_bound(
            _dbapi.Connection.fetchall_rows, sql, () if parameters is None else parameters
        )
        return rows

    @contextmanager
    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> Cursor:
        """Execute ``sql`` once per parameter set on a new cursor."""
        worker = self._tx
        if worker.connection is None:
            raise ValueError("no active connection")
        cursor = await worker.run_bound(_requests.executemany, sql, parameters)
        return Cursor(self, cursor, worker=worker)

    @contextmanager
    async def executescript(self, sql_script: str) -> Cursor:
        """Execute a script of several statements on a new cursor."""
        cursor = await self._tx.run(self._conn.executescript, sql_script)
        return self._new_cursor(cursor)

    async def interrupt(self) -> None:
        """``sqlite3.Connection.interrupt()``: stop every running statement now.

        Cancelling the task that awaits a query is the finer tool: it stops
        exactly that query.
        """
        engine = self._tx.engine
        if engine is None or self._connection is None:
            raise ValueError("no active connection")
        engine.interrupt()

    # ----------------------------------------------------------------- callbacks

    def _bridge(self, function: Callable[..., Any] | None) -> Callable[..., Any] | None:
        """Sync callbacks run in the worker; ``async def`` ones in the event loop."""
        engine = self._tx.engine
        assert engine is not None
        return bridge(engine, function)

    async def create_function(
        self, name: str, num_params: int, func: Callable[..., Any], deterministic: bool = False
    ) -> None:
        """Make ``func`` callable from SQL as ``name`` (it may be ``async def``)."""
        bridged = self._bridge(func)
        await self._tx.run(
            _requests.create_function, self._conn, name, num_params, bridged, deterministic
        )

    async def create_aggregate(self, name: str, n_arg: int, aggregate_class: Any) -> None:
        """``sqlite3.Connection.create_aggregate`` (an aiolite addition)."""
        await self._tx.run(self._conn.create_aggregate, name, n_arg, aggregate_class)

    async def create_window_function(
        self, name: str, num_params: int, aggregate_class: Any
    ) -> None:
        """``sqlite3.Connection.create_window_function`` (an aiolite addition)."""
        await self._tx.run(self._conn.create_window_function, name, num_params, aggregate_class)

    async def create_collation(self, name: str, callable: Callable[[str, str], int] | None) -> None:
        """``sqlite3.Connection.create_collation`` (an aiolite addition)."""
        await self._tx.run(self._conn.create_collation, name, callable)

    async def set_progress_handler(self, handler: Callable[[], int | None] | None, n: int) -> None:
        """Call ``handler`` about every ``n`` SQLite steps; a true result aborts the statement.

        It is chained after aiolite's own handler, so cancellation keeps working.
        """
        engine = self._tx.engine
        assert engine is not None
        function = self._bridge(handler) if n >= 1 else None
        await self._tx.run(engine.set_user_progress_handler, function, max(n, 1))

    async def set_trace_callback(self, handler: Callable[[str], object] | None) -> None:
        """Call ``handler`` with the text of each statement SQLite runs."""
        await self._tx.run(self._conn.set_trace_callback, self._bridge(handler))

    async def set_authorizer(self, authorizer_callback: AuthorizerCallback | None) -> None:
        """Let ``authorizer_callback`` allow (``SQLITE_OK``), deny or ignore each access."""
        await self._tx.run(self._conn.set_authorizer, self._bridge(authorizer_callback))

    async def enable_load_extension(self, value: bool) -> None:
        await self._tx.run(self._conn.enable_load_extension, value)

    async def load_extension(self, path: str, **kwargs: Any) -> None:
        await self._execute(self._conn.load_extension, path, **kwargs)

    # ------------------------------------------------------------ whole database

    async def iterdump(self, **kwargs: Any) -> AsyncIterator[str]:
        """The database as SQL text, line by line (``sqlite3.Connection.iterdump``).

        Lines are fetched in chunks, each a request of its own.
        """
        lines = self._conn.iterdump(**kwargs)  # a generator; its body runs in the worker
        while True:
            chunk: list[str] = await self._tx.run(_requests.take, lines, _DUMP_CHUNK)
            for line in chunk:
                yield line
            if len(chunk) < _DUMP_CHUNK:
                return

    async def backup(
        self,
        target: Connection | _dbapi.Connection | sqlite3.Connection,
        *,
        pages: int = 0,
        progress: Callable[[int, int, int], object] | None = None,
        name: str = "main",
        sleep: float = 0.250,
    ) -> None:
        """Copy this database into ``target`` (an aiosqlite-style or a ``sqlite3`` connection)."""
        if isinstance(target, Connection):
            target = target._conn
        bridged = self._bridge(progress)
        await self._tx.run(_requests.backup, self._conn, target, pages, bridged, name, sleep)

    async def blobopen(
        self, table: str, column: str, row: int, /, *, readonly: bool = False, name: str = "main"
    ) -> Blob:
        """Open the blob in ``table.column`` at rowid ``row`` (an aiolite addition)."""
        conn = self._conn
        blob = await self._tx.run(_requests.blobopen, conn, table, column, row, readonly, name)
        return Blob(self._tx, blob)

    async def serialize(self, *, name: str = "main") -> bytes:
        """The database ``name`` as the bytes of a database file, as
        ``sqlite3.Connection.serialize`` (an aiolite addition)."""
        image: bytes = await self._tx.run(partial(self._conn.serialize, name=name))
        return image

    async def deserialize(self, data: bytes, /, *, name: str = "main") -> None:
        """Replace the database ``name`` with an in-memory copy of ``data``, as
        ``sqlite3.Connection.deserialize`` (an aiolite addition). The image of a
        WAL database works too: it is read as the same database in rollback-journal mode."""
        await self._tx.run(partial(self._conn.deserialize, data, name=name))

    # --------------------------------------------------------------- attributes

    @property
    def in_transaction(self) -> bool:
        """As of the last request that finished (the worker may be running the next)."""
        return self._conn.last_in_transaction

    @property
    def isolation_level(self) -> str | None:
        pending = self._tx.isolation_pending
        return self._conn.isolation_level if pending is None else pending[0]

    @isolation_level.setter
    def isolation_level(self, value: IsolationLevel) -> None:
        """Set in the worker, in order with the requests before it.

        aiosqlite sets it from the event loop's thread, which sqlite3 refuses
        (``ProgrammingError``) whenever the change must commit; here it always
        works. The value is checked at once, as sqlite3 would.
        """
        conn = self._conn
        if value is not None:
            if not isinstance(value, str):
                raise TypeError("isolation_level must be str or None")
            if value.upper() not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
                raise ValueError(
                    "isolation_level string must be '', 'DEFERRED', 'IMMEDIATE', or 'EXCLUSIVE'"
                )
        worker = self._tx
        pending = worker.isolation_pending = (value,)
        self._tx.post(_requests.set_attribute, conn, "isolation_level", value, worker, pending)

    @property
    def autocommit(self) -> Any:
        """sqlite3's ``autocommit`` (Python 3.12+); set in the worker, like ``isolation_level``."""
        self._conn  # noqa: B018 (raises once closed)
        if self._autocommit is _requests.NO_AUTOCOMMIT:
            raise AttributeError("'sqlite3.Connection' object has no attribute 'autocommit'")
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value: Any) -> None:
        conn = self._conn
        if self._autocommit is _requests.NO_AUTOCOMMIT:
            raise AttributeError("'sqlite3.Connection' object has no attribute 'autocommit'")
        if value not in (True, False, sqlite3.LEGACY_TRANSACTION_CONTROL):  # type: ignore[attr-defined]
            raise ValueError(
                "autocommit must be True, False, or sqlite3.LEGACY_TRANSACTION_CONTROL"
            )
        self._autocommit = value
        self._tx.post(_requests.set_attribute, conn, "autocommit", value, None, None)

    @property
    def row_factory(self) -> Any:
        return self._conn.row_factory

    @row_factory.setter
    def row_factory(self, factory: Any) -> None:
        self._conn.row_factory = factory

    @property
    def text_factory(self) -> Any:
        return self._conn.text_factory

    @text_factory.setter
    def text_factory(self, factory: Any) -> None:
        self._conn.text_factory = factory

    @property
    def total_changes(self) -> int:
        """As of the last request that finished (the worker may be running the next)."""
        return self._conn.last_total_changes

    def __repr__(self) -> str:
        state = "open" if self._connection is not None else "closed"
        return f"<aiolite.aiosqlite.Connection {state} at {id(self):#x}>"


def worker_of(connection: Connection) -> Worker:
    """The internal interface of ``connection`` its cursors and blobs use (see ``_worker``)."""
    return connection._tx


def connect(
    database: str | bytes | Path | Any,
    *,
    iter_chunk_size: int = 64,
    loop: asyncio_bridge.EventLoop | None = None,
    **kwargs: Any,
) -> Connection:
    """Open ``database`` in a worker thread, as ``sqlite3.connect(database, **kwargs)`` would.

    Await the result, or use it with ``async with`` to also close it. Any
    ``sqlite3.connect`` keyword works (``timeout``, ``detect_types``,
    ``isolation_level``, ``uri``, ``autocommit`` on Python 3.12+, ...);
    the database runs on APSW's SQLite with sqlite3's semantics.
    """
    if loop is not None:
        warn(
            "aiosqlite.connect() no longer uses the `loop` parameter",
            DeprecationWarning,
            stacklevel=2,
        )
    if isinstance(database, str):
        location = database
    elif isinstance(database, bytes):
        location = database.decode("utf-8")
    else:
        location = str(database)

    def connector() -> _dbapi.Connection:
        return _dbapi.connect(location, **kwargs)

    return Connection(connector, iter_chunk_size)
