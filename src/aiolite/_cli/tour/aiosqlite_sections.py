"""Tour sections for ``aiolite.aiosqlite`` (aiosqlite's API) and the ``sqlite+aiolite`` dialect."""

from __future__ import annotations

import asyncio
import importlib.util
import time
from pathlib import Path

from ... import aiosqlite
from ..endless import ENDLESS_QUERY
from .printing import heading, step

ENDLESS_INSERT = (
    "INSERT INTO items(name) SELECT x FROM "
    "(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c)"
)


async def aiosqlite_dropin(folder: Path) -> None:
    heading("aiolite.aiosqlite: aiosqlite's API, one import changed")
    step("from aiolite import aiosqlite   # instead of: import aiosqlite")
    step(
        "sqlite3's semantics, run on the SQLite the rest of aiolite uses (one library per "
        "process, so a pool and this module can share a file): aiosqlite.sqlite_version",
        aiosqlite.sqlite_version,
    )
    async with aiosqlite.connect(folder / "compat.db") as db:
        db.row_factory = aiosqlite.Row
        await db.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT)")
        await db.executemany("INSERT INTO items(name) VALUES (?)", [("pen",), ("ink",)])
        step("sqlite3's implicit transaction after an INSERT: in_transaction", db.in_transaction)
        await db.commit()
        async with db.execute("SELECT id, name FROM items ORDER BY id") as cursor:
            step(
                "async with db.execute(...) + async for, Row rows", [dict(r) async for r in cursor]
            )
        step(
            "execute_insert returns (last_insert_rowid(),)",
            tuple(await db.execute_insert("INSERT INTO items(name) VALUES ('nib')")),
        )
        try:
            await db.execute("INSERT INTO items(id, name) VALUES (1, 'dup')")
        except aiosqlite.IntegrityError as exc:
            step("sqlite3's own exception types", f"{type(exc).__module__}.{type(exc).__name__}")
        await db.rollback()

        started = time.perf_counter()
        try:
            async with asyncio.timeout(0.1):
                await db.execute(ENDLESS_QUERY)
        except TimeoutError:
            pass
        step(
            "asyncio.timeout(0.1) around an endless query: stopped inside SQLite after (s)",
            round(time.perf_counter() - started, 2),
        )
        rows = await db.execute_fetchall("SELECT 1")
        step("and the connection is still usable", [tuple(row) for row in rows])

        await db.execute("INSERT INTO items(name) VALUES ('quill')")  # implicit BEGIN
        try:
            async with asyncio.timeout(0.1):
                await db.execute(ENDLESS_INSERT)
        except TimeoutError:
            pass  # caught, as a careless caller would
        try:
            await db.commit()
            step("commit() after a stopped write: committed half a transaction (a bug!)")
        except aiosqlite.OperationalError as exc:
            step("commit() after a stopped write in the transaction is refused", str(exc)[:62])
        await db.rollback()
        rows = await db.execute_fetchall("SELECT count(*) FROM items WHERE name = 'quill'")
        step("rollback(): nothing of that transaction was kept, 'quill' rows", rows[0][0])


async def sqlalchemy_dialect(folder: Path) -> None:
    heading("SQLAlchemy: create_async_engine('sqlite+aiolite:///...')")
    if importlib.util.find_spec("sqlalchemy") is None:
        step("SQLAlchemy is not installed (pip install aiolite[sqlalchemy]); skipped")
        return
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(f"sqlite+aiolite:///{folder / 'compat.db'}")
    try:
        async with engine.connect() as conn:
            names = (await conn.execute(text("SELECT name FROM items ORDER BY id"))).scalars()
            step("the entry-point dialect, driver " + repr(engine.dialect.driver), list(names))
    finally:
        await engine.dispose()


SECTIONS = (aiosqlite_dropin, sqlalchemy_dialect)
