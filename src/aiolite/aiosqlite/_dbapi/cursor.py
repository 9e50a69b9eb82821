"""``sqlite3.Cursor``'s semantics on an APSW cursor.

The statement runs on APSW; what sqlite3 adds on top is reproduced here:
one statement per ``execute`` (checked before anything runs), the implicit
``BEGIN`` before DML, ``rowcount``/``lastrowid``/``description`` exactly as
sqlite3 reports them, converters and ``text_factory`` applied to each row,
and sqlite3's exception classes.

APSW calls the cursor's exec tracer once per statement, after preparing it
and before its first step: that is where the statement's columns are read
(``description`` is known even for a query that returns no rows), where a
second statement in the text is refused, and where ``executemany`` refuses
a statement that does not write.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any

import apsw

from .errors import CLOSED_CURSOR, DML_ONLY, ONE_STATEMENT, translate
from .parameters import NamedValues, bindings, plain_rows, plain_values
from .rows import Converter, Description, resolve_factory
from .script import run_script
from .sql_text import is_dml, only_trivia

if TYPE_CHECKING:
    from .connection import Connection


class Cursor:
    """A cursor with sqlite3's behaviour (see the module docstring)."""

    # Defaults at class level: a cursor is made for every execute, and most
    # of these are set again by the statement it runs.
    arraysize = 1
    rowcount = -1
    lastrowid: int | None = None
    description: Description | None = None
    column_names: tuple[str, ...] = ()
    _closed = False
    _active = False  # a statement has rows left to read
    _dml = False
    _many = False
    _sql = ""
    _statements = 0
    _convert: Converter | None = None
    _was_open = False
    _used = False  # an execute or executescript began on it: its state needs a reset
    _supplied: int | None = None  # positional values given to ``execute``
    _bindings_count = 0  # parameters the statement uses

    def __init__(self, connection: Connection) -> None:
        if getattr(connection, "plain_statements", None) is None:
            raise TypeError(f"expected aiolite.aiosqlite connection, got {type(connection)!r}")
        self.connection = connection
        self.row_factory: Any = connection.row_factory
        self._cursor = connection.check_open().cursor()

    # ----------------------------------------------------------------- checks

    def _check(self) -> apsw.Cursor:
        self.connection.check_open()
        if self._closed:
            raise sqlite3.ProgrammingError(CLOSED_CURSOR)
        return self._cursor

    def _on_statement(self, cursor: apsw.Cursor, sql: str, _values: Any) -> bool:
        """APSW's exec tracer: runs before each statement (and each executemany row)."""
        if not cursor.has_vdbe:  # only whitespace and comments: nothing runs
            if self._many and not self._statements:
                raise sqlite3.ProgrammingError(DML_ONLY)
            return True
        statements = self._statements = self._statements + 1
        if statements > 1:
            if not self._many:  # (the text check below normally stops this earlier)
                raise sqlite3.ProgrammingError(ONE_STATEMENT)
            if self._dml:  # the previous execution finished: count what it changed
                self.rowcount += self.connection.check_open().changes()
            return True
        connection = self.connection
        if self._sql not in connection.single_statements:
            # cursor.sql is SQLite's own text of the statement, up to its ";": what
            # follows it must be whitespace and comments only (sqlite3's rule).
            statement = cursor.sql or sql
            at = self._sql.find(statement)
            if at >= 0 and not only_trivia(self._sql, at + len(statement)):
                raise sqlite3.ProgrammingError(ONE_STATEMENT)
            connection.remember(connection.single_statements, self._sql, True)
            if not self._dml:  # no implicit BEGIN: fetchall_rows may run it on APSW
                connection.remember(connection.queries, self._sql, cursor.bindings_count)
        supplied = self._supplied
        count = self._bindings_count = cursor.bindings_count
        if supplied is not None and supplied != count:
            # APSW lets extra values flow into a later statement; sqlite3 refuses at once.
            raise sqlite3.ProgrammingError(
                "Incorrect number of bindings supplied. The current statement uses "
                f"{count}, and there are {supplied} supplied."
            )
        if self._many and cursor.is_readonly:
            raise sqlite3.ProgrammingError(DML_ONLY)
        columns = cursor.description
        if columns:
            self.column_names, self.description, self._convert = connection.shape_of(columns)
        return True

    def _begin(self, sql: str, many: bool) -> apsw.Cursor | None:
        """Reset for a new statement; None when it is a ``ROLLBACK`` with nothing to undo.

        Runs for every execute, so the usual case (open, a str, no lost
        transaction, no implicit ``BEGIN`` due) makes no further Python call.
        """
        connection = self.connection
        apsw_connection = connection.apsw
        if apsw_connection is None or self._closed:
            self._check()  # raises sqlite3's error
        if not isinstance(sql, str):
            raise TypeError(f"execute() argument 1 must be str, not {type(sql).__name__}")
        if "\x00" in sql:
            sql.encode()  # sqlite3 reports a surrogate first
            raise sqlite3.ProgrammingError("the query contains a null character")
        skip = connection.lost is not None and connection.refuse_if_lost(sql)
        self._sql = sql
        if self._used:  # (a new cursor has the class defaults: nothing to reset)
            self._active = False
            self._statements = 0
            self.rowcount = -1
            self.description = None
            self.column_names = ()
            self._convert = None
            self._many = self._dml = False
        else:
            self._used = True
        if many:
            self._many = True
        dml = is_dml(sql)
        if dml:
            self._dml = True
            self.rowcount = 0
        if skip or apsw_connection is None:
            return None
        # Whether statements before this one are at stake if SQLite rolls back
        # underneath it: a transaction begun just for it loses nothing else.
        self._was_open = was_open = apsw_connection.in_transaction
        if dml and not was_open:
            connection.begin_if_needed(dml)
        return self._cursor

    def _fail(self, was_open: bool, exc: BaseException) -> BaseException:
        """The error to raise for ``exc``, after noting a transaction SQLite rolled back."""
        self._active = False
        self.connection.note_failure(was_open, exc)
        return translate(exc)

    # ---------------------------------------------------------------- running

    def execute(self, sql: str, parameters: Any = ()) -> Cursor:
        """Run one statement; its first row is stepped here, as sqlite3 does."""
        cursor = self._begin(sql, many=False)
        if cursor is None:
            return self
        kind = type(parameters)
        if (kind is tuple or kind is list) and (not parameters or plain_values(parameters)):
            values: Any = parameters  # what bindings() would return, without its Python
            self._supplied = len(parameters)
        else:
            values = bindings(parameters)
            self._supplied = None if type(values) is NamedValues else len(values)
        connection = self.connection
        # A text already checked (one statement, no result columns) needs no tracer.
        known = connection.plain_statements.get(sql)
        traced = known is None or (self._supplied is not None and self._supplied != known)
        if traced:
            cursor.exec_trace = self._on_statement
        connection.running = cursor
        try:
            cursor.execute(sql, values)
        except BaseException as exc:
            raise self._fail(self._was_open, exc) from exc
        finally:
            if traced:
                cursor.exec_trace = None
            connection.running = None
        apsw_connection = cursor.connection
        self.lastrowid = apsw_connection.last_insert_rowid()
        if self.description is not None:
            self._active = True
            return self
        if traced and self._statements == 1:
            connection.remember(connection.plain_statements, sql, self._bindings_count)
        if self._dml:
            self.rowcount += apsw_connection.changes()
        return self

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any]) -> Cursor:
        """Run one writing statement once per parameter set; rows it returns are discarded."""
        cursor = self._begin(sql, many=True)
        if cursor is None:
            return self
        self._supplied = None  # APSW checks each parameter set's count itself
        rows: Iterable[Any]
        if (type(seq_of_parameters) is list or type(seq_of_parameters) is tuple) and plain_rows(
            seq_of_parameters
        ):
            rows = seq_of_parameters  # each row is what bindings() would return for it
        else:
            rows = (bindings(values) for values in seq_of_parameters)
        cursor.exec_trace = self._on_statement
        self.connection.running = cursor
        try:
            for _ in cursor.executemany(sql, rows):
                pass
        except BaseException as exc:
            raise self._fail(self._was_open, exc) from exc
        finally:
            cursor.exec_trace = None
            self.connection.running = None
        if self.description is not None:
            # sqlite3 counts changes when a step ends the statement; with RETURNING
            # each step yields a row instead, so its rowcount stays 0.
            self.rowcount = 0
        elif self._statements and self._dml:
            self.rowcount += cursor.connection.changes()
        self._active = False
        return self

    def executescript(self, sql_script: str) -> Cursor:
        """Run a script (commits a pending transaction first, as sqlite3 does)."""
        self._check()
        if not isinstance(sql_script, str):
            raise TypeError(
                f"executescript() argument must be str, not {type(sql_script).__name__}"
            )
        if "\x00" in sql_script:
            sql_script.encode()  # sqlite3 reports a surrogate first
            raise ValueError("embedded null character")
        connection = self.connection
        connection.refuse_if_lost(None)
        connection.commit_before_script()
        self._used = True
        self._active = False
        self.rowcount = -1
        self.description = None
        was_open = connection.check_open().in_transaction
        try:
            run_script(connection.check_open(), sql_script)
        except BaseException as exc:
            raise self._fail(was_open, exc) from exc
        return self

    # --------------------------------------------------------------- fetching

    def fetch_rows(self, size: int | None) -> tuple[list[tuple[Any, ...]], Exception | None]:
        """Up to ``size`` rows (all when None) as converted tuples, before any row factory.

        If producing a row fails, the rows before it are returned with the
        error, so the caller can hand them out before raising it.
        """
        connection = self.connection
        if connection.apsw is None or self._closed:
            self._check()  # raises sqlite3's error
        rows: list[tuple[Any, ...]] = []
        if not self._active:
            return rows, None
        cursor = self._cursor
        was_open = self._was_open
        error: Exception | None = None
        connection.running = cursor
        try:
            rows.extend(cursor if size is None else islice(cursor, size))
        except Exception as exc:
            error = self._fail(was_open, exc)  # type: ignore[assignment]
            if error is not exc:
                error.__cause__ = exc  # type: ignore[union-attr]
            if rows:
                # sqlite3 steps one row ahead: the row before the failing one is
                # never handed out, the fetch that would return it raises.
                rows.pop()
        else:
            if size is None or len(rows) < size:
                self._active = False
                if self._dml:
                    self.rowcount += cursor.connection.changes()
        finally:
            connection.running = None
        convert = self._convert
        if convert is not None:
            rows = [convert(row) for row in rows]
        return rows, error

    @property
    def finished(self) -> bool:
        """True once the statement has no rows left to read."""
        return not self._active

    def _shaped(self, size: int | None) -> list[Any]:
        rows, error = self.fetch_rows(size)
        if error is not None:
            raise error
        factory = resolve_factory(self.row_factory)
        if factory is None:
            return rows
        return [factory(self, row) for row in rows]

    def fetchone(self) -> Any:
        rows = self._shaped(1)
        return rows[0] if rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._shaped(self.arraysize if size is None else size)

    def fetchall(self) -> list[Any]:
        return self._shaped(None)

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        rows = self._shaped(1)
        if not rows:
            raise StopIteration
        return rows[0]

    def close(self) -> None:
        """Close the cursor (idempotent); the connection must still be open."""
        self.connection.check_open()
        if not self._closed:
            self._closed = True
            self._active = False
            self._cursor.close()

    def setinputsizes(self, sizes: Any, /) -> None:
        """Required by the DB-API; does nothing, as in sqlite3."""

    def setoutputsize(self, size: Any, column: Any = None, /) -> None:
        """Required by the DB-API; does nothing, as in sqlite3."""
