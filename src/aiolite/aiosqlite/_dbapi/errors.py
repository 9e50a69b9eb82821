"""APSW's exceptions as the standard library's ``sqlite3`` raises them.

Users of an aiosqlite-style module write ``except sqlite3.IntegrityError``
and SQLAlchemy maps errors by those classes, so every error that leaves this
package is an instance of a ``sqlite3`` exception class, chosen from
SQLite's primary result code exactly as CPython's ``_sqlite/util.c`` chooses
it, with ``sqlite_errorcode`` and ``sqlite_errorname`` set as sqlite3 sets
them. The message is SQLite's own (both libraries print
``sqlite3_errmsg``), so "UNIQUE constraint failed", "database is locked" and
"no such table" read the same.
"""

from __future__ import annotations

import re
import sqlite3

import apsw

CLOSED_DATABASE = "Cannot operate on a closed database."
CLOSED_CURSOR = "Cannot operate on a closed cursor."
ONE_STATEMENT = "You can only execute one statement at a time."
DML_ONLY = "executemany() can only execute DML statements."
UNSUPPORTED_PARAMETERS = "parameters are of unsupported type"
FUNCTION_RAISED = "user-defined function raised exception"

_CLASS_BY_CODE: dict[int, type[sqlite3.Error]] = {
    apsw.SQLITE_INTERNAL: sqlite3.InternalError,
    apsw.SQLITE_NOTFOUND: sqlite3.InternalError,
    apsw.SQLITE_CORRUPT: sqlite3.DatabaseError,
    apsw.SQLITE_TOOBIG: sqlite3.DataError,
    apsw.SQLITE_CONSTRAINT: sqlite3.IntegrityError,
    apsw.SQLITE_MISMATCH: sqlite3.IntegrityError,
    apsw.SQLITE_MISUSE: sqlite3.InterfaceError,
    apsw.SQLITE_RANGE: sqlite3.InterfaceError,
}
for _code in (
    apsw.SQLITE_ERROR,
    apsw.SQLITE_PERM,
    apsw.SQLITE_ABORT,
    apsw.SQLITE_BUSY,
    apsw.SQLITE_LOCKED,
    apsw.SQLITE_READONLY,
    apsw.SQLITE_INTERRUPT,
    apsw.SQLITE_IOERR,
    apsw.SQLITE_FULL,
    apsw.SQLITE_CANTOPEN,
    apsw.SQLITE_PROTOCOL,
    apsw.SQLITE_EMPTY,
    apsw.SQLITE_SCHEMA,
):
    _CLASS_BY_CODE[_code] = sqlite3.OperationalError

_COUNT = re.compile(r"uses (\d+) and there are (\d+) supplied")
_NO_NAME = re.compile(r"Binding (\d+) has no name")


class UserCallbackError(Exception):
    """A user's SQL function, aggregate or window method raised; sqlite3 reports it as one.

    Raised inside the callback wrapper so that the statement fails with
    sqlite3's fixed message instead of the user's own exception, which is
    kept as ``__cause__``.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _bindings_message(text: str) -> str:
    count = _COUNT.search(text)
    if count:
        return (
            "Incorrect number of bindings supplied. The current statement uses "
            f"{count[1]}, and there are {count[2]} supplied."
        )
    no_name = _NO_NAME.search(text)
    if no_name:
        return (
            f"Binding {int(no_name[1]) + 1} has no name, but you supplied a dictionary "
            "(which has only names)."
        )
    return text


def _sqlite_error(cls: type[sqlite3.Error], message: str, code: int | None) -> sqlite3.Error:
    error = cls(message)
    if code is not None:
        name = apsw.mapping_extended_result_codes.get(code) or apsw.mapping_result_codes.get(
            code & 0xFF, "SQLITE_UNKNOWN"
        )
        error.sqlite_errorcode = code
        error.sqlite_errorname = str(name)
    return error


def translate(exc: BaseException) -> BaseException:
    """The exception sqlite3 would have raised where APSW raised ``exc`` (others unchanged)."""
    if isinstance(exc, UserCallbackError):
        return _sqlite_error(sqlite3.OperationalError, exc.message, apsw.SQLITE_ERROR)
    if isinstance(exc, UnicodeDecodeError):  # APSW decoding a TEXT value that is not UTF-8
        return _sqlite_error(
            sqlite3.OperationalError,
            f"Could not decode to UTF-8 column with text {exc.object!r}",
            apsw.SQLITE_ERROR,
        )
    if not isinstance(exc, apsw.Error):
        return exc
    if isinstance(exc, apsw.BindingsError):
        return sqlite3.ProgrammingError(_bindings_message(str(exc)))
    if isinstance(exc, apsw.ConnectionClosedError):
        return sqlite3.ProgrammingError(CLOSED_DATABASE)
    if isinstance(exc, apsw.CursorClosedError):
        return sqlite3.ProgrammingError(CLOSED_CURSOR)
    if isinstance(exc, apsw.ThreadingViolationError):
        return sqlite3.ProgrammingError("Recursive use of cursors not allowed.")
    message = str(exc).removeprefix(f"{type(exc).__name__}: ")
    if isinstance(exc, apsw.ExtensionLoadingError):
        return _sqlite_error(sqlite3.OperationalError, message, apsw.SQLITE_ERROR)
    result: int | None = getattr(exc, "result", None)
    if result is None or result < 0:
        return _sqlite_error(sqlite3.DatabaseError, message, None)
    if result == apsw.SQLITE_NOMEM:
        return MemoryError()
    extended: int = getattr(exc, "extendedresult", result)
    return _sqlite_error(_CLASS_BY_CODE.get(result, sqlite3.DatabaseError), message, extended)
