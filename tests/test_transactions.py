"""Transaction blocks: commit, rollback, savepoints, modes, and keeping other tasks out."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import anyio
import apsw
import pytest

import aiolite
from aiolite._apsw.busy import BusyWaiter
from tests.frameworks import Framework, TaskHandle
from tests.helpers import count_rows, db_path, values


class Boom(Exception):
    """Raised inside a block to make it roll back."""


def succeeded(handle: TaskHandle) -> Any:
    """The task's result; re-raises what failed inside it (tasks swallow their errors)."""
    assert handle.finished, "the task did not finish"
    if handle.error is not None:
        raise handle.error
    assert not handle.cancelled, "the task was cancelled"
    return handle.result


async def insert_then_fail(
    block: AbstractAsyncContextManager[Any],
    db: aiolite.Connection[Any],
    *inserted: Any,
    error: BaseException | None = None,
) -> None:
    """Inside ``block``, insert each value into t, then raise ``error`` (a Boom by default)."""
    async with block:
        for value in inserted:
            await db.execute("INSERT INTO t VALUES (?)", (value,))
        raise error if error is not None else Boom


def signalling_busy_handler(
    db: aiolite.Connection[Any], timeout: float, waiting: threading.Event
) -> Callable[[apsw.Connection], None]:
    """aiolite's own busy handler for ``db``, which also reports when it starts waiting."""
    own = BusyWaiter(db._engine, timeout)

    def handler(prior_calls: int) -> bool:
        waiting.set()
        return own(prior_calls)

    def install(conn: apsw.Connection) -> None:
        conn.set_busy_handler(handler)

    return install


# --------------------------------------------------------------- commit / rollback


async def test_block_commits_on_success(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db, aiolite.connect(path) as other:
        await db.execute("CREATE TABLE t(x)")
        async with db:
            await db.execute("INSERT INTO t VALUES (1)")
            assert db.in_transaction
            assert await count_rows(other) == 0  # not committed yet
        assert not db.in_transaction
        assert await values(other) == [1]


async def test_block_rolls_back_on_exception(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db, aiolite.connect(path) as other:
        await db.execute("CREATE TABLE t(x)")
        error = Boom("the block failed")
        with pytest.raises(Boom) as raised:
            await insert_then_fail(db, db, 1, error=error)
        assert raised.value is error
        assert raised.value.args == ("the block failed",)
        assert not db.in_transaction
        assert await count_rows(db) == 0
        assert await count_rows(other) == 0


async def test_block_rolls_back_on_cancellation(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db, aiolite.connect(path) as other:
        await db.execute("CREATE TABLE t(x)")
        inside = fw.event()
        never = fw.event()
        reached_end = False

        async def writer() -> None:
            nonlocal reached_end
            async with db:
                await db.execute("INSERT INTO t VALUES ('cancelled')")
                inside.set()
                await never.wait()
                reached_end = True

        async with fw.fail_after(20), fw.task_group() as tg:
            handle = tg.start_soon(writer)
            await inside.wait()
            assert await count_rows(other) == 0
            handle.cancel()

        assert handle.cancelled
        assert handle.error is None
        assert not reached_end
        assert not db.in_transaction
        assert await count_rows(db) == 0
        assert await count_rows(other) == 0
        # The connection is still usable, for plain statements and for blocks.
        async with db:
            await db.execute("INSERT INTO t VALUES ('after')")
        assert await values(other) == ["after"]


async def test_cancellation_while_begin_runs_leaves_no_transaction(
    fw: Framework, tmp_path: Path
) -> None:
    """A cancellation that lands while BEGIN runs in the worker, which then completes it.

    The block's task never learns that the BEGIN ran; without undoing it the
    transaction stayed open, and every later block became a savepoint of it
    that was never committed (lost at close). The pool's writer blocks share
    this path. A sync authorizer holds the BEGIN in the worker until the
    cancellation has been delivered.
    """
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db, aiolite.connect(path) as other:
        await db.execute("CREATE TABLE t(x)")
        in_begin, release = threading.Event(), threading.Event()

        def authorizer(action: int, *names: Any) -> int:
            if action == apsw.SQLITE_TRANSACTION and not release.is_set():
                in_begin.set()
                release.wait(10)
            return apsw.SQLITE_OK

        await db.set_authorizer(authorizer)

        async def block() -> None:
            async with db:
                await db.execute("INSERT INTO t VALUES ('cancelled')")

        async with fw.fail_after(20), fw.task_group() as tg:
            handle = tg.start_soon(block)
            while not in_begin.is_set():  # the BEGIN is being prepared in the worker
                await fw.sleep(0.001)
            handle.cancel()
            await fw.checkpoint()
            release.set()  # now the BEGIN completes, after its caller was cancelled

        assert handle.cancelled
        await db.set_authorizer(None)
        assert not db.in_transaction
        async with db:
            await db.execute("INSERT INTO t VALUES ('after')")
        assert not db.in_transaction
        assert await values(other) == ["after"]


# ---------------------------------------------------------------------- savepoints


async def test_nested_blocks_are_savepoints(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.connect(db_path(tmp_path)) as db:
        await db.execute("CREATE TABLE t(x)")
        async with db:
            await db.execute("INSERT INTO t VALUES ('outer')")
            async with db:
                await db.execute("INSERT INTO t VALUES ('middle')")
                with pytest.raises(Boom):
                    await insert_then_fail(db, db, "inner")
                # Only the innermost block's write is gone; the transaction is still open.
                assert await values(db) == ["outer", "middle"]
                assert db.in_transaction
                await db.execute("INSERT INTO t VALUES ('middle again')")
            assert db.in_transaction
        assert not db.in_transaction
        assert await values(db) == ["outer", "middle", "middle again"]


async def test_failed_middle_block_takes_its_inner_blocks_with_it(
    fw: Framework, tmp_path: Path
) -> None:
    async with aiolite.connect(db_path(tmp_path)) as db:
        await db.execute("CREATE TABLE t(x)")
        async with db:
            await db.execute("INSERT INTO t VALUES ('outer')")

            async def middle() -> None:
                async with db:
                    await db.execute("INSERT INTO t VALUES ('middle')")
                    async with db:  # succeeds: its savepoint is released into the middle one
                        await db.execute("INSERT INTO t VALUES ('inner')")
                    raise Boom

            with pytest.raises(Boom):
                await middle()
            assert await values(db) == ["outer"]
            async with db, db:
                await db.execute("INSERT INTO t VALUES ('deep')")
        assert await values(db) == ["outer", "deep"]


async def test_manual_begin_then_block_nests_as_savepoint(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.connect(db_path(tmp_path)) as db:
        await db.execute("CREATE TABLE t(x)")
        await db.execute("BEGIN")
        await db.execute("INSERT INTO t VALUES ('manual')")
        with pytest.raises(Boom):
            await insert_then_fail(db, db, "rolled back")
        assert db.in_transaction  # the manual transaction is untouched
        async with db:
            await db.execute("INSERT INTO t VALUES ('released')")
        assert db.in_transaction  # releasing the savepoint did not commit
        await db.execute("COMMIT")
        assert not db.in_transaction
        assert await values(db) == ["manual", "released"]


# --------------------------------------------------------------------------- modes


async def test_immediate_takes_the_write_lock_at_begin(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db, aiolite.connect(path, busy_timeout=0) as other:
        await db.execute("CREATE TABLE t(x)")
        async with db.transaction("immediate"):
            # db has not written anything yet, but already holds the write lock.
            with pytest.raises(aiolite.BusyError):
                await other.execute("INSERT INTO t VALUES ('other')")
            assert await count_rows(other) == 0  # readers are not blocked (WAL)
            await db.execute("INSERT INTO t VALUES ('db')")
        await other.execute("INSERT INTO t VALUES ('other')")
        assert await values(db) == ["db", "other"]


async def test_deferred_takes_no_lock_at_begin(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db, aiolite.connect(path, busy_timeout=0) as other:
        await db.execute("CREATE TABLE t(x)")
        async with db.transaction("deferred"):
            await other.execute("INSERT INTO t VALUES ('other')")
            await db.execute("INSERT INTO t VALUES ('db')")
        assert await values(other) == ["other", "db"]


async def test_exclusive_mode(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db, aiolite.connect(path, busy_timeout=0) as other:
        await db.execute("CREATE TABLE t(x)")
        async with db.transaction("exclusive"):
            with pytest.raises(aiolite.BusyError):
                await other.execute("INSERT INTO t VALUES ('other')")
            await db.execute("INSERT INTO t VALUES ('db')")
        with pytest.raises(Boom):
            await insert_then_fail(db.transaction("exclusive"), db, "rolled back")
        assert await values(other) == ["db"]


async def test_invalid_mode_is_rejected_before_anything_runs(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        served = db._engine.requests_served
        with pytest.raises(ValueError, match="later"):
            db.transaction("later")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="IMMEDIATE"):
            db.transaction("IMMEDIATE")  # type: ignore[arg-type]
        assert db._engine.requests_served == served
        assert not db.in_transaction


async def test_deferred_upgrade_after_another_commit_fails_at_once(
    fw: Framework, tmp_path: Path
) -> None:
    path = db_path(tmp_path)
    async with (
        aiolite.connect(path, busy_timeout=30) as db,
        aiolite.connect(path, busy_timeout=30) as other,
    ):
        await db.execute("CREATE TABLE t(x)")
        started = 0.0

        async def read_then_write() -> None:
            nonlocal started
            async with db:  # deferred
                assert await count_rows(db) == 0  # a read: db's snapshot starts here
                await other.execute("INSERT INTO t VALUES ('other')")  # commits
                started = time.monotonic()
                await db.execute("INSERT INTO t VALUES ('db')")

        with pytest.raises(aiolite.BusyError) as raised:
            await read_then_write()
        waited = time.monotonic() - started
        assert raised.value.extendedresult == apsw.SQLITE_BUSY_SNAPSHOT
        assert waited < 5, f"waited {waited:.1f} s for a lock that could never help"
        assert not db.in_transaction
        assert await values(db) == ["other"]


async def test_immediate_waits_instead_of_failing(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with (
        aiolite.connect(path, busy_timeout=30) as db,
        aiolite.connect(path, busy_timeout=30) as other,
    ):
        await db.execute("CREATE TABLE t(x)")
        waiting = threading.Event()
        await db.run(signalling_busy_handler(db, 30, waiting))

        async def read_then_write() -> int:
            async with db.transaction("immediate"):
                seen = await count_rows(db)
                await db.execute("INSERT INTO t VALUES ('db')")
            return seen

        async with fw.fail_after(30), fw.task_group() as tg, other.transaction("immediate"):
            await other.execute("INSERT INTO t VALUES ('other')")
            handle = tg.start_soon(read_then_write)
            # db's BEGIN IMMEDIATE is now waiting for other's write lock.
            assert await anyio.to_thread.run_sync(waiting.wait, 20)
            assert not handle.finished
        # It got the lock once other committed, read other's row, and wrote.
        assert succeeded(handle) == 1
        assert await values(other) == ["other", "db"]


# ------------------------------------------------------------- a failing commit


async def test_failed_commit_raises_and_leaves_no_transaction(
    fw: Framework, tmp_path: Path
) -> None:
    async with aiolite.connect(db_path(tmp_path)) as db:
        await db.execute(
            "PRAGMA foreign_keys = ON;"
            "CREATE TABLE parent(id INTEGER PRIMARY KEY);"
            "CREATE TABLE child(pid REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)"
        )
        reached_end = False

        async def orphan() -> None:
            nonlocal reached_end
            async with db:
                await db.execute("INSERT INTO child VALUES (99)")  # checked only at COMMIT
                reached_end = True

        with pytest.raises(aiolite.ConstraintError):
            await orphan()
        assert reached_end  # the error came from the commit, not the statement
        assert not db.in_transaction
        assert await count_rows(db, "child") == 0
        async with db:
            await db.execute("INSERT INTO parent VALUES (99)")
            await db.execute("INSERT INTO child VALUES (99)")
        assert await count_rows(db, "child") == 1


# --------------------------------------------------- tasks sharing one connection


async def test_other_tasks_reads_wait_for_the_block(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.connect(db_path(tmp_path)) as db:
        await db.execute("CREATE TABLE t(x)")
        a_inserted = fw.event()
        b_ready = fw.event()
        events: list[str] = []

        async def task_a() -> None:
            try:
                async with db:
                    await db.execute("INSERT INTO t VALUES ('a')")
                    a_inserted.set()
                    await b_ready.wait()
                    # B has made its request. Had it been queued rather than held
                    # back, the worker (first come, first served) would have run
                    # it inside this transaction before this request.
                    assert await count_rows(db) == 1
                    assert not b_handle.finished
                    events.append("A rolls back")
                    raise Boom
            except Boom:
                events.append("A's block ended")

        async def task_b() -> int:
            await a_inserted.wait()
            b_ready.set()
            seen = await count_rows(db)  # no await between b_ready.set() and this request
            events.append("B read")
            return seen

        async with fw.fail_after(20), fw.task_group() as tg:
            a_handle = tg.start_soon(task_a)
            b_handle = tg.start_soon(task_b)
        succeeded(a_handle)
        assert succeeded(b_handle) == 0  # never saw A's uncommitted row
        assert events == ["A rolls back", "A's block ended", "B read"]


async def test_write_waiting_for_a_block_skips_the_next_block_too(
    fw: Framework, tmp_path: Path
) -> None:
    """Task B's plain write and task C's block both wait for A's block to end.

    When A's block ends C may take the connection first; B's write must then
    wait for C's block as well, not run inside it (where C's rollback took
    B's acknowledged write with it).
    """
    async with aiolite.connect(db_path(tmp_path)) as db:
        await db.execute("CREATE TABLE t(x)")
        a_inside, c_waiting, b_waiting = (fw.event() for _ in range(3))

        async def task_a() -> None:
            async with db:
                await db.execute("INSERT INTO t VALUES ('a')")
                a_inside.set()
                await c_waiting.wait()
                await b_waiting.wait()

        async def task_c() -> None:
            await a_inside.wait()
            c_waiting.set()
            try:
                async with db:  # waits for A's block: first in line
                    await db.execute("INSERT INTO t VALUES ('c')")
                    raise Boom
            except Boom:
                pass

        async def task_b() -> None:
            await c_waiting.wait()
            b_waiting.set()
            await db.execute("INSERT INTO t VALUES ('b')")  # waits for A's block: second

        async with fw.fail_after(20), fw.task_group() as tg:
            handles = [tg.start_soon(task) for task in (task_a, task_c, task_b)]
        for handle in handles:
            succeeded(handle)
        assert sorted(await values(db)) == ["a", "b"]
        assert not db.in_transaction


async def test_other_tasks_writes_survive_the_blocks_rollback(
    fw: Framework, tmp_path: Path
) -> None:
    async with aiolite.connect(db_path(tmp_path)) as db:
        await db.execute("CREATE TABLE t(x)")
        a_inserted = fw.event()
        b_ready = fw.event()
        events: list[str] = []

        async def task_a() -> None:
            try:
                async with db:
                    await db.execute("INSERT INTO t VALUES ('a')")
                    a_inserted.set()
                    await b_ready.wait()
                    assert await values(db) == ["a"]  # B's write is not in here
                    assert not b_handle.finished
                    raise Boom
            except Boom:
                events.append("A's block ended")

        async def task_b() -> None:
            await a_inserted.wait()
            b_ready.set()
            await db.execute("INSERT INTO t VALUES ('b')")
            events.append("B wrote")

        async with fw.fail_after(20), fw.task_group() as tg:
            a_handle = tg.start_soon(task_a)
            b_handle = tg.start_soon(task_b)
        succeeded(a_handle)
        succeeded(b_handle)
        assert events == ["A's block ended", "B wrote"]
        assert not db.in_transaction
        assert await values(db) == ["b"]


async def test_other_tasks_block_waits_for_the_block(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.connect(db_path(tmp_path)) as db:
        await db.execute("CREATE TABLE t(x)")
        a_inside = fw.event()
        b_ready = fw.event()
        events: list[str] = []

        async def task_a() -> None:
            async with db:
                events.append("A in")
                await db.execute("INSERT INTO t VALUES ('a')")
                a_inside.set()
                await b_ready.wait()
                # Give B every chance to (wrongly) get in: a round trip first.
                assert await (await db.execute("SELECT 1")).get == 1
                events.append("A out")

        async def task_b() -> None:
            await a_inside.wait()
            b_ready.set()
            async with db:
                events.append("B in")
                await db.execute("INSERT INTO t VALUES ('b')")
            events.append("B out")

        async with fw.fail_after(20), fw.task_group() as tg:
            a_handle = tg.start_soon(task_a)
            b_handle = tg.start_soon(task_b)
        succeeded(a_handle)
        succeeded(b_handle)
        assert events == ["A in", "A out", "B in", "B out"]
        assert await values(db) == ["a", "b"]


async def test_tasks_started_inside_the_block_share_it(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db, aiolite.connect(path) as other:
        await db.execute("CREATE TABLE t(x)")

        async def child(name: str) -> int:
            await db.execute("INSERT INTO t VALUES (?)", (name,))
            return await count_rows(db)

        async with fw.fail_after(20):
            async with db:
                await db.execute("INSERT INTO t VALUES ('parent')")
                async with fw.task_group() as tg:
                    handles = [tg.start_soon(child, f"child {i}") for i in range(3)]
                for handle in handles:
                    assert 2 <= succeeded(handle) <= 4  # sees the parent's row and its own
                assert await count_rows(db) == 4
                assert await count_rows(other) == 0  # all of it is in the one transaction
            assert await count_rows(other) == 4

            # The children's writes are part of the block: they go with its rollback.
            async def doomed() -> None:
                async with db:
                    async with fw.task_group() as tg:
                        handles = [tg.start_soon(child, f"doomed {i}") for i in range(3)]
                    for handle in handles:
                        succeeded(handle)
                    raise Boom

            with pytest.raises(Boom):
                await doomed()
        assert await count_rows(other) == 4
        assert sorted(await values(other)) == ["child 0", "child 1", "child 2", "parent"]
