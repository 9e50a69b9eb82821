"""A pool's readers stay read-only, and look the same to every caller (issue #14, item 2).

Before: ``pool.fetchall("PRAGMA query_only=0")`` succeeded and stayed, so a
later ``pool.fetchall("INSERT ...")`` wrote outside group commit and later
``pool.reader()`` blocks were writable; ``ATTACH`` through a read created
its file and stayed attached for every later caller; ``PRAGMA
foreign_keys=0`` turned foreign keys off for them. Each reader now refuses
such statements with :class:`aiolite.ReaderReadOnlyError` before anything
runs. Each test runs on a pool with one reader, so every read meets the
state an earlier one would have left.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import apsw
import pytest

import aiolite
from tests.frameworks import Framework

pytestmark = pytest.mark.timeout(60)

ATTACHED = "attached.db"
"""The file an ATTACH or a VACUUM INTO through a reader would create next to the pool's."""

ESCAPES = [
    "PRAGMA query_only=0",
    "PRAGMA query_only = false",
    "INSERT INTO t(x) VALUES (99)",
    "UPDATE t SET x = 0",
    "DELETE FROM t",
    "SELECT 1; INSERT INTO t(x) VALUES (99)",
    "CREATE TEMP TABLE scratch(y)",
    "CREATE TEMP VIEW v AS SELECT 1",
    "ATTACH '{folder}/" + ATTACHED + "' AS other",
    "VACUUM INTO '{folder}/" + ATTACHED + "'",
    "DETACH other",
    "PRAGMA foreign_keys=0",
    "PRAGMA main.journal_mode=DELETE",
    "PRAGMA cache_size=7",
    "PRAGMA user_version=5",
    "PRAGMA wal_checkpoint(TRUNCATE)",
    "PRAGMA optimize",
]
"""Statements that would change the database or the reader for its later callers."""

FINGERPRINT = [
    "PRAGMA query_only",
    "PRAGMA foreign_keys",
    "PRAGMA journal_mode",
    "PRAGMA cache_size",
    "PRAGMA user_version",
    "SELECT group_concat(name) FROM pragma_database_list WHERE name <> 'temp'",
    "SELECT count(*) FROM temp.sqlite_master",
    "SELECT group_concat(x) FROM (SELECT x FROM t ORDER BY x)",
]
"""What a reader's later caller would see of the database and of the connection."""


async def open_one_reader(tmp_path: Path) -> aiolite.Pool:
    pool = await aiolite.open_pool(str(tmp_path / "pool.db"), readers=1)
    await pool.execute("CREATE TABLE t(x)")
    await pool.executemany("INSERT INTO t(x) VALUES (?)", [(1,), (2,)])
    return pool


async def fingerprint(pool: aiolite.Pool) -> list[Any]:
    return [await pool.fetchval(sql) for sql in FINGERPRINT]


async def assert_still_read_only(pool: aiolite.Pool, tmp_path: Path, before: list[Any]) -> None:
    """Nothing changed, the reader still refuses a write, and it still reads."""
    assert await fingerprint(pool) == before
    assert before[0] == 1  # query_only
    assert not (tmp_path / ATTACHED).exists()
    with pytest.raises(aiolite.ReaderReadOnlyError):
        await pool.fetchall("INSERT INTO t(x) VALUES (100)")
    async with pool.reader() as db:
        with pytest.raises(aiolite.ReaderReadOnlyError):
            await db.execute("INSERT INTO t(x) VALUES (100)")
        assert await (await db.execute("SELECT x FROM t ORDER BY x")).fetchall() == [(1,), (2,)]
    async with pool.writer() as db:  # the database itself, seen by the writer
        assert await (await db.execute("SELECT x FROM t ORDER BY x")).fetchall() == [(1,), (2,)]
    assert sorted(os.listdir(tmp_path)) == ["pool.db", "pool.db-shm", "pool.db-wal"]


async def test_no_read_changes_a_reader(fw: Framework, tmp_path: Path) -> None:
    """Every escape, one after the other on the same reader: by a plain read, in a block."""
    async with await open_one_reader(tmp_path) as pool:
        before = await fingerprint(pool)
        for escape in ESCAPES:
            sql = escape.format(folder=tmp_path)
            with pytest.raises(aiolite.ReaderReadOnlyError, match="refused"):
                await pool.fetchall(sql)
            async with pool.reader() as db:
                with pytest.raises(aiolite.ReaderReadOnlyError, match="refused"):
                    # (a script's later statement fails at the fetch, after the rows before it)
                    await (await db.execute(sql)).fetchall()
            assert await fingerprint(pool) == before, escape
        await assert_still_read_only(pool, tmp_path, before)


@pytest.mark.parametrize("escape", ESCAPES)
@pytest.mark.frameworks("asyncio")
async def test_a_plain_read_cannot_change_its_reader(
    fw: Framework, tmp_path: Path, escape: str
) -> None:
    async with await open_one_reader(tmp_path) as pool:
        before = await fingerprint(pool)
        with pytest.raises(aiolite.ReaderReadOnlyError, match="refused"):
            await pool.fetchall(escape.format(folder=tmp_path))
        await assert_still_read_only(pool, tmp_path, before)


@pytest.mark.parametrize("escape", ESCAPES)
@pytest.mark.frameworks("trio")
async def test_a_reader_block_cannot_change_its_reader(
    fw: Framework, tmp_path: Path, escape: str
) -> None:
    async with await open_one_reader(tmp_path) as pool:
        before = await fingerprint(pool)
        async with pool.reader() as db:
            with pytest.raises(aiolite.ReaderReadOnlyError, match="refused"):
                await (await db.execute(escape.format(folder=tmp_path))).fetchall()
            assert await (await db.execute("SELECT count(*) FROM t")).get == 2
        await assert_still_read_only(pool, tmp_path, before)


async def test_reads_of_settings_and_schema_and_read_transactions_still_work(
    fw: Framework, tmp_path: Path
) -> None:
    async with await open_one_reader(tmp_path) as pool:
        await pool.execute("CREATE INDEX tx ON t(x)")
        before = await fingerprint(pool)
        assert await pool.fetchval("PRAGMA query_only") == 1
        assert await pool.fetchall("PRAGMA table_info(t)") == [(0, "x", "", 0, None, 0)]
        assert await pool.fetchall("PRAGMA main.index_list(t)") == [(0, "tx", 0, "c", 0)]
        assert await pool.fetchall("SELECT name FROM pragma_index_info('tx')") == [("x",)]
        assert await pool.fetchall("PRAGMA integrity_check(5)") == [("ok",)]
        assert await pool.fetchval("PRAGMA data_version") is not None
        recursive = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 3)"
        assert await pool.fetchall(f"{recursive} SELECT sum(n) FROM c") == [(6,)]
        async with pool.reader() as db:
            async with db:  # one read transaction: a snapshot
                assert await (await db.execute("SELECT count(*) FROM t")).get == 2
                await pool.execute("INSERT INTO t(x) VALUES (3)")
                assert await (await db.execute("SELECT count(*) FROM t")).get == 2
            await db.execute("SAVEPOINT s")
            assert await (await db.execute("SELECT count(*) FROM t")).get == 3
            await db.execute("RELEASE s")
            with pytest.raises(apsw.ReadOnlyError):  # query_only: it would take the write lock
                await db.execute("BEGIN IMMEDIATE")
        await pool.execute("DELETE FROM t WHERE x = 3")
        assert await fingerprint(pool) == before


@pytest.mark.frameworks("asyncio")
async def test_every_pragma_without_an_argument_reads_or_is_refused(
    fw: Framework, tmp_path: Path
) -> None:
    """The allow-list covers every pragma this SQLite has: a new one fails here until listed."""
    acting = {"optimize", "wal_checkpoint", "incremental_vacuum", "shrink_memory"}
    async with await open_one_reader(tmp_path) as pool:
        before = await fingerprint(pool)
        names = [name for (name,) in await pool.fetchall("PRAGMA pragma_list")]
        assert acting <= set(names)
        refused = []
        for name in names:
            try:
                await pool.fetchall(f"PRAGMA {name}")
            except aiolite.ReaderReadOnlyError:
                refused.append(name)
        assert set(refused) == acting
        await assert_still_read_only(pool, tmp_path, before)


@pytest.mark.frameworks("asyncio", "trio")
async def test_a_user_authorizer_on_a_reader_runs_after_the_readers_own(
    fw: Framework, tmp_path: Path
) -> None:
    """``set_authorizer`` in a reader block adds to the reader's; None removes only the user's."""
    asked: list[int] = []

    def no_secrets(action: int, table: str | None, *rest: Any) -> int:
        asked.append(action)
        return apsw.SQLITE_DENY if table == "secret" else apsw.SQLITE_OK

    async with await open_one_reader(tmp_path) as pool:
        await pool.execute("CREATE TABLE secret(s)")
        before = await fingerprint(pool)
        async with pool.reader() as db:
            await db.set_authorizer(no_secrets)
            with pytest.raises(apsw.AuthError) as denied:
                await db.execute("SELECT s FROM secret")
            assert not isinstance(denied.value, aiolite.ReaderReadOnlyError)  # the user's
            assert await (await db.execute("SELECT count(*) FROM t")).get == 2
            assert apsw.SQLITE_READ in asked
            with pytest.raises(aiolite.ReaderReadOnlyError):
                await db.execute("PRAGMA query_only=0")
            await db.set_authorizer(None)
            assert await (await db.execute("SELECT count(*) FROM secret")).get == 0
            with pytest.raises(aiolite.ReaderReadOnlyError):
                await db.execute("PRAGMA query_only=0")
        await assert_still_read_only(pool, tmp_path, before)


def test_the_error_is_documented_and_catchable_as_sqlites() -> None:
    error = aiolite.ReaderReadOnlyError
    assert issubclass(error, aiolite.AioliteError)
    assert issubclass(error, aiolite.ReadOnlyError)  # what query_only raised for a write
    assert issubclass(error, aiolite.AuthError)  # what SQLite raises for a denied statement
    assert error.__module__ == "aiolite"
    assert "pool.writer()" in (error.__doc__ or "")


@pytest.mark.frameworks("asyncio", "trio")
async def test_a_pool_read_raises_what_fails_after_its_first_rows(
    fw: Framework, tmp_path: Path
) -> None:
    """``pool.fetch*`` used to drop an error raised after the first row and return the rows
    before it as the whole answer: a refused later statement of a script, a failing function."""

    def fail_at_three(x: int) -> int:
        if x == 3:
            raise ValueError("row 3")
        return x

    async with await open_one_reader(tmp_path) as pool:
        await pool.executemany("INSERT INTO t(x) VALUES (?)", [(3,), (4,)])
        async with pool.reader() as db:
            await db.create_scalar_function("fail_at_three", fail_at_three)
        with pytest.raises(ValueError, match="row 3"):
            await pool.fetchall("SELECT fail_at_three(x) FROM t")
        with pytest.raises(ValueError, match="row 3"):
            await pool.fetchall("SELECT 1; SELECT fail_at_three(x) FROM t")
        with pytest.raises(aiolite.ReaderReadOnlyError):
            await pool.fetchall("SELECT x FROM t; PRAGMA query_only=0")
        # The rows asked for came before the failure: fetchone has its answer.
        assert await pool.fetchone("SELECT fail_at_three(x) FROM t") == (1,)
        assert await pool.fetchval("PRAGMA query_only") == 1
        assert await pool.fetchall("SELECT x FROM t") == [(1,), (2,), (3,), (4,)]
