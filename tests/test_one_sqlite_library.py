"""One SQLite library per process: everything aiolite opens runs on APSW's SQLite.

Two copies of SQLite in one process (APSW's bundled one and the standard
library's ``sqlite3``) do not see each other's POSIX locks: both take the WAL
write lock at once and a file they share is corrupted within a second (issue
12). ``aiolite.aiosqlite`` and the ``sqlite+aiolite`` dialect keep sqlite3's
semantics but must run on APSW's SQLite, like the native API, the pool and
the KV store.

Two kinds of test: direct checks that the module and the dialect run on
APSW's SQLite (cheap, exact), and the scenarios that corrupted files (the KV
store beside a SQLAlchemy engine, a pool beside ``aiolite.aiosqlite``
connections): concurrent writers on one file for a bounded time and number of
writes, then an integrity check and every acknowledged write looked up.
"""

from __future__ import annotations

import _sqlite3
import os
import sqlite3
import sqlite3.dbapi2
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn

import apsw
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import aiolite
from aiolite import aiosqlite
from tests.frameworks import Framework
from tests.helpers import GUARD

APSW_VERSION = apsw.sqlite_lib_version()
APSW_VERSION_INFO = tuple(int(part) for part in APSW_VERSION.split("."))

WRITE_SECONDS = 1.0
"""How long the writers of a scenario run; two SQLite copies failed every time in 0.25 s."""

WRITES_EACH = 2000
"""And at most this many writes per writer, so that a fast machine stays cheap too."""

PAD = "x" * 200
"""Rows a few hundred bytes long: pages fill and split while the writers overlap."""


@pytest.fixture
def no_stdlib_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening a connection through the standard library's ``sqlite3`` fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        raise AssertionError(f"sqlite3.connect{args} called: the stdlib's SQLite is in use")

    for module in (sqlite3, sqlite3.dbapi2, _sqlite3):
        monkeypatch.setattr(module, "connect", refuse)


def apsw_connections_on(path: Path) -> list[apsw.Connection]:
    """The APSW connections open in this process on the file ``path``."""
    wanted = os.path.realpath(path)
    return [c for c in apsw.connections() if os.path.realpath(c.filename) == wanted]


def integrity(path: Path) -> str:
    """``PRAGMA integrity_check`` of the file, or the error that reading it raised."""
    try:
        with apsw.Connection(str(path)) as conn:
            return "\n".join(str(row[0]) for row in conn.execute("PRAGMA integrity_check"))
    except apsw.Error as error:
        return f"{type(error).__name__}: {error}"


def stored(path: Path, sql: str) -> set[str]:
    """One text column of the file, or nothing when the file cannot be read."""
    try:
        with apsw.Connection(str(path)) as conn:
            return {row[0] for row in conn.execute(sql)}
    except apsw.Error:
        return set()


async def write_for_a_while(
    fw: Framework, write: Callable[[int], Awaitable[str]], acked: list[str], errors: list[str]
) -> None:
    """Call ``write(i)`` for i = 0, 1, ... until the time or the count is up.

    Records what each call acknowledged (the label it returned); the first
    error (a write that raised, or a read-back that missed it) is recorded and
    ends this writer.
    """
    stop = fw.now() + WRITE_SECONDS
    for i in range(WRITES_EACH):
        if fw.now() >= stop:
            return
        try:
            acked.append(await write(i))
        except Exception as error:
            errors.append(f"{type(error).__name__}: {error}"[:160])
            return


# ------------------------------------------------ the module and the dialect run on APSW


def test_aiosqlite_module_reports_apsws_sqlite() -> None:
    assert aiosqlite.sqlite_version == APSW_VERSION
    assert aiosqlite.sqlite_version_info == APSW_VERSION_INFO


async def test_aiosqlite_connection_runs_on_apsws_sqlite(
    fw: Framework, tmp_path: Path, no_stdlib_connect: None
) -> None:
    path = tmp_path / "module.db"
    async with fw.fail_after(GUARD), aiosqlite.connect(path) as db:
        assert await db.execute_fetchall("SELECT sqlite_version()") == [(APSW_VERSION,)]
        await db.execute("CREATE TABLE t(x)")
        await db.commit()
        assert len(apsw_connections_on(path)) == 1  # the file is open through APSW, once


@pytest.mark.frameworks("asyncio", "uvloop")
async def test_sqlalchemy_dialect_runs_on_apsws_sqlite(
    fw: Framework, tmp_path: Path, no_stdlib_connect: None
) -> None:
    path = tmp_path / "dialect.db"
    engine = create_async_engine(f"sqlite+aiolite:///{path}")
    try:
        async with fw.fail_after(GUARD), engine.connect() as conn:
            version = (await conn.execute(text("SELECT sqlite_version()"))).scalar()
            assert version == APSW_VERSION
            assert engine.dialect.dbapi.sqlite_version == APSW_VERSION  # type: ignore[union-attr]
            # what SQLAlchemy enables features by (RETURNING, ...)
            assert engine.dialect.server_version_info == APSW_VERSION_INFO
            assert len(apsw_connections_on(path)) == 1
    finally:
        await engine.dispose()


# ---------------------------------------- the scenarios that corrupted files (issue 12)

Write = Callable[[int], Awaitable[str]]


def check_read_back(label: str, value: Any, expected: Any) -> None:
    if value != expected:
        raise AssertionError(f"{label} was written, then read back as {value!r:.30}")


def kv_writes(kv: aiolite.KV, w: int) -> Write:
    async def write(i: int) -> str:
        key = f"kv{w}-{i}"
        await kv.set(key, {"n": i, "pad": PAD})
        check_read_back(key, await kv.get(key), {"n": i, "pad": PAD})
        return key

    return write


def sqlalchemy_writes(engine: AsyncEngine, w: int) -> Write:
    async def write(i: int) -> str:
        item = f"sql{w}-{i}"
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO orders(item) VALUES (:item)"), {"item": item})
        return item

    return write


def pool_writes(pool: aiolite.Pool, w: int) -> Write:
    async def write(i: int) -> str:
        who = f"pool{w}-{i}"
        await pool.execute("INSERT INTO t VALUES (?, ?)", (who, PAD))
        check_read_back(who, await pool.fetchval("SELECT pad FROM t WHERE who = ?", (who,)), PAD)
        return who

    return write


def module_writes(db: aiosqlite.Connection, name: str) -> Write:
    async def write(i: int) -> str:
        who = f"{name}-{i}"
        await db.execute("INSERT INTO t VALUES (?, ?)", (who, PAD))
        await db.commit()
        return who

    return write


@pytest.mark.frameworks("asyncio", "uvloop")  # SQLAlchemy's async layer is asyncio's
async def test_kv_and_sqlalchemy_writing_one_file_keep_it_whole(
    fw: Framework, tmp_path: Path
) -> None:
    """The web-app pattern: a KV store as a cache beside the ORM's tables, in one file."""
    path = tmp_path / "app.db"
    kv_acked: list[str] = []
    sql_acked: list[str] = []
    errors: list[str] = []
    async with aiolite.KV(path, table="cache") as kv:
        engine = create_async_engine(f"sqlite+aiolite:///{path}")
        try:
            async with engine.begin() as conn:
                await conn.execute(text("CREATE TABLE orders(item TEXT PRIMARY KEY)"))
            async with fw.fail_after(WRITE_SECONDS + GUARD), fw.task_group() as group:
                for w in range(3):
                    group.start_soon(write_for_a_while, fw, kv_writes(kv, w), kv_acked, errors)
                    writes = sqlalchemy_writes(engine, w)
                    group.start_soon(write_for_a_while, fw, writes, sql_acked, errors)
        finally:
            await engine.dispose()

    missing_kv = set(kv_acked) - stored(path, "SELECT key FROM cache")
    missing_sql = set(sql_acked) - stored(path, "SELECT item FROM orders")
    assert (integrity(path), errors, len(missing_kv), len(missing_sql)) == ("ok", [], 0, 0)
    assert kv_acked
    assert sql_acked


async def test_pool_and_aiosqlite_module_writing_one_file_keep_it_whole(
    fw: Framework, tmp_path: Path
) -> None:
    path = tmp_path / "app.db"
    pool_acked: list[str] = []
    module_acked: list[str] = []
    errors: list[str] = []
    async with aiolite.open_pool(path, readers=2) as pool:
        await pool.execute("CREATE TABLE t(who TEXT PRIMARY KEY, pad TEXT)")
        async with (
            aiosqlite.connect(path) as first,
            aiosqlite.connect(path) as second,
            fw.fail_after(WRITE_SECONDS + GUARD),
            fw.task_group() as group,
        ):
            for w in range(3):
                group.start_soon(write_for_a_while, fw, pool_writes(pool, w), pool_acked, errors)
            for db, name in ((first, "first"), (second, "second")):
                writes = module_writes(db, name)
                group.start_soon(write_for_a_while, fw, writes, module_acked, errors)

    missing = set(pool_acked + module_acked) - stored(path, "SELECT who FROM t")
    assert (integrity(path), errors, len(missing)) == ("ok", [], 0)
    assert pool_acked
    assert module_acked
