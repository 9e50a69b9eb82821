"""``sqlite3.Connection``'s semantics on an APSW connection.

Transactions follow sqlite3 to the letter: with ``isolation_level`` set
(legacy control, the default) a ``BEGIN`` is issued before the first DML
statement and ``commit()`` commits; with ``autocommit=False`` (Python 3.12+)
a transaction is always open; with ``autocommit=True`` or
``isolation_level=None`` nothing is implicit.

One rule is aiolite's own, because sqlite3 cannot be cancelled and aiolite
can: when SQLite rolls a transaction back underneath a failing statement
(an interrupted write - a cancelled or past-deadline request - a full disk,
an I/O error, a busy upgrade), the statements before it are gone. sqlite3
would carry on in autocommit and a later ``commit()`` would succeed over the
loss. Here the connection remembers it: every ``execute``,
``executemany``, ``executescript`` and ``commit()`` raises
``sqlite3.OperationalError`` naming the cause until the caller calls
``rollback()`` (or executes ``ROLLBACK``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

import apsw

from ..._apsw import in_memory_image, is_plain_rollback, open_blob
from . import callbacks
from .blob import Blob
from .cursor import Cursor
from .errors import CLOSED_DATABASE, translate
from .parameters import plain_values
from .rows import Converter, Description, column_name, row_converter

LEGACY_TRANSACTION_CONTROL: int = getattr(sqlite3, "LEGACY_TRANSACTION_CONTROL", -1)
HAS_AUTOCOMMIT = hasattr(sqlite3, "LEGACY_TRANSACTION_CONTROL")
"""sqlite3 has ``autocommit`` from Python 3.12; so does this connection."""

_LEVELS = ("", "DEFERRED", "IMMEDIATE", "EXCLUSIVE")
_FACTS_KEPT = 256
"""How many SQL texts (and column sets) a connection remembers facts about."""

Shape = tuple[tuple[str, ...], Description, Converter | None]


def _check_level(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("isolation_level must be str or None")
    if value.upper() not in _LEVELS:
        raise ValueError(
            "isolation_level string must be '', 'DEFERRED', 'IMMEDIATE', or 'EXCLUSIVE'"
        )
    return value


def _location(database: str, uri: bool) -> str:
    """Where APSW opens ``database``: shared-cache memory URIs go to the ``memdb`` VFS.

    APSW's SQLite is built without shared cache, so ``file::memory:?cache=shared``
    and ``file:name?mode=memory&cache=shared`` would each open a private
    database. SQLite's ``memdb`` VFS shares a database by name between the
    connections of a process, and frees it when the last one closes: what
    sqlite3 users get from the shared cache.

    >>> _location("file:books?mode=memory&cache=shared", True)
    'file:/aiolite-shared-books?vfs=memdb'
    >>> _location("file:books?mode=memory", True), _location("app.db", False)
    ('file:books?mode=memory', 'app.db')
    """
    if not uri or not database.startswith("file:"):
        return database
    path, _, query = database[5:].partition("?")
    query = query.partition("#")[0]
    options = dict(parse_qsl(query, keep_blank_values=True))
    memory = path == ":memory:" or options.get("mode") == "memory"
    if not memory or options.get("cache") != "shared":
        return database
    return f"file:/{quote('aiolite-shared-' + unquote(path), safe='')}?vfs=memdb"


def _lost_message(exc: BaseException) -> str:
    if isinstance(exc, apsw.InterruptError):
        cause = "a statement in it was interrupted (cancelled, or past its deadline)"
    else:
        cause = f"a statement in it failed ({translate(exc).__class__.__name__}: {exc})"
    return (
        f"the transaction was rolled back because {cause}; "
        "call rollback() before using the connection again"
    )


class Connection:
    """A connection with sqlite3's behaviour (see the module docstring)."""

    Error = sqlite3.Error
    Warning = sqlite3.Warning
    InterfaceError = sqlite3.InterfaceError
    DatabaseError = sqlite3.DatabaseError
    DataError = sqlite3.DataError
    OperationalError = sqlite3.OperationalError
    IntegrityError = sqlite3.IntegrityError
    InternalError = sqlite3.InternalError
    ProgrammingError = sqlite3.ProgrammingError
    NotSupportedError = sqlite3.NotSupportedError

    def __init__(
        self,
        database: str | bytes | os.PathLike[str] | os.PathLike[bytes],
        timeout: float = 5.0,
        detect_types: int = 0,
        isolation_level: str | None = "",
        check_same_thread: bool = True,
        factory: Any = None,
        cached_statements: int = 128,
        uri: bool = False,
        *,
        autocommit: Any = LEGACY_TRANSACTION_CONTROL,
    ) -> None:
        # check_same_thread is accepted and has no effect: APSW connections are
        # thread-safe, and aiolite uses each one from its worker thread only.
        if factory is not None and factory is not sqlite3.Connection:
            raise sqlite3.NotSupportedError(
                "factory= is not supported: aiolite.aiosqlite connections run on APSW"
            )
        self._level = _check_level(isolation_level)
        if autocommit not in (True, False, LEGACY_TRANSACTION_CONTROL):
            raise ValueError(
                "autocommit must be True, False, or sqlite3.LEGACY_TRANSACTION_CONTROL"
            )
        self._autocommit = autocommit
        self.detect_types = detect_types
        self.row_factory: Any = None
        self.text_factory: Any = str
        self.lost: str | None = None
        """Why a transaction was rolled back underneath (see the module docstring), until
        ``rollback()`` acknowledges it."""
        self.last_in_transaction = autocommit is False
        self.last_total_changes = 0
        self._trace: Callable[[str], object] | None = None
        self.plain_statements: dict[str, int] = {}
        """SQL texts already checked to be one statement without result columns, with
        their parameter counts: they run without the cursor's exec tracer."""
        self.single_statements: dict[str, bool] = {}
        """SQL texts already checked to hold one statement."""
        self.queries: dict[str, int] = {}
        """SQL texts already run as one statement with result columns that sqlite3 does
        not treat as DML (no implicit ``BEGIN``), with their parameter counts: what
        :meth:`fetchall_rows` may run without the emulated cursor."""
        self._shapes: dict[tuple[Any, ...], Shape] = {}
        self.running: apsw.Cursor | None = None
        """The APSW cursor of the statement being stepped (for the trace callback)."""
        flags = apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
        if uri:
            flags |= apsw.SQLITE_OPEN_URI
        try:
            self.apsw: apsw.Connection | None = apsw.Connection(
                _location(os.fsdecode(database), uri),
                flags=flags,
                statementcachesize=max(cached_statements, 0),
            )
        except apsw.Error as exc:
            raise translate(exc) from exc
        connection = self.apsw
        connection.set_busy_timeout(int(timeout * 1000))
        # APSW's SQLite is built with recursive triggers on; sqlite3's is not,
        # and they change what REPLACE does.
        connection.execute("PRAGMA recursive_triggers = OFF")
        if autocommit is False:
            connection.execute("BEGIN")

    # ------------------------------------------------------------------ state

    def check_open(self) -> apsw.Connection:
        """The APSW connection, or sqlite3's error once closed."""
        connection = self.apsw
        if connection is None:
            raise sqlite3.ProgrammingError(CLOSED_DATABASE)
        return connection

    def remember_state(self) -> None:
        """Record what other threads may read (APSW refuses reads while a statement runs)."""
        connection = self.apsw
        if connection is not None:
            self.last_in_transaction = connection.in_transaction
            self.last_total_changes = connection.total_changes()

    @property
    def in_transaction(self) -> bool:
        return self.check_open().in_transaction

    @property
    def total_changes(self) -> int:
        return self.check_open().total_changes()

    @property
    def isolation_level(self) -> str | None:
        return self._level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        level = _check_level(value)
        if level is None and self._autocommit == LEGACY_TRANSACTION_CONTROL:
            self.commit()  # sqlite3 commits when implicit transactions are turned off
        self._level = level

    @property
    def autocommit(self) -> Any:
        if not HAS_AUTOCOMMIT:
            raise AttributeError("'Connection' object has no attribute 'autocommit'")
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value: Any) -> None:
        if value not in (True, False, LEGACY_TRANSACTION_CONTROL):
            raise ValueError(
                "autocommit must be True, False, or sqlite3.LEGACY_TRANSACTION_CONTROL"
            )
        connection = self.check_open()
        if value is True and self._autocommit is False and connection.in_transaction:
            self._run("COMMIT")
        self._autocommit = value
        if value is False and not connection.in_transaction:
            self._run("BEGIN")

    def float_text(self, value: float) -> str:
        """SQLite's own text for a REAL, which converters receive as bytes."""
        return str(self.check_open().execute("SELECT CAST(? AS TEXT)", (value,)).get)

    @staticmethod
    def remember(memo: dict[str, Any], sql: str, fact: Any) -> None:
        """Keep a fact learned about ``sql`` (a bounded memo: full, it starts again)."""
        if len(memo) >= _FACTS_KEPT:
            memo.clear()
        memo[sql] = fact

    def shape_of(self, columns: tuple[tuple[Any, ...], ...]) -> Shape:
        """Column names, ``description`` and row converter for APSW's ``columns``.

        Worked out once per set of columns and settings: every execute of a
        query needs them, and the converter lookup is not free.
        """
        key = (columns, self.detect_types, self.text_factory)
        shape = self._shapes.get(key)
        if shape is None:
            parse = bool(self.detect_types & sqlite3.PARSE_COLNAMES)
            names = tuple(column_name(column[0], parse) for column in columns)
            description = tuple((name, None, None, None, None, None, None) for name in names)
            convert = row_converter(
                [(column[0], column[1]) for column in columns],
                self.detect_types,
                self.text_factory,
                self.float_text,
            )
            if len(self._shapes) >= _FACTS_KEPT:
                self._shapes.clear()
            shape = self._shapes[key] = (names, description, convert)
        return shape

    # ------------------------------------------------------------ transactions

    def _run(self, sql: str) -> None:
        connection = self.check_open()
        was_open = connection.in_transaction
        try:
            connection.execute(sql)
        except BaseException as exc:
            self.note_failure(was_open, exc)
            raise translate(exc) from exc

    def note_failure(self, was_open: bool, exc: BaseException) -> None:
        """Remember a transaction that SQLite rolled back underneath a failed statement."""
        connection = self.apsw
        if was_open and connection is not None and not connection.in_transaction:
            self.lost = self.lost or _lost_message(exc)

    def refuse_if_lost(self, sql: str | None) -> bool:
        """Raise while a transaction rolled back underneath has not been acknowledged.

        A ``ROLLBACK`` statement (``sql``) acknowledges it; True then means no
        transaction is left for it to undo, so it need not run.
        """
        if self.lost is None:
            return False
        if sql is None or not is_plain_rollback(sql):
            raise sqlite3.OperationalError(self.lost)
        self.lost = None
        return not self.check_open().in_transaction

    def begin_if_needed(self, dml: bool) -> None:
        """sqlite3's implicit ``BEGIN`` before a DML statement (legacy transaction control)."""
        if (
            dml
            and self._level is not None
            and self._autocommit == LEGACY_TRANSACTION_CONTROL
            and not self.check_open().in_transaction
        ):
            self._run(f"BEGIN {self._level}")

    def commit_before_script(self) -> None:
        """``executescript`` commits a pending transaction first under legacy control."""
        if self._autocommit == LEGACY_TRANSACTION_CONTROL and self.check_open().in_transaction:
            self._run("COMMIT")

    def commit(self) -> None:
        """Commit the open transaction; refused over a transaction SQLite rolled back."""
        connection = self.check_open()
        self.refuse_if_lost(None)
        if self._autocommit is True:
            return
        if connection.in_transaction:
            self._run("COMMIT")
        if self._autocommit is False:
            self._run("BEGIN")

    def rollback(self) -> None:
        """Roll back the open transaction, and acknowledge one SQLite already rolled back."""
        connection = self.check_open()
        self.lost = None
        if self._autocommit is True:
            return
        if connection.in_transaction:
            self._run("ROLLBACK")
        if self._autocommit is False:
            self._run("BEGIN")

    def close(self) -> None:
        """Close (idempotent); an uncommitted transaction is rolled back, as in sqlite3."""
        connection, self.apsw = self.apsw, None
        if connection is None:
            return
        try:
            connection.close()
        except apsw.Error:
            connection.close(True)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.rollback()

    # -------------------------------------------------------------- statements

    def cursor(self, factory: Callable[[Connection], Cursor] = Cursor) -> Cursor:
        return factory(self)

    def execute(self, sql: str, parameters: Any = ()) -> Cursor:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Any]) -> Cursor:
        return self.cursor().executemany(sql, parameters)

    def fetchall_rows(self, sql: str, parameters: Any) -> list[Any]:
        """``execute(sql, parameters).fetchall()``, then :meth:`remember_state`: one request.

        aiosqlite's ``execute_fetchall`` as one worker request body (the
        engine passes the connection as ``self``). A query this connection
        already ran through the emulated cursor (see :attr:`queries`), given
        the same number of plain positional values, with no row factory,
        converter, text factory or trace callback in force and no transaction
        lost, runs straight on APSW: sqlite3's cursor would add nothing to
        it, and skipping it is most of this request's Python.
        """
        connection = self.apsw
        if connection is None:
            raise sqlite3.ProgrammingError(CLOSED_DATABASE)
        try:
            kind = type(parameters)
            if (
                (kind is tuple or kind is list)
                and self.lost is None
                and self.row_factory is None
                and self._trace is None
                and self.text_factory is str
                and not self.detect_types
                and type(sql) is str
                and self.queries.get(sql) == len(parameters)
                and (not parameters or plain_values(parameters))
            ):
                was_open = connection.in_transaction
                try:
                    return connection.execute(sql, parameters).fetchall()
                except BaseException as exc:
                    self.note_failure(was_open, exc)
                    error = translate(exc)
                    if error is exc:
                        raise
                    raise error from exc
            return self.cursor().execute(sql, parameters).fetchall()
        finally:
            if self.apsw is not None:  # remember_state, inlined
                self.last_in_transaction = connection.in_transaction
                self.last_total_changes = connection.total_changes()

    def executescript(self, sql_script: str) -> Cursor:
        return self.cursor().executescript(sql_script)

    def interrupt(self) -> None:
        self.check_open().interrupt()

    # --------------------------------------------------------------- callbacks

    def create_function(
        self, name: str, narg: int, func: Callable[..., Any] | None, *, deterministic: bool = False
    ) -> None:
        wrapped = None if func is None else callbacks.scalar(func)
        self._call(
            self.check_open().create_scalar_function,
            name,
            wrapped,
            narg,
            deterministic=deterministic,
        )

    def create_aggregate(self, name: str, n_arg: int, aggregate_class: Any) -> None:
        factory = None if aggregate_class is None else callbacks.aggregate(aggregate_class)
        self._call(self.check_open().create_aggregate_function, name, factory, n_arg)

    def create_window_function(self, name: str, num_params: int, aggregate_class: Any) -> None:
        factory = None if aggregate_class is None else callbacks.window(aggregate_class)
        self._call(self.check_open().create_window_function, name, factory, num_params)

    def create_collation(self, name: str, callable: Callable[[str, str], int] | None) -> None:
        if callable is not None and not hasattr(callable, "__call__"):  # noqa: B004
            raise TypeError("parameter must be callable")
        self._call(self.check_open().create_collation, name, callable)

    def set_authorizer(self, authorizer_callback: Callable[..., int] | None) -> None:
        wrapped = None if authorizer_callback is None else callbacks.authorizer(authorizer_callback)
        self.check_open().authorizer = wrapped

    def set_progress_handler(self, progress_handler: Callable[[], Any] | None, n: int) -> None:
        self.check_open().set_progress_handler(progress_handler, n)

    def set_trace_callback(self, trace_callback: Callable[[str], object] | None) -> None:
        """Call ``trace_callback`` with each statement's text, parameters expanded (as sqlite3)."""
        connection = self.check_open()
        self._trace = trace_callback
        if trace_callback is None:
            connection.trace_v2(0, None, id=self)
        else:
            connection.trace_v2(apsw.SQLITE_TRACE_STMT, self._on_trace, id=self)

    def _on_trace(self, event: dict[str, Any]) -> None:
        trace = self._trace
        if trace is not None:
            # sqlite3 reports the running statement with its parameters expanded,
            # also for the statements of the triggers it fires.
            running = self.running
            text = event["sql"] if running is None else (running.expanded_sql or event["sql"])
            with contextlib.suppress(Exception):  # sqlite3 ignores a failing trace callback
                trace(text)

    def enable_load_extension(self, enabled: bool, /) -> None:
        self.check_open().enable_load_extension(enabled)

    def load_extension(self, path: str, /, *, entrypoint: str | None = None) -> None:
        self._call(self.check_open().load_extension, path, entrypoint)

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except apsw.Error as exc:
            raise translate(exc) from exc

    # ---------------------------------------------------------- whole database

    def iterdump(self, **kwargs: Any) -> Iterator[str]:
        """The database as SQL text, produced by the standard library's own dumper."""
        from sqlite3 import dump

        # The one private name of another library aiolite uses: sqlite3.Connection.iterdump
        # is this very call (in C), and the dumper only needs sqlite3's API, which this
        # connection has; so the lines are exactly sqlite3's, on any Python version.
        return dump._iterdump(self, **kwargs)  # type: ignore[attr-defined,no-any-return]

    def backup(
        self,
        target: Connection | sqlite3.Connection,
        *,
        pages: int = -1,
        progress: Callable[[int, int, int], object] | None = None,
        name: str = "main",
        sleep: float = 0.250,
    ) -> None:
        """Copy database ``name`` into ``target``'s main database, ``pages`` at a time.

        A plain ``sqlite3.Connection`` target runs on another SQLite library:
        the copy goes through an in-memory image handed to that library, so
        neither library ever touches the other's files.
        """
        source = self.check_open()
        if isinstance(target, sqlite3.Connection):
            image = self._call(source.serialize, name)
            bridge = sqlite3.connect(":memory:")
            try:
                if image:
                    bridge.deserialize(in_memory_image(image))
                bridge.backup(target, pages=pages, progress=progress, sleep=sleep)
            finally:
                bridge.close()
            return
        if not isinstance(target, Connection):
            raise TypeError("target must be a Connection")
        if target is self:
            raise ValueError("target cannot be the same connection instance")
        step = pages if pages > 0 else -1
        with self._call(target.check_open().backup, "main", source, name) as copy:
            while True:
                try:
                    done = copy.step(step)
                except (apsw.BusyError, apsw.LockedError):
                    time.sleep(sleep)
                    continue
                except apsw.Error as exc:
                    raise translate(exc) from exc
                if progress is not None:
                    progress(
                        apsw.SQLITE_DONE if done else apsw.SQLITE_OK,
                        copy.remaining,
                        copy.page_count,
                    )
                if done:
                    return

    def blobopen(
        self, table: str, column: str, row: int, /, *, readonly: bool = False, name: str = "main"
    ) -> Blob:
        conn = self.check_open()
        return Blob(self, self._call(open_blob, conn, name, table, column, row, not readonly))

    def serialize(self, *, name: str = "main") -> bytes:
        image: bytes | None = self._call(self.check_open().serialize, name)
        return image or b""

    def deserialize(self, data: bytes, /, *, name: str = "main") -> None:
        """As sqlite3's, but the image of a WAL database opens (in-memory databases
        cannot be WAL: it is read as the same database in rollback-journal mode)."""
        self._call(self.check_open().deserialize, name, in_memory_image(bytes(data)))

    def getlimit(self, category: int, /) -> int:
        return self._call(self.check_open().limit, category)  # type: ignore[no-any-return]

    def setlimit(self, category: int, limit: int, /) -> int:
        return self._call(self.check_open().limit, category, limit)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        state = "open" if self.apsw is not None else "closed"
        return f"<aiolite.aiosqlite dbapi Connection {state} at {id(self):#x}>"


def connect(database: Any, *args: Any, **kwargs: Any) -> Connection:
    """``sqlite3.connect`` on APSW: the same arguments, the same behaviour."""
    if "autocommit" in kwargs and not HAS_AUTOCOMMIT:
        raise TypeError("'autocommit' is an invalid keyword argument for connect()")
    return Connection(database, *args, **kwargs)
