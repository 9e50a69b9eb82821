"""Logging under ``aiolite``: statements, slow ones, stopped ones, and objects left open.

Records are caught with pytest's ``caplog`` (a handler on the root logger);
aiolite itself only adds a ``NullHandler``. Each test failed before aiolite
logged anything.
"""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import Any

import pytest

import aiolite
from aiolite._apsw import core_of
from tests.frameworks import Framework
from tests.helpers import ENDLESS_INSERT, assert_usable, db_path

SQL = "aiolite.sql"


def messages(caplog: pytest.LogCaptureFixture, logger: str, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno == level]


def drop(held: list[Any]) -> None:
    """Drop the last reference and collect (cycles included)."""
    held.clear()
    gc.collect()


async def test_statements_are_logged_at_debug_with_their_time(
    fw: Framework, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=SQL)
    async with aiolite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x)")
        await db.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
        async for _ in db.execute("SELECT x FROM t"):
            pass
        with pytest.raises(aiolite.SQLError):
            await db.execute("SELECT no_such_column FROM t")
    logged = messages(caplog, SQL, logging.DEBUG)
    assert len(logged) == 4
    assert logged[0].endswith(" s on :memory:: CREATE TABLE t(x)")
    assert float(logged[0].split(" s on ")[0]) >= 0
    assert logged[1].endswith("INSERT INTO t VALUES (?)")
    assert logged[3].startswith("failed (SQLError: no such column: no_such_column) after ")


async def test_pool_reads_are_logged(
    fw: Framework, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=SQL)
    path = db_path(tmp_path)
    async with aiolite.open_pool(path, readers=1) as pool:
        assert await pool.fetchval("SELECT 41 + 1") == 42
    assert any(m.endswith(f" s on {path}: SELECT 41 + 1") for m in messages(caplog, SQL, 10))


async def test_slow_query_threshold_warns(fw: Framework, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=SQL)
    async with aiolite.connect(":memory:", slow_query=0.0) as db:
        await db.execute("SELECT 1")
    async with aiolite.connect(":memory:", slow_query=60.0) as db:
        await db.execute("SELECT 2")
    (warning,) = messages(caplog, SQL, logging.WARNING)
    assert warning.startswith("slow statement on :memory:: ")
    assert warning.endswith("(slow_query=0.0 s): SELECT 1")
    assert messages(caplog, SQL, logging.DEBUG) == []  # DEBUG is off


async def test_cancelled_and_past_deadline_statements_are_logged(
    fw: Framework, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=SQL)
    async with aiolite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x)")
        with pytest.raises(fw.timeout_error):
            async with fw.fail_after(0.05):
                await db.execute(ENDLESS_INSERT)
        await assert_usable(fw, db)
        deadline = aiolite.current_time() + 0.05
        with (
            pytest.raises(aiolite.DeadlineExceeded),
            aiolite.contextvar_set(aiolite.deadline, deadline),
        ):
            await db.execute(ENDLESS_INSERT)
    logged = messages(caplog, SQL, logging.DEBUG)
    assert [m for m in logged if m.startswith("cancelled after ")] != []
    assert [m for m in logged if m.startswith("stopped by its deadline after ")] != []


async def test_nothing_is_timed_when_nothing_is_logged(
    fw: Framework, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=SQL)
    async with (
        aiolite.connect(":memory:") as quiet,
        aiolite.connect(":memory:", slow_query=1) as slow,
    ):
        assert core_of(quiet).log is None  # its statements skip the log entirely
        assert core_of(slow).log is not None
        await quiet.execute("SELECT 1")
    assert [r for r in caplog.records if r.name == SQL] == []


@pytest.mark.frameworks("asyncio", "trio")
@pytest.mark.parametrize("bad", [-1, "fast", float("nan")])
async def test_slow_query_must_be_seconds(fw: Framework, bad: Any) -> None:
    with pytest.raises(ValueError, match="slow_query"):
        await aiolite.connect(":memory:", slow_query=bad)


async def test_objects_left_open_are_logged_when_collected(
    fw: Framework, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="aiolite")
    path = db_path(tmp_path)
    held: list[Any] = [await aiolite.connect(path)]
    with pytest.warns(ResourceWarning, match="never closed"):
        drop(held)
    (connection,) = messages(caplog, "aiolite.connection", logging.WARNING)
    assert connection.startswith(f"connection to {path!r} was never closed")

    held.append(await aiolite.open_pool(path, readers=1))
    with pytest.warns(ResourceWarning):  # (its connections warn too)
        drop(held)
    (pool,) = messages(caplog, "aiolite.pool", logging.WARNING)
    assert pool.startswith(f"pool on {path!r} was never closed")

    held.append(await aiolite.KV(path))
    with pytest.warns(ResourceWarning):
        drop(held)
    (kv,) = messages(caplog, "aiolite.kv", logging.WARNING)
    assert kv.startswith(f"KV store on {path!r} was never closed")


async def test_closed_objects_are_not_logged(
    fw: Framework, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="aiolite")
    path = db_path(tmp_path)
    async with aiolite.KV(path) as kv, aiolite.connect(path) as db:
        await kv.set("k", 1)
        assert await db.pragma("user_version") == 0
    del kv, db
    gc.collect()
    assert [r for r in caplog.records if r.name.startswith("aiolite")] == []
