"""Deadlines: ``aiolite.deadline`` and the frameworks' own (trio/anyio) deadlines.

DESIGN.md, "Cancellation and deadlines": ``aiolite.deadline`` is a ContextVar
holding an absolute time on the framework clock (``aiolite.current_time()``);
past it a request fails with ``aiolite.DeadlineExceeded``, a ``TimeoutError``
(and a ``trio.TooSlowError`` under trio). The deadline travels into the worker,
so a long query or a loop of sync callbacks stops on time even while the event
loop is busy; trio's and anyio's ``current_effective_deadline()`` are honoured
the same way. After any of it the connection stays usable: the next request on
it can only run once the stopped one has stopped.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
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
    EndlessCallback,
    WorkerGate,
    assert_usable,
    count_rows,
    db_path,
    values,
)

SHORT = 0.1
"""How far away a deadline is when an endless request is made under it."""

ENDLESS_TICKS = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT sum(tick(x)) FROM c"
)
"""Calls the sync function ``tick`` once per row, for ever."""


def deadline_in(seconds: float) -> AbstractContextManager[object]:
    """``with deadline_in(s):`` requests made inside must finish within ``s`` seconds."""
    return aiolite.contextvar_set(aiolite.deadline, aiolite.current_time() + seconds)


def assert_deadline_error(fw: Framework, error: BaseException | None) -> None:
    assert isinstance(error, aiolite.DeadlineExceeded)
    assert isinstance(error, TimeoutError)
    if fw.kind == "trio":
        assert isinstance(error, trio.TooSlowError)


# ------------------------------------------------------------------ aiolite.deadline


async def test_current_time_is_the_framework_clock(fw: Framework) -> None:
    # trio's clock has a large random offset, so another clock would be far off.
    assert abs(aiolite.current_time() - fw.now()) < 1.0


async def test_deadline_stops_endless_query(fw: Framework, database: str) -> None:
    async with aiolite.connect(database) as db:
        deadline = aiolite.current_time() + SHORT
        with (
            aiolite.contextvar_set(aiolite.deadline, deadline),
            pytest.raises(aiolite.DeadlineExceeded) as excinfo,
        ):
            await db.execute(ENDLESS_QUERY)
        assert_deadline_error(fw, excinfo.value)
        assert aiolite.current_time() >= deadline - 0.05  # not before it
        await assert_usable(fw, db)
        # A request that finishes in time is not disturbed by its deadline.
        with deadline_in(GUARD):
            assert await (await db.execute("SELECT 6 * 7")).get == 42


async def test_deadline_stops_write_and_leaves_nothing(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db:
        await db.execute("CREATE TABLE t(x)")
        with deadline_in(0.15), pytest.raises(aiolite.DeadlineExceeded):
            await db.execute(ENDLESS_INSERT)
        assert await count_rows(db) == 0
        assert not db.in_transaction
        async with aiolite.connect(path) as other:
            assert await count_rows(other) == 0
        await db.execute("INSERT INTO t VALUES (7)")
        assert await values(db) == [7]


@pytest.mark.parametrize("stopped", ["endless-insert", "endless-select"])
async def test_block_stopped_by_deadline_rolls_back(
    fw: Framework, tmp_path: Path, stopped: str
) -> None:
    """The block rolls back even though its deadline has passed by the time it ends.

    An interrupted write makes SQLite roll back on its own; an interrupted
    read does not, so there the block's own rollback is what undoes the insert.
    """
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db:
        await db.execute("CREATE TABLE t(x)")

        async def write_in_block() -> None:
            async with db:
                await db.execute("INSERT INTO t VALUES (-1)")
                await db.execute(ENDLESS_INSERT if stopped == "endless-insert" else ENDLESS_QUERY)

        with deadline_in(0.15), pytest.raises(aiolite.DeadlineExceeded):
            await write_in_block()
        assert not db.in_transaction
        assert await count_rows(db) == 0
        async with aiolite.connect(path, busy_timeout=None) as other:
            assert await count_rows(other) == 0
            await other.execute("INSERT INTO t VALUES (3)")  # no write lock left behind
        assert await values(db) == [3]


async def test_passed_deadline_fails_at_once_and_runs_nothing(fw: Framework, database: str) -> None:
    gate = WorkerGate()
    async with aiolite.connect(database) as db:
        await db.execute("CREATE TABLE t(x)")
        holder_queued = fw.event()

        async def hold() -> str:
            holder_queued.set()
            return await db.run(gate.hold)

        try:
            async with fw.fail_after(GUARD), fw.task_group() as group:
                holder = group.start_soon(hold)
                await holder_queued.wait()
                # The worker stays busy until the gate opens below, so this can only
                # fail here without waiting for the worker.
                with deadline_in(-1.0), pytest.raises(aiolite.DeadlineExceeded) as excinfo:
                    await db.execute("INSERT INTO t VALUES (1)")
                gate.open()
        finally:
            gate.open()
        assert holder.result == "released"
        assert_deadline_error(fw, excinfo.value)
        assert await count_rows(db) == 0


async def test_deadline_passing_while_queued_fails_the_request_on_time(fw: Framework) -> None:
    """Queued behind a request that keeps the worker busy, it still fails at its deadline."""
    gate = WorkerGate()
    async with aiolite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x)")
        holder_queued = fw.event()

        async def hold() -> str:
            holder_queued.set()
            return await db.run(gate.hold)

        async def insert_within(seconds: float) -> None:
            async with fw.fail_after(seconds):
                with deadline_in(SHORT):
                    await db.execute("INSERT INTO t VALUES (1)")

        try:
            async with fw.task_group() as group:
                holder = group.start_soon(hold)
                await holder_queued.wait()
                with pytest.raises((TimeoutError, trio.TooSlowError)) as excinfo:
                    await insert_within(1.5)  # 15 times the deadline, far below GUARD
                gate.open()
        finally:
            gate.open()
        assert holder.result == "released"
        assert isinstance(excinfo.value, aiolite.DeadlineExceeded), (
            "the request waited past its deadline for the busy worker"
        )
        assert_deadline_error(fw, excinfo.value)
        assert await count_rows(db) == 0  # and it never ran once the worker was free


async def test_deadline_applies_to_requests_made_under_it(fw: Framework) -> None:
    """Each request takes the deadline in force when it is made; a cursor's later
    fetches are requests of their own."""
    async with (
        aiolite.connect(":memory:", prefetch=8, max_batch=64) as db,
        fw.fail_after(GUARD),
    ):
        first_deadline = aiolite.current_time() + SHORT
        with aiolite.contextvar_set(aiolite.deadline, first_deadline):
            cursor = await db.execute(ENDLESS_ROWS)
        # Fetches made outside that block run on, well past its deadline.
        seen = 0
        async for (x,) in cursor:
            seen += 1
            assert x == seen
            if aiolite.current_time() > first_deadline + 2 * SHORT:
                break

        async def drain() -> None:
            nonlocal seen
            async for (x,) in cursor:
                seen += 1
                assert x == seen

        # Fetches made under a new deadline stop at it.
        with deadline_in(SHORT), pytest.raises(aiolite.DeadlineExceeded):
            await drain()
        await cursor.aclose()
        await assert_usable(fw, db)


async def test_earlier_of_deadline_and_framework_timeout_wins(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:

        async def endless_within(scope_seconds: float, deadline_seconds: float) -> None:
            async with fw.fail_after(scope_seconds):
                with deadline_in(deadline_seconds):
                    await db.execute(ENDLESS_QUERY)

        with pytest.raises(aiolite.DeadlineExceeded):
            await endless_within(GUARD, SHORT)
        await assert_usable(fw, db)
        with pytest.raises(fw.timeout_error) as excinfo:
            await endless_within(SHORT, GUARD)
        assert type(excinfo.value) is fw.timeout_error
        await assert_usable(fw, db)


async def test_deadline_cuts_a_lock_wait_short(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with (
        aiolite.connect(path) as holder,
        aiolite.connect(path, busy_timeout=30) as waiter,
    ):
        await holder.execute("CREATE TABLE t(x)")
        await holder.execute("BEGIN IMMEDIATE; INSERT INTO t VALUES (1)")
        started = fw.now()
        with deadline_in(SHORT), pytest.raises(aiolite.DeadlineExceeded) as excinfo:
            await waiter.execute("INSERT INTO t VALUES (2)")
        assert_deadline_error(fw, excinfo.value)
        async with fw.fail_after(GUARD):
            assert await count_rows(waiter) == 0
        assert fw.now() - started < 10  # nowhere near the 30 s busy timeout
        await holder.execute("COMMIT")
        await waiter.execute("INSERT INTO t VALUES (3)")
        assert await values(holder) == [1, 3]


# ------------------------------------------------------------------------ callbacks


async def test_async_callback_past_deadline(fw: Framework) -> None:
    slow = EndlessCallback(fw)
    async with aiolite.connect(":memory:") as db:
        await db.create_scalar_function("slow", slow, 1)
        with deadline_in(SHORT), pytest.raises(aiolite.DeadlineExceeded) as excinfo:
            await db.execute("SELECT slow(1)")
        assert_deadline_error(fw, excinfo.value)
        await assert_usable(fw, db)
        assert (slow.saw_cancellation, slow.exited) == (True, True)


BLOCK_LOOP = 0.6
"""How long the event loop is kept busy, well past the deadline (SHORT)."""


async def test_sync_callback_loop_stops_at_deadline_while_loop_is_busy(fw: Framework) -> None:
    await check_sync_callback_loop_stops_on_time(fw, framework_deadline=False)


@pytest.mark.frameworks("trio", "anyio-asyncio", "anyio-trio")
async def test_sync_callback_loop_stops_at_framework_deadline_while_loop_is_busy(
    fw: Framework,
) -> None:
    await check_sync_callback_loop_stops_on_time(fw, framework_deadline=True)


async def check_sync_callback_loop_stops_on_time(
    fw: Framework, *, framework_deadline: bool
) -> None:
    ticks: list[float] = []

    def tick(x: int) -> int:
        ticks.append(time.monotonic())
        return x

    async with aiolite.connect(":memory:") as db:
        await db.create_scalar_function("tick", tick, 1)
        queued = fw.event()

        async def query() -> None:
            if framework_deadline:
                async with fw.fail_after(SHORT):
                    queued.set()
                    await db.execute(ENDLESS_TICKS)
            else:
                with deadline_in(SHORT):
                    queued.set()
                    await db.execute(ENDLESS_TICKS)

        started = time.monotonic()
        async with fw.task_group() as group:
            stopped = group.start_soon(query)
            await queued.wait()
            # Keep the event loop from running at all, well past the deadline: only
            # the worker itself can stop the query on time.
            time.sleep(BLOCK_LOOP)  # noqa: ASYNC251
        if framework_deadline:
            assert isinstance(stopped.error, fw.timeout_error)
        else:
            assert_deadline_error(fw, stopped.error)
        assert ticks
        assert ticks[-1] - started < BLOCK_LOOP - 0.2
        await assert_usable(fw, db)


# ------------------------------------------------------- trio's and anyio's deadlines


@pytest.mark.frameworks("trio", "anyio-asyncio", "anyio-trio")
async def test_framework_deadlines_stop_query(fw: Framework) -> None:
    """trio.fail_after raises trio.TooSlowError; anyio.fail_after raises TimeoutError."""
    scopes: Any = trio if fw.name == "trio" else anyio
    async with aiolite.connect(":memory:") as db:
        with pytest.raises(fw.timeout_error), scopes.fail_after(SHORT):
            await db.execute(ENDLESS_QUERY)
        await assert_usable(fw, db)

        finished = False
        with scopes.move_on_after(SHORT) as scope:
            await db.execute(ENDLESS_QUERY)
            finished = True
        assert scope.cancelled_caught
        assert not finished
        await assert_usable(fw, db)


@pytest.mark.frameworks("trio", "anyio-asyncio", "anyio-trio")
async def test_framework_deadline_already_passed_runs_nothing(
    fw: Framework, tmp_path: Path
) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db:
        await db.execute("CREATE TABLE t(x)")
        with pytest.raises(fw.timeout_error):
            async with fw.fail_after(0):
                await db.execute("INSERT INTO t VALUES (1)")
        assert await count_rows(db) == 0
    async with aiolite.connect(path) as other:
        assert await count_rows(other) == 0
