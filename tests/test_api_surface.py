"""Each awaitable counterpart of an ``apsw.Connection`` method answers as APSW does."""

from __future__ import annotations

from pathlib import Path

import apsw
import pytest

import aiolite
from tests.frameworks import Framework
from tests.helpers import db_path


async def test_change_counters_and_rowids(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x)")
        await db.executemany("INSERT INTO t VALUES(?)", [(1,), (2,), (3,)])
        assert await db.last_insert_rowid() == 3
        await db.execute("UPDATE t SET x = x + 1 WHERE x >= 2")
        assert await db.changes() == 2
        assert await db.total_changes() == 5
        await db.set_last_insert_rowid(42)
        assert await db.last_insert_rowid() == 42


async def test_transaction_state(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x)")
        assert db.in_transaction is False
        assert await db.get_autocommit() is True
        assert await db.txn_state() == apsw.SQLITE_TXN_NONE
        async with db.transaction("immediate"):
            assert db.in_transaction is True
            assert await db.get_autocommit() is False
            assert await db.txn_state("main") == apsw.SQLITE_TXN_WRITE


async def test_schema_questions(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db:
        await db.execute("CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        assert await db.table_exists(None, "people") is True
        assert await db.table_exists("main", "nobody") is False
        assert await db.db_names() == ["main", "temp"]
        assert await db.db_filename("main") == path
        assert await db.readonly("main") is False
        assert await db.vfsname("main") is not None
        assert await db.column_metadata("main", "people", "name") == (
            "TEXT",
            "BINARY",
            True,
            False,
            False,
        )


async def test_wal_checkpoint(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.connect(db_path(tmp_path)) as db:
        assert await db.pragma("journal_mode") == "wal"
        await db.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1)")
        frames, checkpointed = await db.wal_checkpoint(mode=apsw.SQLITE_CHECKPOINT_TRUNCATE)
        assert frames == checkpointed == 0  # TRUNCATE leaves an empty WAL behind
        await db.wal_autocheckpoint(500)
        assert await db.pragma("wal_autocheckpoint") == 500


async def test_serialize_and_deserialize_round_trip(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as source, aiolite.connect(":memory:") as copy:
        await source.execute("CREATE TABLE t(x); INSERT INTO t VALUES ('kept')")
        image = await source.serialize("main")
        assert image.startswith(b"SQLite format 3\x00")
        await copy.deserialize("main", image)
        assert await (await copy.execute("SELECT x FROM t")).get == "kept"


async def test_settings_and_statistics(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1)")
        assert await db.limit(apsw.SQLITE_LIMIT_SQL_LENGTH, 100_000) > 0
        assert await db.limit(apsw.SQLITE_LIMIT_SQL_LENGTH) == 100_000
        with pytest.raises(aiolite.TooBigError):
            await db.execute("SELECT '" + "x" * 200_000 + "'")
        assert await db.config(apsw.SQLITE_DBCONFIG_ENABLE_FKEY, -1) == 1  # best practice
        current, highwater = await db.status(apsw.SQLITE_DBSTATUS_CACHE_USED)
        assert current > 0
        assert highwater >= 0
        stats = await db.cache_stats()
        assert stats["size"] > 0
        assert await db.data_version() >= 1
        await db.cache_flush()
        await db.release_memory()
        assert isinstance(await db.system_errno, int)
        await db.set_busy_timeout(250)
        await db.drop_modules(None)


async def test_interrupt_stops_the_running_statement(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        started = fw.event()

        async def began() -> int:
            started.set()
            return 1

        await db.create_scalar_function("began", began)
        endless = (
            "WITH RECURSIVE c(x) AS (SELECT began() UNION ALL SELECT x + 1 FROM c) "
            "SELECT count(*) FROM c"
        )
        async with fw.task_group() as group:
            query = group.start_soon(db.execute, endless)
            await started.wait()
            db.interrupt()
        assert isinstance(query.error, aiolite.InterruptError)
        assert await (await db.execute("SELECT 'usable'")).get == "usable"


async def test_plain_attributes_need_no_round_trip(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path, readonly=False) as db:
        served = db._engine.requests_served
        assert (db.filename, db.filename_wal, db.filename_journal) == (
            path,
            path + "-wal",
            path + "-journal",
        )
        assert db.open_vfs
        assert db.open_flags & apsw.SQLITE_OPEN_CREATE
        assert db.closed is False
        assert "open" in repr(db)
        assert db._engine.requests_served == served
    assert db.closed is True
    assert "closed" in repr(db)


async def test_options_reach_sqlite(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    pragmas = {"user_version": 9, "cache_size": -4000}
    async with aiolite.connect(path, pragmas=pragmas, statement_cache_size=0) as db:
        assert await db.pragma("user_version") == 9
        assert await db.pragma("cache_size") == -4000
    async with aiolite.connect(path, best_practice=False) as plain:
        assert await plain.pragma("foreign_keys") == 0
        assert await plain.pragma("journal_mode") == "wal"  # WAL is a property of the file
    async with aiolite.connect(f"file:{path}?mode=ro") as by_uri:
        assert await by_uri.readonly("main") is True
