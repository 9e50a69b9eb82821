"""Cursors: round trips, streaming in growing batches, fetching, closing, row factories."""

from __future__ import annotations

import dataclasses
import gc
import math
import pickle
from pathlib import Path
from typing import Any, NamedTuple

import pytest

import aiolite
from tests.frameworks import Framework
from tests.helpers import db_path

# The integers 1..? in order, one per row.
COUNT_TO = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) SELECT x FROM c"
)


def forget(pending: aiolite.PendingCursor[Any]) -> None:
    """Drop the last reference to ``pending`` and collect it."""
    del pending
    gc.collect()


def trips(db: aiolite.Connection[Any]) -> int:
    """Requests the connection's worker has finished so far: round trips."""
    return db._engine.requests_served


# -------------------------------------------------------------------- round trips


async def test_small_result_is_one_round_trip(fw: Framework) -> None:
    async with aiolite.connect(":memory:", inline=False) as db:  # tiny reads would take none
        await db.execute("CREATE TABLE t(x, y); INSERT INTO t VALUES (1, 'a'), (2, 'b')")

        before = trips(db)
        rows = await (await db.execute("SELECT x, y FROM t ORDER BY x")).fetchall()
        assert rows == [(1, "a"), (2, "b")]
        assert trips(db) - before == 1

        before = trips(db)
        assert [row async for row in db.execute("SELECT x FROM t ORDER BY x")] == [(1,), (2,)]
        assert trips(db) - before == 1

        before = trips(db)
        cursor = await db.execute("SELECT x FROM t ORDER BY x")
        assert await cursor.fetchone() == (1,)
        assert await cursor.fetchone() == (2,)
        assert await cursor.fetchone() is None
        assert trips(db) - before == 1

        before = trips(db)
        assert await (await db.execute("SELECT count(*) FROM t")).get == 2
        assert trips(db) - before == 1


async def test_prefetch_sets_what_one_round_trip_holds(fw: Framework) -> None:
    async with aiolite.connect(":memory:", inline=False) as db:  # default prefetch: 64
        before = trips(db)
        assert len(await (await db.execute(COUNT_TO, (64,))).fetchall()) == 64
        assert trips(db) - before == 1
    async with aiolite.connect(":memory:", prefetch=16, max_batch=256, inline=False) as db:
        before = trips(db)
        assert len(await (await db.execute(COUNT_TO, (16,))).fetchall()) == 16
        assert trips(db) - before == 1
        before = trips(db)
        assert await (await db.execute(COUNT_TO, (100,))).fetchall() == [
            (x,) for x in range(1, 101)
        ]
        assert trips(db) - before == 2  # the first batch, then everything else at once


async def test_large_result_streams_in_growing_batches(fw: Framework) -> None:
    async with aiolite.connect(":memory:", prefetch=16, max_batch=256) as db:
        before = trips(db)
        values = [x async for (x,) in db.execute(COUNT_TO, (10_000,))]
        used = trips(db) - before
        assert values == list(range(1, 10_001))
        # Batches of 16 throughout would take 625 trips; growing ones far fewer.
        assert used <= 60, f"{used} round trips for 10,000 rows"
        # Batches never exceed max_batch (plus the one row read ahead).
        assert used >= math.ceil(10_000 / (256 + 1)), f"only {used} round trips"


async def test_fetchmany_and_fetchone_at_the_end(fw: Framework) -> None:
    async with aiolite.connect(":memory:", prefetch=2, max_batch=4) as db:
        cursor = await db.execute(COUNT_TO, (10,))
        assert await cursor.fetchmany(4) == [(1,), (2,), (3,), (4,)]
        assert await cursor.fetchmany(4) == [(5,), (6,), (7,), (8,)]
        assert await cursor.fetchmany(4) == [(9,), (10,)]
        assert await cursor.fetchmany(4) == []
        assert await cursor.fetchone() is None
        assert await cursor.fetchall() == []
        assert [row async for row in cursor] == []

        cursor = await db.execute(COUNT_TO, (3,))
        assert await cursor.fetchmany() == [(1,)]  # arraysize rows by default
        cursor.arraysize = 5
        assert await cursor.fetchmany() == [(2,), (3,)]


@pytest.mark.parametrize(("prefetch", "max_batch"), [(1, 1), (3, 7), (64, 4096)])
async def test_mixed_fetching_loses_and_repeats_nothing(
    fw: Framework, prefetch: int, max_batch: int
) -> None:
    async with aiolite.connect(":memory:", prefetch=prefetch, max_batch=max_batch) as db:
        cursor = await db.execute(COUNT_TO, (500,))
        got: list[int] = []
        row = await cursor.fetchone()
        assert row is not None
        got.append(row[0])
        got.extend(x for (x,) in await cursor.fetchmany(3))
        row = await cursor.fetchone()
        assert row is not None
        got.append(row[0])
        async for (x,) in cursor:
            got.append(x)
            if x == 20:
                break
        got.extend(x for (x,) in await cursor.fetchmany(100))
        got.extend(x for (x,) in await cursor.fetchmany(1))
        async for (x,) in cursor:
            got.append(x)
            if x == 300:
                break
        got.extend(x for (x,) in await cursor.fetchall())
        assert got == list(range(1, 501))
        assert await cursor.fetchone() is None


# ------------------------------------------------------------------- description


async def test_description(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x INTEGER, y TEXT)")
        cursor = await db.execute("SELECT x, y AS why FROM t WHERE 0")
        assert cursor.description is not None
        assert [column[0] for column in cursor.description] == ["x", "why"]
        assert [column[1] for column in cursor.description] == ["INTEGER", "TEXT"]
        assert await cursor.fetchall() == []

        cursor = await db.execute("INSERT INTO t VALUES (1, 'one')")
        assert cursor.description is None
        assert await cursor.fetchall() == []


async def test_multi_statement_execute_gives_the_selects_rows(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        cursor = await db.execute(
            "CREATE TABLE u(a); INSERT INTO u VALUES (2), (1); SELECT a AS value FROM u ORDER BY a"
        )
        assert await cursor.fetchall() == [(1,), (2,)]
        assert cursor.description is not None
        assert [column[0] for column in cursor.description] == ["value"]


# ----------------------------------------------------------------------- closing


async def test_aclose_is_idempotent(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.connect(db_path(tmp_path), prefetch=4, max_batch=8) as db:
        await db.execute("CREATE TABLE t(x); INSERT INTO t " + COUNT_TO, (100,))
        cursor = await db.execute("SELECT x FROM t")
        assert await cursor.fetchone() == (1,)
        await cursor.aclose()
        before = trips(db)
        await cursor.aclose()
        assert trips(db) == before  # nothing left to do
        await db.execute("DROP TABLE t")  # the statement is finished: the table is free
        assert await (await db.execute("SELECT 1")).get == 1


async def test_fetching_after_aclose_fails(fw: Framework) -> None:
    async with aiolite.connect(":memory:", prefetch=4, max_batch=8) as db:
        for size in (100, 2):  # a half-read cursor, and one whose rows were all buffered
            cursor = await db.execute(COUNT_TO, (size,))
            assert await cursor.fetchone() == (1,)
            await cursor.aclose()
            with pytest.raises(aiolite.CursorClosedError):
                await cursor.fetchone()
            with pytest.raises(aiolite.CursorClosedError):
                await cursor.fetchmany(2)
            with pytest.raises(aiolite.CursorClosedError):
                await cursor.fetchall()
            with pytest.raises(aiolite.CursorClosedError):
                await cursor.__anext__()
        assert await (await db.execute("SELECT 1")).get == 1


async def test_async_with_closes_the_cursor(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.connect(db_path(tmp_path), prefetch=4, max_batch=8) as db:
        await db.execute("CREATE TABLE t(x); INSERT INTO t " + COUNT_TO, (1000,))
        async with db.execute("SELECT x FROM t ORDER BY x") as cursor:
            assert await cursor.fetchmany(2) == [(1,), (2,)]
            # The half-read statement is still active: SQLite will not drop its table.
            with pytest.raises(aiolite.LockedError):
                await db.execute("DROP TABLE t")
        # Closed at the end of the block, so the table is free.
        await db.execute("DROP TABLE t")
        assert not await db.table_exists(None, "t")


# ------------------------------------------------------------ errors mid-stream


async def test_error_in_the_middle_of_a_streamed_result(fw: Framework) -> None:
    def check(x: int) -> int:
        if x == 500:
            raise ValueError("row 500 is bad")
        return x

    async with aiolite.connect(":memory:", prefetch=4, max_batch=64) as db:
        await db.create_scalar_function("check_row", check, 1)
        got: list[int] = []

        async def read_all() -> None:
            async for (x,) in db.execute(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000) "
                "SELECT check_row(x) FROM c"
            ):
                got.append(x)

        with pytest.raises(ValueError, match="row 500 is bad"):
            await read_all()
        # Every row before the bad one was delivered, in order, before the error.
        assert got == list(range(1, 500))
        assert not db.in_transaction
        assert await (await db.execute("SELECT check_row(7)")).get == 7


async def test_error_surfaces_at_the_fetch_that_reaches_it(fw: Framework) -> None:
    def check(x: int) -> int:
        if x == 500:
            raise ValueError("row 500 is bad")
        return x

    async with aiolite.connect(":memory:", prefetch=4, max_batch=64) as db:
        await db.create_scalar_function("check_row", check, 1)
        cursor = await db.execute(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000) "
            "SELECT check_row(x) FROM c"
        )
        assert await cursor.fetchmany(100) == [(x,) for x in range(1, 101)]
        # The earliest rows arrived; the failure is further on.
        got = [row[0] for row in await cursor.fetchmany(300)]
        assert got == list(range(101, 401))
        with pytest.raises(ValueError, match="row 500 is bad"):
            await cursor.fetchall()
        assert await (await db.execute("SELECT 1")).get == 1


# ------------------------------------------------------------- execute details


async def test_awaiting_the_same_pending_cursor_twice_runs_once(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x)")
        pending = db.execute("INSERT INTO t VALUES (1)")
        first = await pending
        second = await pending
        assert first is second
        assert await (await db.execute("SELECT count(*) FROM t")).get == 1

        pending_rows = db.execute("SELECT x FROM t")
        cursor = await pending_rows
        assert [row async for row in pending_rows] == [(1,)]  # the same cursor's rows
        assert await cursor.fetchone() is None


async def test_executemany_is_one_round_trip(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x, y)")
        before = trips(db)
        await db.executemany("INSERT INTO t VALUES (?, ?)", [(i, str(i)) for i in range(1000)])
        assert trips(db) - before == 1
        before = trips(db)
        await db.executemany(
            "INSERT INTO t VALUES (:x, :y)", ({"x": i, "y": "g"} for i in range(5))
        )
        assert trips(db) - before == 1
        assert await (await db.execute("SELECT count(*), sum(x) FROM t")).get == (1005, 499510)


async def test_unawaited_execute_warns_and_runs_nothing(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x)")
        before = trips(db)
        with pytest.warns(RuntimeWarning, match="never ran"):
            forget(db.execute("INSERT INTO t VALUES (1)"))
        assert trips(db) == before
        assert await (await db.execute("SELECT count(*) FROM t")).get == 0


# ------------------------------------------------------------------ row factories


@dataclasses.dataclass
class User:
    id: int
    name: str


class Point(NamedTuple):
    x: int
    y: int


QUERY = "SELECT 1 AS id, 'Ada' AS name UNION ALL SELECT 2, 'Bob' ORDER BY id"


async def test_rows_are_tuples_by_default(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        rows = await (await db.execute(QUERY)).fetchall()
        assert rows == [(1, "Ada"), (2, "Bob")]
        assert all(type(row) is tuple for row in rows)


async def test_row_factory_row(fw: Framework) -> None:
    async with aiolite.connect(":memory:", row_factory=aiolite.Row) as db:
        rows = [row async for row in db.execute(QUERY)]
        row = rows[0]
        assert isinstance(row, aiolite.Row)
        assert isinstance(row, tuple)
        assert row[0] == 1
        assert row[1] == "Ada"
        assert row[-1] == "Ada"
        assert row[0:2] == (1, "Ada")
        assert row["name"] == "Ada"
        assert row["NAME"] == "Ada"  # names match case-insensitively, as in SQL
        assert row.name == "Ada"
        assert row.Id == 1
        assert row.keys() == ("id", "name")
        assert row.as_dict() == {"id": 1, "name": "Ada"}
        assert row == (1, "Ada")
        assert rows == [(1, "Ada"), (2, "Bob")]
        assert len(row) == 2
        x, y = row
        assert (x, y) == (1, "Ada")
        with pytest.raises(KeyError):
            row["missing"]
        with pytest.raises(AttributeError):
            _ = row.missing

        restored = pickle.loads(pickle.dumps(row))
        assert restored == row
        assert isinstance(restored, aiolite.Row)
        assert restored.keys() == ("id", "name")
        assert restored["name"] == restored.name == "Ada"


async def test_row_factory_row_exact_name_wins(fw: Framework) -> None:
    async with aiolite.connect(":memory:", row_factory=aiolite.Row) as db:
        row = await (await db.execute('SELECT 1 AS "a", 2 AS "A"')).fetchone()
        assert row is not None
        assert (row["a"], row["A"]) == (1, 2)


async def test_row_factory_dict(fw: Framework) -> None:
    async with aiolite.connect(":memory:", row_factory=dict) as db:
        rows = await (await db.execute(QUERY)).fetchall()
        assert rows == [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Bob"}]
        assert all(type(row) is dict for row in rows)


async def test_row_factory_dataclass(fw: Framework) -> None:
    async with aiolite.connect(":memory:", row_factory=User) as db:
        rows = await (await db.execute("SELECT 'Ada' AS name, 1 AS id")).fetchall()
        assert rows == [User(id=1, name="Ada")]  # by column name, not position


async def test_row_factory_namedtuple(fw: Framework) -> None:
    async with aiolite.connect(":memory:", row_factory=Point) as db:
        rows = [row async for row in db.execute("SELECT 3, 4 UNION ALL SELECT 5, 6")]
        assert rows == [Point(3, 4), Point(5, 6)]
        assert all(type(row) is Point for row in rows)
        assert rows[1].y == 6


async def test_row_factory_function(fw: Framework) -> None:
    calls: list[tuple[tuple[str, ...], tuple[Any, ...]]] = []

    def shape(names: tuple[str, ...], values: tuple[Any, ...]) -> str:
        calls.append((names, values))
        return ", ".join(f"{n}={v}" for n, v in zip(names, values, strict=True))

    async with aiolite.connect(":memory:", row_factory=shape) as db:
        assert await (await db.execute(QUERY)).fetchall() == ["id=1, name=Ada", "id=2, name=Bob"]
        # Each statement gets rows shaped by its own columns.
        cursor = await db.execute("SELECT 7 AS seven; SELECT 8 AS a, 9 AS b")
        assert await cursor.fetchall() == ["seven=7", "a=8, b=9"]
    assert calls[0] == (("id", "name"), (1, "Ada"))
    assert len(calls) == 4


@pytest.mark.frameworks("asyncio", "trio")
async def test_columns_follow_a_schema_change(fw: Framework, tmp_path: Path) -> None:
    """Found by tests/stress/test_fuzz_identifiers.py: stale column names after DDL.

    The same SQL text reuses APSW's cached statement; the columns were read
    before its first step, which is when SQLite re-prepares a statement whose
    schema changed. So rows were shaped by the old columns (``dict`` rows
    lost the new column) and ``description`` named the old ones.
    """
    path = str(tmp_path / "schema.db")
    async with aiolite.connect(path, row_factory=dict) as db:
        await db.execute("CREATE TABLE t(a, b, c); INSERT INTO t VALUES (1, 2, 3)")
        assert await (await db.execute("SELECT * FROM t")).fetchall() == [{"a": 1, "b": 2, "c": 3}]
        await db.execute("DROP TABLE t; CREATE TABLE t(x); INSERT INTO t VALUES (9)")
        cursor = await db.execute("SELECT * FROM t")
        assert [column[0] for column in cursor.description or ()] == ["x"]
        assert await cursor.fetchall() == [{"x": 9}]
        await db.execute("ALTER TABLE t ADD COLUMN y DEFAULT 5")
        assert await (await db.execute("SELECT * FROM t")).fetchall() == [{"x": 9, "y": 5}]
    async with aiolite.open_pool(path, readers=1) as pool:

        async def read() -> tuple[list[str], list[Any]]:
            async with pool.reader() as reader:
                cursor = await reader.execute("SELECT * FROM t")
                return [column[0] for column in cursor.description or ()], await cursor.fetchall()

        assert await read() == (["x", "y"], [(9, 5)])
        await pool.execute("ALTER TABLE t RENAME COLUMN x TO renamed")  # on the writer
        assert await read() == (["renamed", "y"], [(9, 5)])
