"""sqlite3's API and semantics on APSW: the synchronous core of ``aiolite.aiosqlite``.

One process must use one SQLite library: two copies (APSW's bundled one and
the one behind the standard library's ``sqlite3``) do not see each other's
POSIX locks and corrupt a file they share. So ``aiolite.aiosqlite`` does not
run on ``sqlite3``; it runs this module, which reproduces what sqlite3 users
rely on (implicit transactions, ``Row``, adapters and converters, the
exception classes, ``rowcount``/``lastrowid``/``description``) on the same
APSW SQLite as the rest of aiolite. The standard library's ``sqlite3`` is
its test oracle, not its engine.

>>> db = connect(":memory:")
>>> db.execute("CREATE TABLE t(x UNIQUE)").rowcount
-1
>>> db.execute("INSERT INTO t VALUES (?)", (1,)).rowcount, db.in_transaction
(1, True)
>>> db.commit()
>>> import sqlite3
>>> try:
...     db.execute("INSERT INTO t VALUES (1)")
... except sqlite3.IntegrityError as exc:
...     print(exc)
UNIQUE constraint failed: t.x
>>> db.close()
"""

from __future__ import annotations

import apsw

from .blob import Blob
from .connection import LEGACY_TRANSACTION_CONTROL, Connection, connect
from .cursor import Cursor
from .rows import Row

sqlite_version: str = apsw.sqlite_lib_version()
"""The SQLite really in use: APSW's (what SQLAlchemy reads to enable features)."""
sqlite_version_info: tuple[int, int, int] = tuple(  # type: ignore[assignment]
    int(part) for part in sqlite_version.split(".")[:3]
)

__all__ = [
    "LEGACY_TRANSACTION_CONTROL",
    "Blob",
    "Connection",
    "Cursor",
    "Row",
    "connect",
    "sqlite_version",
    "sqlite_version_info",
]
