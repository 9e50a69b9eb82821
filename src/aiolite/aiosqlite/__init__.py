"""aiosqlite 0.22, to the letter, on the aiolite engine: change one import.

``import aiolite.aiosqlite as aiosqlite`` gives aiosqlite's whole public API
with sqlite3's semantics and exception classes, run on APSW's SQLite (the
one SQLite library aiolite uses, so this module and aiolite's pool can share
a file), plus what aiolite's engine brings: cancelling the awaiting task really stops the
query inside SQLite (the connection stays usable), trio and anyio work, a
forgotten connection never hangs the process at exit, and it is faster.

>>> import asyncio
>>> from aiolite import aiosqlite
>>> async def main():
...     async with aiosqlite.connect(":memory:") as db:
...         async with db.execute("SELECT 1, 2") as cursor:
...             return await cursor.fetchall()
>>> asyncio.run(main())
[(1, 2)]
"""

from sqlite3 import (
    DatabaseError,
    Error,
    IntegrityError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Warning,
    paramstyle,
    register_adapter,
    register_converter,
)

from .__version__ import __version__
from ._dbapi import Row, sqlite_version, sqlite_version_info
from .blob import Blob
from .core import Connection, Cursor, connect

__author__ = "aiolite (API of aiosqlite by Amethyst Reese)"

__all__ = [
    "Blob",
    "Connection",
    "Cursor",
    "DatabaseError",
    "Error",
    "IntegrityError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Row",
    "Warning",
    "__version__",
    "connect",
    "paramstyle",
    "register_adapter",
    "register_converter",
    "sqlite_version",
    "sqlite_version_info",
]
