"""The inline fast path: tiny reads on the loop thread, and everything that must not go there.

A read runs inline only when the worker is idle, and only while it reads and
stays within its budget; anything else is abandoned before it changes
anything and re-run in the worker. These tests pin that it is invisible:
same results, same errors, same ordering and isolation, writes and callbacks
always in the worker, and a loop that is never starved.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import apsw
import pytest

import aiolite
from aiolite._engine import LEARN_ROUNDS
from tests.frameworks import Framework
from tests.helpers import ENDLESS_QUERY, GUARD, Db, assert_usable, count_rows, db_path

# Counts to ?: tiny for small numbers, far past the inline budget for large ones.
COUNT_TO = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) "
    "SELECT count(*) FROM c"
)


def trips(db: Db) -> int:
    """Requests the worker has finished: an inline read adds none."""
    return db._engine.requests_served


async def learn(db: Db, sql: str, bindings: tuple[Any, ...] = ()) -> Any:
    """Run ``sql`` until it runs inline (the first run also pays for preparing it)."""
    for _ in range(5):
        before = trips(db)
        result = await (await db.execute(sql, bindings)).get
        if trips(db) == before:
            return result
    raise AssertionError(f"{sql!r} never ran inline")


async def make_table(db: Db) -> None:
    await db.execute("CREATE TABLE t(x INTEGER PRIMARY KEY, y)")
    await db.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"row {i}") for i in range(100)])


async def test_tiny_reads_skip_the_worker_and_agree_with_it(fw: Framework) -> None:
    async with (
        aiolite.connect(":memory:", row_factory=aiolite.Row) as fast,
        aiolite.connect(":memory:", row_factory=aiolite.Row, inline=False) as slow,
    ):
        for db in (fast, slow):
            await make_table(db)
        query = "SELECT x, y FROM t WHERE x BETWEEN ? AND ? ORDER BY x"
        await learn(fast, query, (0, 1))
        before = trips(fast)
        for low in range(0, 100, 10):
            inline_cursor = await fast.execute(query, (low, low + 3))
            worker_cursor = await slow.execute(query, (low, low + 3))
            assert inline_cursor.description == worker_cursor.description
            inline_rows = await inline_cursor.fetchall()
            assert inline_rows == await worker_cursor.fetchall()
            assert [row.y for row in inline_rows] == [f"row {x}" for x in range(low, low + 4)]
        assert trips(fast) == before, "tiny reads went to the worker"


async def test_writes_never_run_inline(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await make_table(db)
        statements = [
            ("INSERT INTO t(y) VALUES (?)", ("new",)),
            ("UPDATE t SET y = ? WHERE x = 1", ("changed",)),
            ("DELETE FROM t WHERE x = ?", (2,)),
            ("WITH d(v) AS (SELECT 'cte') INSERT INTO t(y) SELECT v FROM d", None),
            ("SELECT 1; INSERT INTO t(y) VALUES ('after a read')", None),
        ]
        for _ in range(3):  # again once the statements are known
            for sql, bindings in statements:
                before = trips(db)
                await db.execute(sql, bindings)
                assert trips(db) == before + 1, f"{sql!r} did not go to the worker"
        assert await count_rows(db) == 100 + 3 + 3 + 3 - 1
        assert await (await db.execute("SELECT y FROM t WHERE x = 1")).get == "changed"
        rows = await (await db.execute("SELECT count(*) FROM t WHERE y = 'after a read'")).get
        assert rows == 3, "an abandoned attempt ran its write, or a re-run wrote twice"


async def test_only_reads_proven_tiny_in_the_worker_run_inline(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        assert await learn(db, COUNT_TO, (10,)) == 10
        before = trips(db)
        assert await (await db.execute(COUNT_TO, (10,))).get == 10
        assert trips(db) == before
        for _ in range(2):  # slow from the start: never learned
            before = trips(db)
            assert (
                await (await db.execute("SELECT count(*) FROM (" + COUNT_TO + ")", (300000,))).get
                == 1
            )
            assert trips(db) - before == 1


async def test_a_read_over_budget_is_rerun_in_the_worker_with_the_same_result(
    fw: Framework,
) -> None:
    async with aiolite.connect(":memory:") as db:
        assert await learn(db, COUNT_TO, (10,)) == 10
        before = trips(db)
        assert await (await db.execute(COUNT_TO, (300000,))).get == 300000
        assert trips(db) - before == 1, "the abandoned read was not re-run in the worker"
        assert db._inline is not None
        assert db._inline.probation(COUNT_TO) == 1
        before = trips(db)
        assert await (await db.execute(COUNT_TO, (10,))).get == 10
        assert trips(db) - before == 1, "tried inline again straight away"
        before = trips(db)
        for _ in range(3):  # probation over: inline again, and quick
            assert await (await db.execute(COUNT_TO, (10,))).get == 10
        assert trips(db) == before
        assert db._inline.probation(COUNT_TO) == 0, "quick runs should forgive the overrun"


async def test_a_read_that_ran_long_in_one_step_goes_back_to_the_worker(fw: Framework) -> None:
    # One VM step can run long (a huge function result, a count(*) walking a
    # big table) where no budget check can stop it: the time the inline run
    # took catches it instead.
    sql = "SELECT length(randomblob(?))"
    async with aiolite.connect(":memory:") as db:
        assert await learn(db, sql, (10,)) == 10
        assert db._inline is not None
        before = trips(db)
        assert await (await db.execute(sql, (30_000_000,))).get == 30_000_000
        assert trips(db) == before, "expected this run inline"
        assert db._inline.probation(sql) == 0, "one overrun may be preemption: no probation yet"
        assert await (await db.execute(sql, (30_000_000,))).get == 30_000_000
        assert trips(db) == before, "expected this run inline too"
        assert db._inline.probation(sql) == 1, "two overruns in a row mean probation"
        before = trips(db)
        assert await (await db.execute(sql, (10,))).get == 10
        assert trips(db) - before == 1


async def test_a_read_queued_behind_others_never_overtakes_them(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await make_table(db)
        seen: list[int] = []
        async with fw.fail_after(GUARD), fw.task_group() as group:
            busy = group.start_soon(db.execute, ENDLESS_QUERY)  # the worker is busy
            while db._engine.pending == 0:
                await fw.checkpoint()

            async def write() -> None:
                await db.execute("INSERT INTO t(y) VALUES ('queued write')")

            group.start_soon(write)
            while db._engine.pending < 2:
                await fw.checkpoint()

            async def read() -> None:
                seen.append(await count_rows(db))

            group.start_soon(read)
            while db._engine.pending < 3:
                await fw.checkpoint()
            busy.cancel()
        assert seen == [101], "the read ran ahead of the write submitted before it"


async def test_a_read_never_runs_inside_another_tasks_transaction(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await make_table(db)
        counts: list[int] = []
        inserted = fw.event()
        release = fw.event()

        async def writer() -> None:
            async with db:
                await db.execute("INSERT INTO t(y) VALUES ('in a transaction')")
                inserted.set()
                await release.wait()

        async def reader() -> None:
            counts.append(await count_rows(db))

        async with fw.fail_after(GUARD), fw.task_group() as group:
            group.start_soon(writer)
            await inserted.wait()
            group.start_soon(reader)
            for _ in range(20):
                await fw.checkpoint()
            assert counts == [], "the read ran while another task's transaction was open"
            release.set()
        assert counts == [101]


async def test_inline_reads_let_other_tasks_run(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await make_table(db)
        ticks = 0
        stop = False

        async def ticker() -> None:
            nonlocal ticks
            while not stop:
                ticks += 1
                await fw.checkpoint()

        await learn(db, "SELECT y FROM t WHERE x = ?", (0,))
        async with fw.fail_after(GUARD), fw.task_group() as group:
            group.start_soon(ticker)
            await fw.checkpoint()
            ticks_before = ticks
            before = trips(db)
            for i in range(3000):
                await (await db.execute("SELECT y FROM t WHERE x = ?", (i % 100,))).get
            ticks_during = ticks - ticks_before
            stop = True
        # Most ran inline (a preempted one may be sent to the worker for a while).
        assert trips(db) - before < 1500, "the reads were not inline, so this proves nothing"
        assert ticks_during > 0, "back-to-back inline reads starved the other task"


async def test_callbacks_and_run_keep_everything_in_the_worker(fw: Framework) -> None:
    threads: list[str] = []

    def where(x: int) -> int:
        threads.append(threading.current_thread().name)
        return x

    async with aiolite.connect(":memory:") as db:
        await make_table(db)
        await db.create_scalar_function("where_am_i", where, 1)
        for _ in range(3):
            assert await (await db.execute("SELECT where_am_i(x) FROM t WHERE x = 5")).get == 5
        assert threads
        assert all(name.startswith("aiolite-worker") for name in threads), threads

    async with aiolite.connect(":memory:") as db:
        await db.run(lambda conn: conn.create_scalar_function("where_am_i", where, 1))
        threads.clear()
        before = trips(db)
        for _ in range(3):
            assert await (await db.execute("SELECT where_am_i(7)")).get == 7
        assert trips(db) == before + 3
        assert all(name.startswith("aiolite-worker") for name in threads), threads


async def test_inline_errors_are_the_workers_errors(fw: Framework) -> None:
    async with (
        aiolite.connect(":memory:") as fast,
        aiolite.connect(":memory:", inline=False) as slow,
    ):
        for db in (fast, slow):
            await make_table(db)
        for sql, bindings, error in [
            ("SELECT * FROM missing", None, apsw.SQLError),
            ("SELECT ?", (1, 2), apsw.BindingsError),
            ("SELECT ?", (object(),), TypeError),
            ("SELEKT 1", None, apsw.SQLError),
        ]:
            for db in (fast, slow):
                for _ in range(2):
                    with pytest.raises(error):
                        await db.execute(sql, bindings)
        await assert_usable(fw, fast)
        assert await count_rows(fast) == await count_rows(slow) == 100


async def test_a_locked_read_waits_in_the_worker_not_on_the_loop(
    fw: Framework, tmp_path: Path
) -> None:
    path = db_path(tmp_path)
    options: aiolite.ConnectOptions = {"best_practice": False, "busy_timeout": GUARD}
    async with aiolite.connect(path, **options) as reader, aiolite.connect(path, **options) as lock:
        await lock.pragma("journal_mode", "delete")  # readers block on a writer's lock
        await make_table(lock)
        assert await learn(reader, "SELECT count(*) FROM t") == 100
        await lock.execute("BEGIN EXCLUSIVE; INSERT INTO t(y) VALUES ('locked')")
        counts: list[int] = []

        async def read() -> None:
            counts.append(await count_rows(reader))

        async with fw.fail_after(GUARD), fw.task_group() as group:
            group.start_soon(read)
            for _ in range(20):  # the loop still runs while the read waits for the lock
                await fw.checkpoint()
            assert counts == []
            await lock.execute("COMMIT")
        assert counts == [101]


async def test_inline_false_sends_every_statement_to_the_worker(fw: Framework) -> None:
    async with aiolite.connect(":memory:", inline=False) as db:
        before = trips(db)
        for _ in range(5):
            assert await (await db.execute("SELECT 1")).get == 1
        assert trips(db) == before + 5


async def test_closing_from_another_thread_during_reads_fails_cleanly(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await make_table(db)
        closer = threading.Thread(target=db.stop)
        outcomes: set[str] = set()
        async with fw.fail_after(GUARD):
            for i in range(20000):
                if i == 100:
                    closer.start()
                try:
                    await (await db.execute("SELECT y FROM t WHERE x = ?", (i % 100,))).get
                except aiolite.ConnectionClosedError:
                    outcomes.add("closed")
                    break
                outcomes.add("ok")
        closer.join(GUARD)
        assert outcomes == {"ok", "closed"}
        assert db.closed


async def test_a_burst_of_a_new_read_waits_for_one_run_then_runs_inline(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await make_table(db)
        query = "SELECT y FROM t WHERE x = ?"
        before = trips(db)
        results: dict[int, Any] = {}

        async def read(x: int) -> None:
            results[x] = await (await db.execute(query, (x,))).get

        async with fw.fail_after(GUARD), fw.task_group() as group:
            for x in range(100):
                group.start_soon(read, x)
        assert results == {x: f"row {x}" for x in range(100)}
        # One task's run in the worker showed the read tiny; the others ran inline.
        assert trips(db) - before <= LEARN_ROUNDS


async def test_a_burst_of_a_new_write_runs_every_write_once_in_the_worker(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await make_table(db)
        insert = "INSERT INTO t(y) VALUES (?)"
        before = trips(db)

        async def write(x: int) -> None:
            await db.execute(insert, (f"new {x}",))

        async with fw.fail_after(GUARD), fw.task_group() as group:
            for x in range(20):
                group.start_soon(write, x)
        assert trips(db) - before == 20
        rows = await (await db.execute("SELECT y FROM t WHERE x >= 100")).fetchall()
        assert sorted(y for (y,) in rows) == sorted(f"new {x}" for x in range(20))
        policy = db._core.inline
        assert policy is not None
        assert policy.seen(insert)
        assert not policy.known(insert)
        assert not policy.learning
