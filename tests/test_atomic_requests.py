"""Each request is all or nothing (DESIGN.md, "Transactions"; issue 12, part 3).

``executemany`` runs in a savepoint of its own: a failing row, a
cancellation or a deadline leaves none of its rows, outside a transaction
(where it used to leave the rows before the failure committed) and inside
one (where they used to stay and be committed with the block).
A multi-statement ``execute`` runs statement by statement, as APSW does:
the README says so, and the last tests here pin it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import apsw
import pytest

import aiolite
from tests.frameworks import Framework
from tests.helpers import GUARD, Db, assert_usable, count_rows, db_path, values

RUNS_FOR = 0.2
"""How long an endless executemany writes rows before it is stopped."""


def deadline_in(seconds: float) -> AbstractContextManager[object]:
    return aiolite.contextvar_set(aiolite.deadline, aiolite.current_time() + seconds)


def endless_rows() -> Iterator[tuple[int]]:
    return ((i,) for i in itertools.count())


def rows_then_duplicate(n: int) -> list[tuple[int]]:
    """``n`` good rows, then one that breaks ``t``'s UNIQUE constraint."""
    return [(i,) for i in range(n)] + [(0,)]


async def make_table(db: Db) -> None:
    await db.execute("CREATE TABLE t(x UNIQUE)")


# --------------------------------------------------------- a failing executemany


@pytest.mark.parametrize("in_block", [False, True], ids=["autocommit", "block"])
async def test_failing_executemany_leaves_nothing(
    fw: Framework, tmp_path: Path, in_block: bool
) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db, aiolite.connect(path) as other:
        await make_table(db)
        if in_block:
            async with db:
                await db.execute("INSERT INTO t VALUES ('before')")
                with pytest.raises(aiolite.ConstraintError):
                    await db.executemany("INSERT INTO t VALUES (?)", rows_then_duplicate(50))
                # The block goes on: the transaction is intact, only the rows are gone.
                assert await values(db) == ["before"]
                await db.execute("INSERT INTO t VALUES ('after')")
            assert await values(other) == ["before", "after"]
        else:
            with pytest.raises(aiolite.ConstraintError):
                await db.executemany("INSERT INTO t VALUES (?)", rows_then_duplicate(50))
            assert await count_rows(other) == 0
            assert not db.in_transaction
        # Anything that fails part way counts, not only SQLite errors.
        with pytest.raises(TypeError):
            await db.executemany("INSERT INTO t VALUES (?)", [(1,), (2,), (object(),)])
        with pytest.raises(aiolite.BindingsError):
            await db.executemany("INSERT INTO t VALUES (?)", [(3,), (4,), (5, 6)])
        assert await count_rows(other) == (2 if in_block else 0)
        await db.executemany("INSERT INTO t VALUES (?)", [(7,), (8,)])
        assert await count_rows(other) == (4 if in_block else 2)


async def test_failing_executemany_with_returning_leaves_nothing(
    fw: Framework, tmp_path: Path
) -> None:
    """RETURNING rows: every execution runs (and every row is fetched) in the one request."""
    async with aiolite.connect(db_path(tmp_path)) as db:
        await make_table(db)
        rows = [(i,) for i in range(500)]  # far more than the first batch (prefetch=64)
        cursor = await db.executemany("INSERT INTO t VALUES (?) RETURNING x * 2", rows)
        assert [x async for (x,) in cursor] == [i * 2 for i in range(500)]
        assert await count_rows(db) == 500
        with pytest.raises(aiolite.ConstraintError):
            await db.executemany("INSERT INTO t VALUES (?) RETURNING x", [(1000,), (0,)])
        assert await count_rows(db) == 500


# ------------------------------------------------------- a stopped executemany


@pytest.mark.parametrize("how", ["timeout", "deadline"])
async def test_stopped_executemany_leaves_nothing(fw: Framework, tmp_path: Path, how: str) -> None:
    """It used to leave thousands of rows committed (one autocommit per execution)."""
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db, aiolite.connect(path) as other:
        await make_table(db)
        if how == "timeout":
            with pytest.raises(fw.timeout_error):
                async with fw.fail_after(RUNS_FOR):
                    await db.executemany("INSERT INTO t VALUES (?)", endless_rows())
        else:
            with deadline_in(RUNS_FOR), pytest.raises(aiolite.DeadlineExceeded):
                await db.executemany("INSERT INTO t VALUES (?)", endless_rows())
        assert await count_rows(other) == 0
        assert not db.in_transaction
        await db.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
        assert await values(other) == [1, 2]


async def test_cancelled_executemany_in_a_block_leaves_none_of_its_rows(
    fw: Framework, tmp_path: Path
) -> None:
    """Either way the block stays whole: without the rows, or lost altogether.

    Interrupted in the middle of one of its executions, SQLite rolls back the
    whole transaction (the block is then lost: TransactionRolledBackError);
    stopped between two executions only the savepoint is rolled back, and the
    block goes on without any of the executemany's rows.
    """
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db, aiolite.connect(path) as other:
        await make_table(db)
        lost = False
        try:
            async with db:
                await db.execute("INSERT INTO t VALUES ('before')")
                with pytest.raises(fw.timeout_error):
                    async with fw.fail_after(RUNS_FOR):
                        await db.executemany("INSERT INTO t VALUES (?)", endless_rows())
                assert await values(db) == ["before"]
        except aiolite.TransactionRolledBackError:
            lost = True
        assert await values(other) == ([] if lost else ["before"])
        await assert_usable(fw, db)


async def test_executemany_whose_async_function_is_cancelled_leaves_nothing(
    fw: Framework, tmp_path: Path
) -> None:
    """A cancellation inside an async callback aborts the statement without an interrupt:
    the transaction survives, so the block goes on, without any of the executemany's rows."""
    path = db_path(tmp_path)
    started = fw.event()

    async def slow(x: int) -> int:
        if x == 20:
            started.set()
            await fw.sleep(3600)
        return x

    async with aiolite.connect(path) as db, aiolite.connect(path) as other:
        await make_table(db)
        await db.create_scalar_function("slow", slow, 1)
        async with db:
            await db.execute("INSERT INTO t VALUES ('before')")
            async with fw.fail_after(GUARD), fw.task_group() as group:
                many = group.start_soon(
                    db.executemany, "INSERT INTO t VALUES (slow(?))", [(i,) for i in range(40)]
                )
                await started.wait()
                many.cancel()
            assert many.cancelled
            assert await values(db) == ["before"]
            await db.execute("INSERT INTO t VALUES ('after')")
        assert await values(other) == ["before", "after"]


# --------------------------------------------------------- what executemany refuses


async def test_executemany_refuses_transaction_control(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db, aiolite.connect(path) as other:
        await make_table(db)
        refused = {
            "BEGIN": [(), ()],
            " /* c */ COMMIT": [()],
            "SAVEPOINT s": [()],
            "INSERT INTO t VALUES (?); END": [(1,), (2,)],  # the second statement is checked too
        }
        for sql, rows in refused.items():
            with pytest.raises(aiolite.TransactionControlError, match="executemany") as raised:
                await db.executemany(sql, rows)
            assert isinstance(raised.value, apsw.SQLError)
        assert await count_rows(other) == 0
        assert not db.in_transaction
        # A script of ordinary statements is fine, all of it or none of it.
        script = "INSERT INTO t VALUES (?); INSERT INTO t VALUES (?)"  # a binding each
        await db.executemany(script, [(1, 101), (2, 102)])
        with pytest.raises(aiolite.ConstraintError):
            await db.executemany(script, [(3, 103), (4, 2)])
        assert sorted(await values(other)) == [1, 2, 101, 102]


async def test_executemany_on_read_only_connections(fw: Framework, tmp_path: Path) -> None:
    """The savepoint needs no write: reads run on a read-only file and a pool reader."""
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db:
        await make_table(db)
        await db.execute("INSERT INTO t VALUES (1), (2)")
    async with aiolite.connect(path, readonly=True) as db:
        found = await db.executemany("SELECT x * 10 FROM t WHERE x = ?", [(1,), (2,), (3,)])
        assert await found.fetchall() == [(10,), (20,)]
        with pytest.raises(aiolite.ReadOnlyError):
            await db.executemany("INSERT INTO t VALUES (?)", [(3,)])
        assert not db.in_transaction
        await assert_usable(fw, db)
    async with aiolite.open_pool(path, readers=1) as pool, pool.reader() as reader:
        found = await reader.executemany("SELECT x FROM t WHERE x = ?", [(2,), (1,)])
        assert await found.fetchall() == [(2,), (1,)]
        with pytest.raises(aiolite.ReadOnlyError):
            await reader.executemany("INSERT INTO t VALUES (?)", [(3,)])
        assert not reader.in_transaction


# ------------------------------------------------------------------------ pool


async def test_failing_pool_write_in_a_writer_block_leaves_nothing(
    fw: Framework, tmp_path: Path
) -> None:
    """Inside a writer block too, each pool write is all or nothing, as outside one."""
    async with aiolite.open_pool(db_path(tmp_path), readers=1) as pool:
        await pool.execute("CREATE TABLE t(x UNIQUE)")
        async with pool.writer() as db:
            await pool.execute("INSERT INTO t VALUES ('before')")
            with pytest.raises(aiolite.ConstraintError):
                await pool.executemany("INSERT INTO t VALUES (?)", rows_then_duplicate(20))
            with pytest.raises(aiolite.ConstraintError):
                await pool.execute("INSERT INTO t VALUES ('x'); INSERT INTO t VALUES ('x')")
            with pytest.raises(aiolite.TransactionControlError):
                await pool.execute("INSERT INTO t VALUES ('y'); COMMIT")
            assert await values(db) == ["before"]
            await pool.execute("INSERT INTO t VALUES ('after')")
        assert await pool.fetchall("SELECT x FROM t") == [("before",), ("after",)]


# ------------------------------------------------ a script: statement by statement


async def test_a_script_runs_statement_by_statement(fw: Framework, tmp_path: Path) -> None:
    """What the README promises a multi-statement execute: each statement is atomic on its own.

    A failing statement stops the script; those before it keep their effect
    (committed, outside a transaction). Inside a block they stay in the
    block, which decides.
    """
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db, aiolite.connect(path) as other:
        await make_table(db)
        with pytest.raises(aiolite.ConstraintError):
            await db.execute("INSERT INTO t VALUES (1); INSERT INTO t VALUES (1), (2)")
        assert await values(other) == [1]
        with pytest.raises(aiolite.ConstraintError):
            async with db:
                await db.execute("INSERT INTO t VALUES (3); INSERT INTO t VALUES (3)")
        assert await values(other) == [1]
