"""aiolite.aiosqlite's hot requests: little Python in the worker, and sqlite3's semantics kept.

A repeated query through ``execute_fetchall`` skips the emulated sqlite3
cursor (its checks were done the first time); these tests pin both that it
does (a deterministic count of the drop-in's Python calls in the worker)
and that whatever could make it differ from sqlite3 (row and text
factories, converters, adapters, a trace callback, a wrong parameter count,
a runtime error, a write) still behaves exactly as before.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections import Counter
from types import FrameType
from typing import Any

import pytest

from aiolite import aiosqlite
from tests.frameworks import Framework

_DROP_IN = os.sep + "aiosqlite" + os.sep


def _worker_calls(requests: int, body: str) -> Counter[str]:
    """Python calls into the drop-in's own code made in worker threads while ``body`` repeats."""
    calls: Counter[str] = Counter()
    counting = False

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if counting and event == "call" and _DROP_IN in frame.f_code.co_filename:
            calls[frame.f_code.co_qualname] += 1

    async def main() -> None:
        nonlocal counting
        async with aiosqlite.connect(":memory:") as db:
            for _ in range(3):  # the first run goes through the emulated cursor
                await db.execute_fetchall(body, (1,))
            counting = True
            for i in range(requests):
                await db.execute_fetchall(body, (i,))
            counting = False

    threading.setprofile(profile)  # only threads started from now on: the worker
    try:
        asyncio.run(main())
    finally:
        threading.setprofile(None)  # type: ignore[arg-type]
    return calls


def test_a_repeated_execute_fetchall_runs_three_calls_of_python_in_the_worker() -> None:
    requests = 50
    calls = _worker_calls(requests, "SELECT ?")
    # The request body, its parameter check and the state the loop reads afterwards
    # (the emulated cursor path made 25 calls per request).
    assert sum(calls.values()) <= 3 * requests, calls.most_common(8)


async def test_a_repeated_query_keeps_sqlite3_semantics_when_settings_change(
    fw: Framework,
) -> None:
    query = "SELECT ? AS v, 'text' AS t"
    async with aiosqlite.connect(":memory:") as db:
        for i in range(3):
            assert await db.execute_fetchall(query, (i,)) == [(i, "text")]

        db.row_factory = aiosqlite.Row
        (row,) = await db.execute_fetchall(query, (7,))
        assert (row["V"], row["t"], row.keys()) == (7, "text", ["v", "t"])
        db.row_factory = None

        db.text_factory = bytes
        assert await db.execute_fetchall(query, (8,)) == [(8, b"text")]
        db.text_factory = str

        seen: list[str] = []
        await db.set_trace_callback(seen.append)
        assert await db.execute_fetchall(query, (9,)) == [(9, "text")]
        await db.set_trace_callback(None)
        assert seen == ["SELECT 9 AS v, 'text' AS t"]

        with pytest.raises(sqlite3.ProgrammingError, match="uses 1, and there are 2 supplied"):
            await db.execute_fetchall(query, (1, 2))
        with pytest.raises(sqlite3.ProgrammingError, match="Error binding parameter 1"):
            await db.execute_fetchall(query, (object(),))
        assert await db.execute_fetchall(query, [True]) == [(1, "text")]
        with pytest.raises(sqlite3.ProgrammingError, match="Binding 1 has no name"):
            await db.execute_fetchall(query, {"v": 1})

        for _ in range(3):
            assert await db.execute_fetchall("SELECT abs(?)", (-1,)) == [(1,)]
        with pytest.raises(sqlite3.OperationalError, match="integer overflow") as caught:
            await db.execute_fetchall("SELECT abs(?)", (-(2**63),))
        assert caught.value.sqlite_errorname == "SQLITE_ERROR"  # type: ignore[attr-defined]
        assert await db.execute_fetchall(query, (10,)) == [(10, "text")]


async def test_an_adapter_registered_after_a_query_ran_is_used_by_it(fw: Framework) -> None:
    async with aiosqlite.connect(":memory:") as db:
        for _ in range(3):
            assert await db.execute_fetchall("SELECT ?", ("a",)) == [("a",)]
        sqlite3.register_adapter(str, str.upper)
        try:
            assert await db.execute_fetchall("SELECT ?", ("a",)) == [("A",)]
        finally:
            del sqlite3.adapters[(str, sqlite3.PrepareProtocol)]
        assert await db.execute_fetchall("SELECT ?", ("a",)) == [("a",)]


async def test_a_converter_applies_to_a_repeated_query(fw: Framework) -> None:
    async with aiosqlite.connect(":memory:", detect_types=sqlite3.PARSE_COLNAMES) as db:
        query = 'SELECT ? AS "n [hot_path_upper]"'
        sqlite3.register_converter("hot_path_upper", lambda value: value.upper())
        try:
            for _ in range(3):
                assert await db.execute_fetchall(query, ("abc",)) == [(b"ABC",)]
        finally:
            del sqlite3.converters["HOT_PATH_UPPER"]


async def test_writes_through_execute_fetchall_still_open_a_transaction(fw: Framework) -> None:
    async with aiosqlite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x)")
        for i in range(3):
            rows = await db.execute_fetchall("INSERT INTO t VALUES (?) RETURNING x", (i,))
            assert rows == [(i,)]
            assert db.in_transaction
            await db.rollback()
        assert await db.execute_fetchall("SELECT count(*) FROM t", ()) == [(0,)]


async def test_closing_a_finished_cursor_costs_no_request(fw: Framework) -> None:
    async with aiosqlite.connect(":memory:") as db:
        engine = db._tx.engine
        assert engine is not None
        before = engine.requests_served
        async with db.execute("SELECT 1") as cursor:
            assert await cursor.fetchone() == (1,)
        assert await db.execute_fetchall("SELECT 2") == [(2,)]
        assert engine.requests_served == before + 2  # no close request between the two
        with pytest.raises(sqlite3.ProgrammingError, match="closed cursor"):
            await cursor.fetchone()

        # A statement with rows left is closed in the worker, in order.
        unfinished = await db.execute(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
            "SELECT x + 1 FROM c WHERE x < 1000) SELECT x FROM c"
        )
        assert await unfinished.fetchone() == (1,)
        await unfinished.close()
        assert await db.execute_fetchall("SELECT 2") == [(2,)]
        assert unfinished._cursor._closed


async def test_executemany_of_plain_rows_keeps_sqlite3_semantics(fw: Framework) -> None:
    async with aiosqlite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x, y)")
        cursor = await db.executemany("INSERT INTO t VALUES (?, ?)", [(1, "a"), [2, None]])
        assert cursor.rowcount == 2
        assert db.in_transaction
        with pytest.raises(sqlite3.ProgrammingError, match="uses 2, and there are 1 supplied"):
            await db.executemany("INSERT INTO t VALUES (?, ?)", [(3, "c"), (4,)])
        await db.executemany("INSERT INTO t VALUES (?, ?)", [(5, True), (6, bytearray(b"z"))])
        with pytest.raises(sqlite3.ProgrammingError, match="can only execute DML"):
            await db.executemany("SELECT ?", [(1,)])
        rows = await db.execute_fetchall("SELECT x, y FROM t ORDER BY x")
        assert rows == [(1, "a"), (2, None), (3, "c"), (5, 1), (6, b"z")]
