"""Closing that is interrupted, or that follows a failed open, still finishes (issue #14).

1. A ``pool.close()`` that is itself cancelled (a shutdown handler's own
   timeout) while a ``pool.writer()`` block ran left the pool refusing calls
   with its connections open: the next ``close()`` returned at once,
   ``stats().closed`` stayed False, and the worker threads lived until the
   process exited. ``KV.close()`` inherited it. The close is now one job
   whose progress is kept, finished by the next ``close()``; once it has
   begun stopping the connections, a cancellation no longer matters.
2. When ``connect()`` could not start its worker thread, the engine stayed
   registered for the exit handler, which then raised "cannot join thread
   before it is started" and skipped the bounded join of every other engine.
"""

from __future__ import annotations

import threading
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest

import aiolite
from aiolite._engine.engine import _stop_all_at_exit
from tests.conftest import aiolite_threads
from tests.frameworks import Framework
from tests.helpers import GUARD, WorkerGate

pytestmark = pytest.mark.timeout(60)

CLOSE_SECONDS = 0.1
"""The pools' ``close_timeout`` here: how long a close waits for a block that never ends."""


def new_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    """The aiolite worker threads started since ``before`` that are still running."""
    return [thread for thread in aiolite_threads() if thread not in before]


async def stuck_writer_block(fw: Framework, pool: aiolite.Pool[Any], entered: Any) -> None:
    """A writer block that writes, says so, and waits until cancelled."""
    async with pool.writer() as db:
        await db.execute("INSERT INTO t(x) VALUES ('never committed')")
        entered.set()
        await fw.sleep(3600)


async def count_rows(path: str) -> int:
    async with aiolite.connect(path) as db:
        count: int = await (await db.execute("SELECT count(*) FROM t")).get
        return count


async def test_a_cancelled_pool_close_is_finished_by_the_next(
    fw: Framework, tmp_path: Path
) -> None:
    path = str(tmp_path / "pool.db")
    before = set(aiolite_threads())
    pool = await aiolite.open_pool(path, readers=2, close_timeout=CLOSE_SECONDS)
    await pool.execute("CREATE TABLE t(x)")
    entered = fw.event()
    async with fw.fail_after(GUARD), fw.task_group() as group:
        block = group.start_soon(stuck_writer_block, fw, pool, entered)
        await entered.wait()
        with pytest.raises(fw.timeout_error):
            async with fw.fail_after(CLOSE_SECONDS / 10):  # the shutdown handler's bound
                await pool.close()
        assert pool.closed  # refusing new calls...
        assert not pool.stats().closed  # ...but not finished
        assert len(new_threads(before)) == 3
        await pool.close()  # carries on: waits out the first close's deadline, then stops
        assert pool.stats().closed
        assert new_threads(before) == []  # joined before close() returned
        block.cancel()
    assert block.finished
    assert await count_rows(path) == 0  # the block was rolled back, not committed
    await pool.close()  # idempotent


@pytest.mark.frameworks("asyncio", "trio")
async def test_a_block_a_cancelled_close_waited_for_still_commits(
    fw: Framework, tmp_path: Path
) -> None:
    path = str(tmp_path / "pool.db")
    pool = await aiolite.open_pool(path, readers=1, close_timeout=GUARD)
    await pool.execute("CREATE TABLE t(x)")
    entered, release = fw.event(), fw.event()

    async def block() -> None:
        async with pool.writer() as db:
            await db.execute("INSERT INTO t(x) VALUES ('committed')")
            entered.set()
            await release.wait()

    async with fw.fail_after(GUARD), fw.task_group() as group:
        writer = group.start_soon(block)
        await entered.wait()
        with pytest.raises(fw.timeout_error):
            async with fw.fail_after(0.02):
                await pool.close()
        release.set()  # the block ends well within the close's deadline
        await pool.close()
    assert writer.error is None
    assert pool.stats().closed
    assert await count_rows(path) == 1


async def test_a_close_cancelled_while_stopping_still_stops_everything(
    fw: Framework, tmp_path: Path
) -> None:
    """Cancelled at its first await (asyncio can reach one while it stops the connections)."""
    path = str(tmp_path / "pool.db")
    before = set(aiolite_threads())
    pool = await aiolite.open_pool(path, readers=2, acquire_timeout=None, close_timeout=0)
    await pool.execute("CREATE TABLE t(x)")
    entered = fw.event()
    async with fw.fail_after(GUARD), fw.task_group() as group:
        block = group.start_soon(stuck_writer_block, fw, pool, entered)
        await entered.wait()
        queued = group.start_soon(pool.execute, "INSERT INTO t(x) VALUES ('queued')")
        while pool.stats().writes_queued == 0:
            await fw.checkpoint()
        with suppress(fw.timeout_error):  # shielded under trio and anyio: it just finishes
            async with fw.fail_after(0):
                await pool.close()
        # No second close: the write queued behind the block is told, and
        # every worker thread ends, on their own.
        while not queued.finished:
            await fw.sleep(0.005)
        assert isinstance(queued.error, aiolite.ConnectionClosedError)
        for thread in new_threads(before):
            thread.join(GUARD)
        assert new_threads(before) == []
        block.cancel()
    await pool.close()
    assert pool.stats().closed
    assert await count_rows(path) == 0


async def test_a_cancelled_kv_close_is_finished_by_the_next(fw: Framework, tmp_path: Path) -> None:
    before = set(aiolite_threads())
    kv = await aiolite.KV(str(tmp_path / "kv.db"), readers=1)
    await kv.set("kept", 1)
    pool = kv.pool
    pool.close_timeout = CLOSE_SECONDS
    entered = fw.event()

    async def block() -> None:
        async with pool.writer() as db:
            await db.execute("DELETE FROM data")
            entered.set()
            await fw.sleep(3600)

    async with fw.fail_after(GUARD), fw.task_group() as group:
        writer = group.start_soon(block)
        await entered.wait()
        with pytest.raises(fw.timeout_error):
            async with fw.fail_after(CLOSE_SECONDS / 10):
                await kv.close()
        assert not pool.stats().closed
        await kv.close()
        assert pool.stats().closed
        assert new_threads(before) == []
        writer.cancel()
    async with aiolite.KV(str(tmp_path / "kv.db"), readers=1) as again:
        assert await again.get("kept") == 1  # the block's DELETE was rolled back


async def test_a_cancelled_connection_close_is_finished_by_the_next(
    fw: Framework, tmp_path: Path
) -> None:
    before = set(aiolite_threads())
    db = await aiolite.connect(str(tmp_path / "one.db"))
    gate, inside = WorkerGate(), threading.Event()

    def hold(conn: Any) -> str:  # holds the worker where no interrupt reaches
        inside.set()
        return gate.hold(conn)

    async with fw.fail_after(GUARD), fw.task_group() as group:
        held = group.start_soon(db.run, hold)
        while not inside.is_set():
            await fw.sleep(0.001)
        with pytest.raises(fw.timeout_error):
            async with fw.fail_after(0.02):
                await db.close()
        assert db.closed
        gate.open()
        await db.close()
        assert new_threads(before) == []  # ended before close() returned
    assert held.result == "released"


# ------------------------------------------------ a worker thread that cannot start


def fail_next_worker_start(monkeypatch: pytest.MonkeyPatch, failures: int = 1) -> None:
    """Make the next ``failures`` aiolite worker threads fail to start, as CPython does."""
    real_start = threading.Thread.start
    left = [failures]

    def start(thread: threading.Thread) -> None:
        if thread.name.startswith("aiolite-worker") and left[0] > 0:
            left[0] -= 1
            raise RuntimeError("can't start new thread")
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start)


async def test_the_exit_handler_survives_a_worker_that_never_started(
    fw: Framework, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = set(aiolite_threads())
    first = await aiolite.connect(str(tmp_path / "first.db"))
    second = await aiolite.connect(":memory:")
    fail_next_worker_start(monkeypatch)
    with pytest.raises(RuntimeError, match="can't start new thread") as failed:
        await aiolite.connect(str(tmp_path / "never.db"))
    assert len(new_threads(before)) == 2  # nothing of the failed connect is left running
    _stop_all_at_exit()  # raised "cannot join thread before it is started"
    assert new_threads(before) == []  # and so left the other engines unjoined
    assert first.closed
    assert second.closed
    # A clear error, and (kept alive until here, with its frames) nothing registered.
    assert "could not start a worker thread" in str(failed.value)
    await first.close()
    await second.close()


@pytest.mark.frameworks("asyncio", "trio")
async def test_a_pool_whose_reader_cannot_start_leaves_nothing_behind(
    fw: Framework, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = set(aiolite_threads())
    real_start = threading.Thread.start
    started = [0]

    def start(thread: threading.Thread) -> None:
        if thread.name.startswith("aiolite-worker"):
            started[0] += 1
            if started[0] == 3:  # the writer and one reader started; the second reader fails
                raise RuntimeError("can't start new thread")
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start)
    with pytest.raises(RuntimeError, match="can't start new thread") as failed:
        await aiolite.open_pool(str(tmp_path / "pool.db"), readers=2)
    monkeypatch.undo()
    assert new_threads(before) == []  # the writer and the first reader were closed
    _stop_all_at_exit()  # (the failed reader's engine is still alive, in the traceback)
    assert "could not start a worker thread" in str(failed.value)
    async with aiolite.open_pool(str(tmp_path / "pool.db"), readers=2) as pool:
        assert await pool.fetchval("SELECT 1") == 1
