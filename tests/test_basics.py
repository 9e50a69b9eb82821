"""The native API's everyday use: the three cursor idioms, get, pragmas, run."""

from __future__ import annotations

from pathlib import Path

import apsw
import pytest

import aiolite
from tests.frameworks import Framework
from tests.helpers import db_path


async def test_three_cursor_idioms(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.connect(db_path(tmp_path)) as db:
        await db.execute("CREATE TABLE t(x, y); INSERT INTO t VALUES (1, 'a'), (2, 'b')")
        apsw_style = [row async for row in await db.execute("SELECT x, y FROM t ORDER BY x")]
        no_inner_await = [row async for row in db.execute("SELECT x, y FROM t ORDER BY x")]
        async with db.execute("SELECT x, y FROM t ORDER BY x") as cursor:
            fetched = await cursor.fetchall()
        assert apsw_style == no_inner_await == fetched == [(1, "a"), (2, "b")]


async def test_get_has_least_structure(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x, y); INSERT INTO t VALUES (1, 'a'), (2, 'b')")
        assert await (await db.execute("SELECT count(*) FROM t")).get == 2
        assert await (await db.execute("SELECT x, y FROM t WHERE x = 1")).get == (1, "a")
        assert await (await db.execute("SELECT x FROM t ORDER BY x")).get == [1, 2]
        assert await (await db.execute("SELECT x, y FROM t ORDER BY x")).get == [(1, "a"), (2, "b")]
        assert await (await db.execute("SELECT x FROM t WHERE 0")).get is None
        assert await (await db.execute("INSERT INTO t VALUES (3, 'c')")).get is None


async def test_pragma_and_plain_attributes(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db:
        assert await db.pragma("journal_mode") == "wal"
        assert await db.pragma("foreign_keys") == 1
        await db.pragma("user_version", 7)
        assert await db.pragma("user_version") == 7
        assert db.filename == path
        assert db.open_flags & apsw.SQLITE_OPEN_READWRITE
        assert db.framework == ("uvloop" if fw.name == "uvloop" else fw.kind)


async def test_run_gets_the_sync_connection(fw: Framework) -> None:
    def upgrade(conn: apsw.Connection, version: int, *, table: str) -> int:
        assert isinstance(conn, apsw.Connection)
        with conn:
            conn.execute(f"CREATE TABLE {table}(x); PRAGMA user_version = {version}")
        result: int = conn.pragma("user_version")
        return result

    async with aiolite.connect(":memory:") as db:
        assert await db.run(upgrade, 3, table="t") == 3
        assert await db.table_exists(None, "t")


async def test_row_factories(fw: Framework) -> None:
    async with aiolite.connect(":memory:", row_factory=aiolite.Row) as db:
        row = await (await db.execute("SELECT 1 AS id, 'Ada' AS name")).fetchone()
        assert row is not None
        assert row == (1, "Ada")
        assert (row["id"], row["NAME"], row.name, row.keys()) == (1, "Ada", "Ada", ("id", "name"))
        with pytest.raises(KeyError):
            row["missing"]
    async with aiolite.connect(":memory:", row_factory=dict) as db:
        assert await (await db.execute("SELECT 1 AS id")).fetchall() == [{"id": 1}]


async def test_opening_while_another_connection_writes(fw: Framework, tmp_path: Path) -> None:
    """Best practice at open (WAL, statistics) must not fail on another writer's lock."""
    path = db_path(tmp_path)
    holder = apsw.Connection(path)
    holder.pragma("journal_mode", "wal")
    holder.execute("CREATE TABLE t(x); CREATE INDEX tx ON t(x); INSERT INTO t VALUES (1)")
    holder.execute("BEGIN IMMEDIATE; INSERT INTO t VALUES (2)")
    try:
        async with aiolite.connect(path) as db:
            assert await (await db.execute("SELECT count(*) FROM t")).get == 1
            assert await db.pragma("journal_mode") == "wal"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
