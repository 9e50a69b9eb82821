"""Cancelling the task that awaits a request cancels that request, and only that request.

DESIGN.md, "Cancellation and deadlines": a queued request never runs; a running
one is stopped inside SQLite, its statement's changes are rolled back, async
callbacks it waits on are cancelled, and the connection stays usable. Every
test proves "stopped" the same way: the next request on the same connection
can only run once the cancelled one has stopped (one worker thread, requests
in order), so a request that kept running would hang the test.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
import trio

import aiolite
from tests.frameworks import Framework
from tests.helpers import (
    ENDLESS_INSERT,
    ENDLESS_QUERY,
    ENDLESS_ROWS,
    GUARD,
    Db,
    EndlessCallback,
    WorkerGate,
    assert_usable,
    count_rows,
    db_path,
    values,
)

SHORT = 0.1
"""How long an endless request runs before a timeout cancels it."""

LET_IT_RUN = 0.05
"""A pause so a request is likely running (not just queued) when it is cancelled.
The tests are correct either way; it only makes them exercise the harder case."""

COUNT_TO_300K = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) "
    "SELECT sum(x) FROM c"
)
SUM_TO_300K = 45_000_150_000

TEN_THOUSAND_ROWS = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10000) "
    "SELECT x FROM c"
)


def recording_endless_query(
    db: Db, started: Any, seen: list[type[BaseException]]
) -> Callable[[], Awaitable[None]]:
    """An endless query that sets ``started`` as it begins and records how it ended."""

    async def query() -> None:
        started.set()
        try:
            await db.execute(ENDLESS_QUERY)
        except BaseException as exc:
            seen.append(type(exc))
            raise

    return query


# --------------------------------------------------------- each way of cancelling


async def test_timeout_stops_running_query(fw: Framework, database: str) -> None:
    async with aiolite.connect(database) as db:
        with pytest.raises(fw.timeout_error) as excinfo:
            async with fw.fail_after(SHORT):
                await db.execute(ENDLESS_QUERY)
        # The framework's own timeout, not something aiolite made up.
        assert type(excinfo.value) is fw.timeout_error
        assert not isinstance(excinfo.value, aiolite.DeadlineExceeded)
        await assert_usable(fw, db)


@pytest.mark.frameworks("asyncio", "uvloop")
async def test_task_cancel_stops_running_query(fw: Framework) -> None:
    seen: list[type[BaseException]] = []
    async with aiolite.connect(":memory:") as db:
        started = asyncio.Event()

        query = recording_endless_query(db, started, seen)

        task = asyncio.create_task(query())
        await started.wait()
        await asyncio.sleep(LET_IT_RUN)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert seen == [asyncio.CancelledError]
        await assert_usable(fw, db)


async def test_failing_sibling_stops_query(fw: Framework) -> None:
    """A failing sibling in an asyncio TaskGroup, a trio nursery or an anyio task group."""
    seen: list[type[BaseException]] = []
    async with aiolite.connect(":memory:") as db:
        started = fw.event()

        query = recording_endless_query(db, started, seen)

        async def failing_sibling() -> None:
            await started.wait()
            await fw.sleep(LET_IT_RUN)
            raise ValueError("the sibling failed")

        with pytest.RaisesGroup(ValueError):
            async with fw.task_group() as group:
                group.start_propagating(query)
                group.start_propagating(failing_sibling)
        assert seen == [fw.cancelled_error]
        await assert_usable(fw, db)


@pytest.mark.frameworks("trio", "anyio-asyncio", "anyio-trio")
async def test_cancel_scope_stops_running_query(fw: Framework) -> None:
    """trio's scopes under trio, anyio's under anyio (on either backend)."""
    scopes: Any = trio if fw.name == "trio" else anyio
    cancelled = trio.Cancelled if fw.name == "trio" else anyio.get_cancelled_exc_class()
    seen: list[type[BaseException]] = []
    async with aiolite.connect(":memory:") as db:
        scope = scopes.CancelScope()
        started = fw.event()

        endless = recording_endless_query(db, started, seen)

        async def query() -> None:
            with scope:
                await endless()

        async with fw.task_group() as group:
            group.start_soon(query)
            await started.wait()
            await fw.sleep(LET_IT_RUN)
            scope.cancel()
        assert scope.cancelled_caught
        assert seen == [cancelled]
        await assert_usable(fw, db)


@pytest.mark.frameworks("trio", "anyio-asyncio", "anyio-trio")
async def test_request_made_in_cancelled_scope_never_runs(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db:
        await db.execute("CREATE TABLE t(x)")
        reached = False
        scope: trio.CancelScope | anyio.CancelScope = (
            anyio.CancelScope() if fw.anyio else trio.CancelScope()
        )
        with scope:
            scope.cancel()
            await db.execute("INSERT INTO t VALUES (1)")
            reached = True
        assert scope.cancelled_caught
        assert not reached
        assert await count_rows(db) == 0
    async with aiolite.connect(path) as other:
        assert await count_rows(other) == 0


# ------------------------------------------------------ a cancelled write leaves nothing


async def test_cancelled_insert_leaves_nothing(fw: Framework, database: str) -> None:
    async with aiolite.connect(database) as db:
        await db.execute("CREATE TABLE t(x)")
        with pytest.raises(fw.timeout_error):
            async with fw.fail_after(0.15):  # long enough for rows to have been written
                await db.execute(ENDLESS_INSERT)
        assert await count_rows(db) == 0
        assert not db.in_transaction
        if database != ":memory:":
            async with aiolite.connect(database) as other:
                assert await count_rows(other) == 0
        # Nothing is left half-done: an ordinary write commits and is seen.
        await db.execute("INSERT INTO t VALUES (7)")
        assert await values(db) == [7]
        if database != ":memory:":
            async with aiolite.connect(database) as other:
                assert await values(other) == [7]


async def test_cancelled_insert_in_transaction_block_rolls_it_back(
    fw: Framework, database: str
) -> None:
    async with aiolite.connect(database) as db:
        await db.execute("CREATE TABLE t(x)")

        async def write_in_block() -> None:
            async with db:
                await db.execute("INSERT INTO t VALUES (-1)")
                await db.execute(ENDLESS_INSERT)

        with pytest.raises(fw.timeout_error):
            async with fw.fail_after(0.15):
                await write_in_block()
        assert await count_rows(db) == 0
        assert not db.in_transaction
        if database != ":memory:":
            async with aiolite.connect(database) as other:
                assert await count_rows(other) == 0
        async with db:
            await db.execute("INSERT INTO t VALUES (7)")
        assert await values(db) == [7]
        if database != ":memory:":
            async with aiolite.connect(database) as other:
                assert await values(other) == [7]


@pytest.mark.parametrize("cancelled_in", ["endless-select", "non-database-await"])
async def test_cancelled_block_rolls_back_its_earlier_writes(
    fw: Framework, tmp_path: Path, cancelled_in: str
) -> None:
    """SQLite itself undoes only an interrupted *write*; the block must undo the rest."""
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db:
        await db.execute("CREATE TABLE t(x)")
        wrote, never = fw.event(), fw.event()

        async def block() -> None:
            async with db:
                await db.execute("INSERT INTO t VALUES (1), (2)")
                wrote.set()
                if cancelled_in == "endless-select":
                    await db.execute(ENDLESS_QUERY)
                else:
                    await never.wait()

        async with fw.fail_after(GUARD), fw.task_group() as group:
            task = group.start_soon(block)
            await wrote.wait()
            await fw.sleep(LET_IT_RUN)
            task.cancel()
        assert task.cancelled
        assert task.error is None
        assert not db.in_transaction
        assert await count_rows(db) == 0
        async with aiolite.connect(path) as other:
            assert await count_rows(other) == 0
            # No lock is left behind: another connection can write at once.
            async with fw.fail_after(GUARD):
                await other.execute("INSERT INTO t VALUES (3)")
        assert await values(db) == [3]


@pytest.mark.parametrize("in_block", [False, True], ids=["autocommit", "block"])
async def test_insert_cancelled_after_writing_rows_leaves_nothing(
    fw: Framework, tmp_path: Path, in_block: bool
) -> None:
    """Cancelled only once rows are known to be written (an async function sees them)."""
    path = db_path(tmp_path)
    written: list[int] = []
    three_written = fw.event()

    async def note(x: int) -> int:
        written.append(x)
        if len(written) == 3:
            three_written.set()
        return x

    async with aiolite.connect(path) as db:
        await db.execute("CREATE TABLE t(x)")
        await db.create_scalar_function("note", note, 1)
        insert = (
            "INSERT INTO t(x) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
            "SELECT note(x) FROM c WHERE x % 100000 = 0"
        )

        async def write() -> None:
            if in_block:
                async with db:
                    await db.execute(insert)
            else:
                await db.execute(insert)

        async with fw.fail_after(GUARD), fw.task_group() as group:
            writer = group.start_soon(write)
            await three_written.wait()
            writer.cancel()
        assert writer.cancelled
        assert writer.error is None
        assert written[:3] == [100000, 200000, 300000]
        assert await count_rows(db) == 0
        assert not db.in_transaction
        async with aiolite.connect(path) as other:
            assert await count_rows(other) == 0


# ------------------------------------------------------ a queued request never runs


@pytest.mark.parametrize("holder", ["sync", "async-callback"])
async def test_cancelled_queued_request_never_runs(
    fw: Framework, database: str, holder: str
) -> None:
    gate = WorkerGate()
    opened = fw.event()
    in_callback = fw.event()

    async def wait_for_gate() -> str:
        in_callback.set()
        await opened.wait()
        return "released"

    async with aiolite.connect(database) as db:
        await db.execute("CREATE TABLE t(x)")
        await db.create_scalar_function("wait_for_gate", wait_for_gate, 0)
        first_queued, second_queued, second_done = fw.event(), fw.event(), fw.event()

        async def first() -> str:
            first_queued.set()
            if holder == "sync":
                return await db.run(gate.hold)
            result: str = await (await db.execute("SELECT wait_for_gate()")).get
            return result

        async def second() -> None:
            try:
                second_queued.set()  # no checkpoint between this and queueing the request
                await db.execute("INSERT INTO t VALUES (1)")
            finally:
                second_done.set()

        try:
            async with fw.fail_after(GUARD), fw.task_group() as group:
                held = group.start_soon(first)
                await first_queued.wait()
                if holder == "async-callback":
                    await in_callback.wait()
                queued = group.start_soon(second)
                await second_queued.wait()
                queued.cancel()
                await second_done.wait()  # its cancellation is delivered before the worker frees
                # A request queued behind the cancelled one still runs, after it.
                after = group.start_soon(count_rows, db)
                gate.open()
                opened.set()
        finally:
            gate.open()
        assert held.result == "released"
        assert queued.cancelled
        assert queued.error is None
        assert after.result == 0
        assert await count_rows(db) == 0


async def test_cancelled_while_waiting_for_another_tasks_transaction_never_runs(
    fw: Framework, database: str
) -> None:
    async with aiolite.connect(database) as db:
        await db.execute("CREATE TABLE t(x)")
        in_block, may_commit = fw.event(), fw.event()
        outsider_waiting, outsider_done = fw.event(), fw.event()

        async def owner() -> None:
            async with db:
                await db.execute("INSERT INTO t VALUES (1)")
                in_block.set()
                await may_commit.wait()

        async def outsider() -> None:
            try:
                outsider_waiting.set()  # no checkpoint between this and starting to wait
                await db.execute("INSERT INTO t VALUES (2)")
            finally:
                outsider_done.set()

        async with fw.fail_after(GUARD), fw.task_group() as group:
            block = group.start_soon(owner)
            await in_block.wait()
            waiting = group.start_soon(outsider)
            await outsider_waiting.wait()
            waiting.cancel()
            await outsider_done.wait()
            may_commit.set()
        assert block.error is None
        assert waiting.cancelled
        assert await values(db) == [1]


# --------------------------------------------- a cancellation never touches another request


async def test_cancelling_running_query_spares_the_one_queued_behind(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        endless_queued, finite_queued = fw.event(), fw.event()

        async def endless() -> None:
            endless_queued.set()
            await db.execute(ENDLESS_QUERY)

        async def finite() -> int:
            finite_queued.set()
            result: int = await (await db.execute(COUNT_TO_300K)).get
            return result

        async with fw.fail_after(GUARD), fw.task_group() as group:
            victim = group.start_soon(endless)
            await endless_queued.wait()
            bystander = group.start_soon(finite)
            await finite_queued.wait()
            await fw.sleep(LET_IT_RUN)
            victim.cancel()
        assert victim.cancelled
        assert bystander.error is None
        assert bystander.result == SUM_TO_300K
        await assert_usable(fw, db)


async def test_cancelling_queued_request_spares_the_running_one(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        started, endless_queued = fw.event(), fw.event()

        async def mark_started() -> int:
            started.set()
            return 1

        await db.create_scalar_function("mark_started", mark_started, 0)
        # Its first row tells us it is running; a million more steps follow.
        finite_sql = (
            "WITH RECURSIVE c(x) AS (SELECT mark_started() UNION ALL "
            "SELECT x + 1 FROM c WHERE x < 1000000) SELECT sum(x) FROM c"
        )

        async def finite() -> int:
            result: int = await (await db.execute(finite_sql)).get
            return result

        async def endless() -> None:
            endless_queued.set()
            await db.execute(ENDLESS_QUERY)

        async with fw.fail_after(GUARD), fw.task_group() as group:
            running = group.start_soon(finite)
            await started.wait()
            victim = group.start_soon(endless)
            await endless_queued.wait()
            victim.cancel()  # while the statement of the finite query is active
        assert victim.cancelled
        assert running.error is None
        assert running.result == 500_000_500_000
        await assert_usable(fw, db)


async def test_streaming_cursor_survives_another_tasks_cancellation(
    fw: Framework, tmp_path: Path
) -> None:
    rows: list[int] = []
    async with aiolite.connect(db_path(tmp_path), prefetch=8, max_batch=64) as db:
        midway, victim_queued = fw.event(), fw.event()

        async def stream() -> None:
            async with db.execute(TEN_THOUSAND_ROWS) as cursor:
                async for (x,) in cursor:
                    rows.append(x)
                    if len(rows) == 100:
                        midway.set()
                        # The next fetch queues behind the endless query.
                        await victim_queued.wait()

        async def endless() -> None:
            await midway.wait()
            victim_queued.set()
            await db.execute(ENDLESS_QUERY)

        async with fw.fail_after(GUARD), fw.task_group() as group:
            streamer = group.start_soon(stream)
            victim = group.start_soon(endless)
            await victim_queued.wait()
            await fw.sleep(LET_IT_RUN)
            victim.cancel()
        assert victim.cancelled
        assert streamer.error is None
        assert rows == list(range(1, 10001))
        await assert_usable(fw, db)


# ------------------------------------------------------ cancelled while rows stream


async def test_cancel_task_in_the_middle_of_async_for(fw: Framework, database: str) -> None:
    seen = 0
    in_order = True
    async with aiolite.connect(database) as db:
        midway = fw.event()

        async def stream() -> None:
            nonlocal seen, in_order
            async for (x,) in db.execute(ENDLESS_ROWS):
                seen += 1
                in_order = in_order and x == seen
                if seen == 1000:
                    midway.set()

        async with fw.fail_after(GUARD), fw.task_group() as group:
            streamer = group.start_soon(stream)
            await midway.wait()
            streamer.cancel()
        assert streamer.cancelled
        assert streamer.error is None
        assert seen >= 1000
        assert in_order
        await assert_usable(fw, db)
        await db.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1)")
        assert await values(db) == [1]


async def test_timeout_in_the_middle_of_async_for(fw: Framework) -> None:
    seen = 0
    async with aiolite.connect(":memory:") as db:

        async def stream() -> None:
            nonlocal seen
            async for (x,) in db.execute(ENDLESS_ROWS):
                seen += 1
                assert x == seen

        with pytest.raises(fw.timeout_error):
            async with fw.fail_after(SHORT):
                await stream()
        assert seen > 0
        await assert_usable(fw, db)
        # A new stream on the same connection starts from the beginning and ends.
        assert [x async for (x,) in db.execute(TEN_THOUSAND_ROWS)] == list(range(1, 10001))


# ------------------------------------------------- cancelled while waiting for a lock


@pytest.mark.parametrize("how", ["timeout", "cancel"])
async def test_cancel_while_waiting_for_another_connections_lock(
    fw: Framework, tmp_path: Path, how: str
) -> None:
    path = db_path(tmp_path)
    async with (
        aiolite.connect(path) as holder,
        aiolite.connect(path, busy_timeout=30) as waiter,
    ):
        await holder.execute("CREATE TABLE t(x)")
        await holder.execute("BEGIN IMMEDIATE; INSERT INTO t VALUES (1)")
        started = fw.now()
        if how == "timeout":
            with pytest.raises(fw.timeout_error):
                async with fw.fail_after(SHORT):
                    await waiter.execute("INSERT INTO t VALUES (2)")
        else:
            async with fw.task_group() as group:
                queued = fw.event()

                async def write() -> None:
                    queued.set()
                    await waiter.execute("INSERT INTO t VALUES (2)")

                writing = group.start_soon(write)
                await queued.wait()
                await fw.sleep(SHORT)  # let it reach the lock (correct either way)
                writing.cancel()
            assert writing.cancelled
            assert writing.error is None
        # The worker gave up the wait: its next request runs long before the 30 s timeout.
        async with fw.fail_after(GUARD):
            assert await count_rows(waiter) == 0  # WAL: reading still works
        assert fw.now() - started < 10
        await holder.execute("COMMIT")
        async with fw.fail_after(GUARD):
            await waiter.execute("INSERT INTO t VALUES (3)")
        assert await values(waiter) == [1, 3]
        assert await values(holder) == [1, 3]


# ---------------------------------------------------------------------- callbacks


@pytest.mark.parametrize("how", ["timeout", "cancel"])
async def test_cancel_cancels_the_async_callback_it_waits_on(fw: Framework, how: str) -> None:
    slow = EndlessCallback(fw)
    async with aiolite.connect(":memory:") as db:
        await db.create_scalar_function("slow", slow, 1)
        if how == "timeout":
            with pytest.raises(fw.timeout_error):
                async with fw.fail_after(SHORT):
                    await db.execute("SELECT slow(1)")
        else:
            async with fw.fail_after(GUARD), fw.task_group() as group:
                query = group.start_soon(db.execute, "SELECT slow(1)")
                await slow.entered.wait()
                query.cancel()
            assert query.cancelled
            assert query.error is None
        await assert_usable(fw, db)
        assert (slow.saw_cancellation, slow.exited) == (True, True)
        # The function itself still works once it returns.
        await db.create_scalar_function("quick", _quick, 1)
        assert await (await db.execute("SELECT quick(20)")).get == 21


async def _quick(x: int) -> int:
    return x + 1


@pytest.mark.parametrize("how", ["timeout", "cancel"])
async def test_cancel_stops_a_sync_callback_loop(fw: Framework, how: str) -> None:
    calls = 0
    first_call = threading.Event()

    def tick(x: int) -> int:
        nonlocal calls
        calls += 1
        first_call.set()
        return x

    endless_ticks = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT sum(tick(x)) FROM c"
    )
    async with aiolite.connect(":memory:") as db:
        await db.create_scalar_function("tick", tick, 1)
        if how == "timeout":
            with pytest.raises(fw.timeout_error):
                async with fw.fail_after(SHORT):
                    await db.execute(endless_ticks)
        else:
            async with fw.fail_after(GUARD), fw.task_group() as group:
                query = group.start_soon(db.execute, endless_ticks)
                while not first_call.is_set():  # wait (bounded) until the loop is running
                    await fw.sleep(0.01)
                query.cancel()
            assert query.cancelled
        await assert_usable(fw, db)
        assert first_call.is_set()
        stopped_at = calls
        await assert_usable(fw, db)
        assert calls == stopped_at  # nothing calls it any more
