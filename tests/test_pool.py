"""The pool: parallel readers, one writer, group commit, bounded waits, closing."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import apsw
import pytest

import aiolite
from tests.frameworks import Framework
from tests.helpers import GUARD, WorkerGate

pytestmark = pytest.mark.timeout(60)


def path_of(tmp_path: Path) -> str:
    return str(tmp_path / "pool.db")


async def make_table(pool: aiolite.Pool) -> None:
    await pool.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, x UNIQUE)")


async def write_then_wait(fw: Framework, pool: aiolite.Pool, value: str, entered: Any) -> None:
    """A writer block that writes, says so, and waits until cancelled."""
    async with pool.writer() as db:
        await db.execute("INSERT INTO t(x) VALUES (?)", (value,))
        entered.set()
        await fw.sleep(3600)


async def test_basic_reads_and_writes(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.open_pool(path_of(tmp_path), readers=2) as pool:
        await make_table(pool)
        result = await pool.execute("INSERT INTO t(x) VALUES (?) RETURNING id, x", ("a",))
        assert result.rows == [(1, "a")]
        assert (result.changes, result.lastrowid) == (1, 1)
        many = await pool.executemany("INSERT INTO t(x) VALUES (?)", [("b",), ("c",)])
        assert many.changes == 2
        assert await pool.fetchall("SELECT x FROM t ORDER BY id") == [("a",), ("b",), ("c",)]
        assert await pool.fetchone("SELECT x FROM t WHERE x > ? ORDER BY x", ("a",)) == ("b",)
        assert await pool.fetchone("SELECT x FROM t WHERE 0") is None
        assert await pool.fetchval("SELECT count(*) FROM t") == 3
        async with pool.reader() as db:
            assert await db.pragma("query_only") == 1
            assert await db.pragma("journal_mode") == "wal"
            with pytest.raises(apsw.ReadOnlyError):
                await db.execute("INSERT INTO t(x) VALUES ('no')")
        assert await pool.writer_connection.pragma("synchronous") == 2  # FULL: durable on return
        with pytest.raises(TypeError):
            await pool.fetchall(b"SELECT 1")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await pool.execute(None)  # type: ignore[arg-type]


async def test_reads_overlap_on_readers(fw: Framework, tmp_path: Path) -> None:
    """Two reads are inside SQLite at once: each waits at a barrier only both can pass."""
    barrier = threading.Barrier(2, timeout=GUARD)

    def meet(x: int) -> int:
        barrier.wait()  # BrokenBarrierError (the test fails) unless the other read is here too
        return x

    async with aiolite.open_pool(path_of(tmp_path), readers=2) as pool:
        await make_table(pool)
        async with pool.reader() as one, pool.reader() as two:
            assert one is not two
            for db in (one, two):
                await db.create_scalar_function("meet", meet)
        results: list[Any] = []

        async def read(n: int) -> None:
            results.append(await pool.fetchval("SELECT meet(?)", (n,)))

        async with fw.fail_after(GUARD), fw.task_group() as group:
            group.start_propagating(read, 1)
            group.start_propagating(read, 2)
        assert sorted(results) == [1, 2]
        assert pool.stats().reads == 2


async def test_group_commit_fewer_commits_than_writes(fw: Framework, tmp_path: Path) -> None:
    commits = 0

    def on_commit() -> bool:
        nonlocal commits
        commits += 1
        return False  # let it commit

    async with aiolite.open_pool(path_of(tmp_path), readers=1) as pool:
        await make_table(pool)
        await pool.writer_connection.run(lambda conn: conn.set_commit_hook(on_commit))
        async with fw.task_group() as group:
            for i in range(200):
                group.start_propagating(pool.execute, "INSERT INTO t(x) VALUES (?)", (i,))
        assert await pool.fetchval("SELECT count(*) FROM t") == 200
        stats = pool.stats()
        assert stats.writes == 201
        assert commits < 100, f"{commits} commits for 200 concurrent writes"
        assert stats.commits == commits + 1  # and the CREATE TABLE before the hook


async def test_failing_statement_fails_only_its_caller(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.open_pool(path_of(tmp_path), readers=1) as pool:
        await make_table(pool)
        await pool.execute("INSERT INTO t(x) VALUES ('taken')")
        handles = []
        async with fw.task_group() as group:
            for value in ("a", "b", "taken", "c", "d"):
                handles.append(
                    group.start_soon(pool.execute, "INSERT INTO t(x) VALUES (?)", (value,))
                )
        errors = [type(h.error) for h in handles]
        assert errors == [type(None), type(None), apsw.ConstraintError, type(None), type(None)]
        rows = await pool.fetchall("SELECT x FROM t ORDER BY id")
        assert sorted(x for (x,) in rows) == ["a", "b", "c", "d", "taken"]
        assert pool.stats().failed_writes == 1


async def test_cancelled_queued_write_is_absent(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.open_pool(path_of(tmp_path), readers=1) as pool:
        await make_table(pool)
        release = fw.event()
        holding = fw.event()

        async def hold_writer() -> None:
            async with pool.writer() as db:
                holding.set()
                await release.wait()
                await db.execute("INSERT INTO t(x) VALUES ('block')")

        async with fw.fail_after(GUARD), fw.task_group() as group:
            group.start_soon(hold_writer)
            await holding.wait()
            doomed = group.start_soon(pool.execute, "INSERT INTO t(x) VALUES ('doomed')")
            kept = group.start_soon(pool.execute, "INSERT INTO t(x) VALUES ('kept')")
            while pool.stats().writes_queued < 2:
                await fw.checkpoint()
            doomed.cancel()
            while pool.stats().writes_queued > 1:
                await fw.checkpoint()
            release.set()
        assert doomed.cancelled
        assert kept.error is None
        rows = await pool.fetchall("SELECT x FROM t ORDER BY id")
        assert rows == [("block",), ("kept",)]


async def test_writer_block_commits_or_rolls_back(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.open_pool(path_of(tmp_path), readers=1) as pool:
        await make_table(pool)
        async with pool.writer() as db:
            await db.execute("INSERT INTO t(x) VALUES ('one')")
            await pool.execute("INSERT INTO t(x) VALUES ('two')")  # joins the block
            assert await pool.fetchval("SELECT count(*) FROM t") == 2  # sees its own writes
            assert db.in_transaction

        async def failing_block() -> None:
            async with pool.writer() as db:
                await db.execute("INSERT INTO t(x) VALUES ('raised')")
                raise LookupError

        with pytest.raises(LookupError):
            await failing_block()
        entered = fw.event()
        async with fw.fail_after(GUARD), fw.task_group() as group:
            handle = group.start_soon(write_then_wait, fw, pool, "cancelled", entered)
            await entered.wait()
            handle.cancel()
        assert handle.cancelled
        assert await pool.fetchall("SELECT x FROM t ORDER BY id") == [("one",), ("two",)]
        await pool.execute("INSERT INTO t(x) VALUES ('after')")  # the writer is free again
        assert await pool.fetchval("SELECT count(*) FROM t") == 3
        with pytest.raises(aiolite.TransactionControlError):
            await pool.execute("COMMIT")
        with pytest.raises(aiolite.TransactionControlError):
            await pool.execute("INSERT INTO t(x) VALUES ('x'); /* sneaky */ ROLLBACK")
        assert await pool.fetchval("SELECT count(*) FROM t") == 3


@pytest.mark.frameworks("asyncio", "trio")
async def test_transaction_control_behind_empty_statements_is_refused(
    fw: Framework, tmp_path: Path
) -> None:
    """Found by tests/stress/test_fuzz_sql.py: SQLite skips a leading ";".

    ``";COMMIT"`` used to slip past the check, commit the group's transaction
    from inside it and report the write as lost to a closing pool; and a run
    of spaces before a non-word character made the check's regex backtrack
    exponentially on the event loop (200 spaces: forever).
    """
    async with aiolite.open_pool(path_of(tmp_path), readers=1) as pool:
        await make_table(pool)
        for sql in (";COMMIT", " ; ;\n-- c\n/* d */ ROLLBACK", "INSERT INTO t(x) VALUES (1);;END"):
            with pytest.raises(aiolite.TransactionControlError):
                await pool.execute(sql)
        with pytest.raises(apsw.SQLError, match="syntax error"):
            await pool.execute(" " * 200 + "(")
        with pytest.raises(apsw.SQLError, match="syntax error"):
            await pool.execute("/* */ " * 200 + "(")
        await pool.execute("INSERT INTO t(x) VALUES ('after')")  # the writer is fine
        assert await pool.fetchall("SELECT x FROM t") == [("after",)]


@pytest.mark.frameworks("asyncio", "trio")
@pytest.mark.parametrize("readers", [1, 0])
async def test_a_read_cannot_leave_a_transaction_open(
    fw: Framework, tmp_path: Path, readers: int
) -> None:
    """Found by tests/stress/test_fuzz_sql.py: ``pool.fetchall("BEGIN")``.

    It left its reader inside a transaction, whose snapshot every later read
    on that reader then saw: writes committed afterwards never showed up
    there. (With no readers it left the writer in a transaction, and every
    later group commit failed.)
    """
    async with aiolite.open_pool(path_of(tmp_path), readers=readers) as pool:
        await make_table(pool)
        for sql in ("BEGIN", "/* x */ SAVEPOINT s"):
            with pytest.raises(aiolite.TransactionControlError):
                await pool.fetchall(sql)
        with pytest.raises(aiolite.TransactionControlError):
            await pool.fetchone("SELECT 1; BEGIN; SELECT 2")
        with pytest.raises(aiolite.TransactionControlError):
            await pool.fetchval("SELECT count(*) FROM t; SAVEPOINT s")
        assert await pool.fetchall("SELECT 1; SELECT 2") == [(1,), (2,)]
        for n in range(1, 4):
            await pool.execute("INSERT INTO t(x) VALUES (?)", (n,))
            assert await pool.fetchval("SELECT count(*) FROM t") == n


async def test_a_reader_block_cannot_leave_a_transaction_open(
    fw: Framework, tmp_path: Path
) -> None:
    """A raw ``BEGIN`` left open in ``pool.reader()`` ends with the block.

    Left open, that reader kept its snapshot for every later caller, so
    writes committed after the block never showed up in reads there.
    """
    async with aiolite.open_pool(path_of(tmp_path), readers=1) as pool:
        await make_table(pool)
        async with pool.reader() as db:
            await db.execute("BEGIN")
            assert await (await db.execute("SELECT count(*) FROM t")).get == 0
        for n in range(1, 4):
            await pool.execute("INSERT INTO t(x) VALUES (?)", (n,))
            assert await pool.fetchval("SELECT count(*) FROM t") == n
            async with pool.reader() as db:
                assert await (await db.execute("SELECT count(*) FROM t")).get == n


async def test_fetchone_closes_its_statement_before_the_next_request(
    fw: Framework, tmp_path: Path
) -> None:
    """Found by tests/stress/test_load.py at full size: stale reads on a shared reader.

    ``pool.fetchone`` left its statement open until a later request closed
    it, and the worker ran the requests queued behind it in between, inside
    that statement's read snapshot: another task's read there missed writes
    its task had already been told were committed.
    """
    async with aiolite.open_pool(path_of(tmp_path), readers=1) as pool:
        await make_table(pool)
        await pool.executemany("INSERT INTO t(x) VALUES (?)", [(1,), (2,), (3,)])
        gate = WorkerGate()
        async with pool.reader() as reader, fw.task_group() as group:
            group.start_soon(reader.run, gate.hold)  # the worker waits; requests queue
            first = group.start_soon(pool.fetchone, "SELECT x FROM t ORDER BY x")
            async with fw.fail_after(GUARD):
                while pool.stats().reads_in_flight < 1:
                    await fw.checkpoint()
            txn_state = group.start_soon(reader.run, lambda conn: conn.txn_state())
            gate.open()
        assert first.result == (1,)
        assert txn_state.result == apsw.SQLITE_TXN_NONE  # no snapshot left behind


async def test_a_plain_read_never_shares_a_reader_blocks_snapshot(
    fw: Framework, tmp_path: Path
) -> None:
    """Found by tests/stress/test_load.py at full size: with every reader in a block.

    Plain reads then queued on a block's reader, ran between the block's
    requests, and shared the snapshot its open cursor held: another task
    missed a write it had already seen committed. Now they wait for a
    reader; a task's own reads inside its block use its block's reader.
    """
    async with aiolite.open_pool(path_of(tmp_path), readers=1) as pool:
        await make_table(pool)
        await pool.executemany("INSERT INTO t(x) VALUES (?)", [(i,) for i in range(5000)])
        counts: list[int] = []
        written = fw.event()

        async def count() -> None:  # started outside the block: not one of its tasks
            await written.wait()
            counts.append(await pool.fetchval("SELECT count(*) FROM t"))

        async with fw.fail_after(GUARD), fw.task_group() as group:
            group.start_soon(count)
            async with pool.reader() as db:
                cursor = await db.execute("SELECT x FROM t")  # stays open: more rows to come
                assert await cursor.fetchone() == (0,)
                await pool.execute("INSERT INTO t(x) VALUES (-1)")
                written.set()
                for _ in range(3):  # round trips in which a queued read would run
                    assert await db.run(lambda conn: 1) == 1
                assert await pool.fetchval("SELECT 7") == 7  # this block's own reader
                await cursor.aclose()
        assert counts == [5001]


async def test_acquire_timeout(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.open_pool(path_of(tmp_path), readers=1, acquire_timeout=0.2) as pool:
        await make_table(pool)
        release = fw.event()
        holding = fw.event()

        async def hold(block: Any) -> None:
            async with block():
                holding.set()
                await release.wait()

        async def other_block() -> None:
            async with pool.writer():
                pass

        async with fw.fail_after(GUARD), fw.task_group() as group:
            group.start_soon(hold, pool.writer)
            await holding.wait()
            assert pool.stats().writer_busy
            late = group.start_soon(pool.execute, "INSERT INTO t(x) VALUES ('late')")
            blocked = group.start_soon(other_block)
            while not (late.finished and blocked.finished):
                await fw.sleep(0.01)
            release.set()
        assert isinstance(late.error, aiolite.PoolTimeout)
        assert isinstance(late.error, TimeoutError)
        assert isinstance(blocked.error, aiolite.PoolTimeout)
        assert pool.stats().writes_queued == 0
        holding, release = fw.event(), fw.event()

        async def second_reader() -> None:
            async with pool.reader():
                pass

        async with fw.fail_after(GUARD), fw.task_group() as group:
            group.start_soon(hold, pool.reader)
            await holding.wait()
            assert pool.stats().readers_checked_out == 1
            with pytest.raises(aiolite.PoolTimeout):  # every reader is a block's: reads wait
                await pool.fetchval("SELECT 1")
            refused = group.start_soon(second_reader)
            while not refused.finished:
                await fw.sleep(0.01)
            release.set()
        assert isinstance(refused.error, aiolite.PoolTimeout)
        assert pool.stats().timeouts == 4  # the plain read counts too
        await pool.execute("INSERT INTO t(x) VALUES ('fine')")
        assert await pool.fetchall("SELECT x FROM t") == [("fine",)]


async def test_close_waits_for_work_in_flight(fw: Framework, tmp_path: Path) -> None:
    pool = await aiolite.open_pool(path_of(tmp_path), readers=2)
    await make_table(pool)
    handles = []
    started = 0

    async def insert(i: int) -> None:
        nonlocal started
        started += 1  # and pool.execute queues the write before its first await
        await pool.execute("INSERT INTO t(x) VALUES (?)", (i,))

    async with fw.fail_after(GUARD), fw.task_group() as group:
        for i in range(50):
            handles.append(group.start_soon(insert, i))
        while started < 50:
            await fw.checkpoint()
        await pool.close()
    assert all(h.error is None for h in handles)
    assert pool.closed
    assert pool.stats().closed
    with pytest.raises(aiolite.ConnectionClosedError):
        await pool.fetchall("SELECT 1")
    with pytest.raises(aiolite.ConnectionClosedError):
        await pool.execute("INSERT INTO t(x) VALUES ('after')")
    await pool.close()  # idempotent
    async with aiolite.connect(path_of(tmp_path)) as db:
        assert await (await db.execute("SELECT count(*) FROM t")).get == 50


async def test_close_stops_work_past_its_timeout(fw: Framework, tmp_path: Path) -> None:
    pool = await aiolite.open_pool(path_of(tmp_path), readers=1, close_timeout=0.2)
    await make_table(pool)
    entered = fw.event()
    async with fw.fail_after(GUARD), fw.task_group() as group:
        stuck = group.start_soon(write_then_wait, fw, pool, "never committed", entered)
        await entered.wait()
        queued = group.start_soon(pool.execute, "INSERT INTO t(x) VALUES ('queued')")
        while pool.stats().writes_queued == 0:
            await fw.checkpoint()
        started = fw.now()
        await pool.close()
        assert fw.now() - started < GUARD / 2
        stuck.cancel()
    assert isinstance(queued.error, aiolite.ConnectionClosedError)
    async with aiolite.connect(path_of(tmp_path)) as db:
        assert await (await db.execute("SELECT count(*) FROM t")).get == 0


@pytest.mark.frameworks("asyncio", "trio")
async def test_memory_pool_and_bad_options(fw: Framework) -> None:
    async with aiolite.open_pool(":memory:", readers=3) as pool:
        assert pool.stats().readers == 0
        await pool.execute("CREATE TABLE t(x)")
        await pool.execute("INSERT INTO t VALUES (1)")
        assert await pool.fetchval("SELECT x FROM t") == 1
        async with pool.reader() as db:
            assert await (await db.execute("SELECT count(*) FROM t")).get == 1
    for bad in ({"readers": -1}, {"readers": 1.5}, {"acquire_timeout": 0}, {"synchronous": "x"}):
        with pytest.raises(ValueError, match="must be"):
            aiolite.open_pool(":memory:", **bad)
    with pytest.raises(TypeError):
        aiolite.open_pool(3)  # type: ignore[arg-type]


@pytest.mark.frameworks("asyncio", "trio")
async def test_full_synchronous_and_row_factory(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.open_pool(
        path_of(tmp_path), readers=1, synchronous="FULL", row_factory=dict
    ) as pool:
        assert await pool.writer_connection.pragma("synchronous") == 2
        await pool.execute("CREATE TABLE t(x)")
        result = await pool.execute("INSERT INTO t VALUES (7) RETURNING x")
        assert result.rows == [{"x": 7}]
        assert await pool.fetchall("SELECT x FROM t") == [{"x": 7}]
        assert "readers=1" in repr(pool)


async def test_another_process_holding_the_lock_is_a_pool_timeout(
    fw: Framework, tmp_path: Path
) -> None:
    path = path_of(tmp_path)
    async with aiolite.open_pool(path, readers=1, busy_timeout=0.2) as pool:
        await make_table(pool)
        async with aiolite.connect(path) as other, other.transaction("immediate"):
            await other.execute("INSERT INTO t(x) VALUES ('other')")
            with pytest.raises(aiolite.PoolTimeout, match="busy_timeout"):
                await pool.execute("INSERT INTO t(x) VALUES ('mine')")
            with pytest.raises(aiolite.PoolTimeout, match="busy_timeout"):
                async with pool.writer():
                    pass
            assert await pool.fetchval("SELECT count(*) FROM t") == 0  # readers never wait
        await pool.execute("INSERT INTO t(x) VALUES ('mine')")
        assert await pool.fetchall("SELECT x FROM t ORDER BY id") == [("other",), ("mine",)]
