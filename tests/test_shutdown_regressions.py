"""Bugs the shutdown stress scenario (tests/stress/test_shutdown.py) found, pinned.

1. A pool dropped without ``close()`` kept its worker threads for ever. A
   worker waiting for its next request still held the last one it ran; for
   the pool's writer that is a group commit, whose arguments reference the
   pool, which holds the writer connection, whose collection is the only
   thing that stops the worker. So nothing could ever be collected. The
   worker now lets go of each request once it is done.
   Likewise the pool's sweep timer (for ``acquire_timeout``) held the pool
   until it fired, up to 30 s after the pool was dropped: it holds it weakly.
2. A ``pool.reader()`` block took the first free reader even when plain
   reads were queued on it, so it waited behind them (for ever, behind an
   endless one) while another reader sat idle. It now takes the least busy.
3. An asyncio loop closed by hand (no task cancelled) with a query running:
   the query ran for ever, and the request it served kept its waiting task,
   hence the connection, alive, so dropping the connection never stopped
   it. A worker now stops a request whose loop is closed, and drops
   results that no loop will ever take.
4. ``connect()`` waited out its whole ``busy_timeout`` (5 s by default)
   while another connection held the write lock, when ``PRAGMA optimize``
   at open wanted one: it was meant to be skipped at once. It now runs
   without the busy handler.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import apsw
import pytest
import uvloop

import aiolite
from tests.conftest import aiolite_threads
from tests.frameworks import Framework
from tests.helpers import ENDLESS_QUERY, GUARD

GONE_SECONDS = 10.0


def _wait_gone(threads: list[threading.Thread]) -> list[threading.Thread]:
    """Collect until ``threads`` end (bounded); the ones still alive."""
    deadline = time.monotonic() + GONE_SECONDS
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        gc.collect()
        for thread in threads:
            thread.join(0.05)
    return [t for t in threads if t.is_alive()]


def _drop(held: list[Any], threads: list[threading.Thread]) -> tuple[list[threading.Thread], str]:
    """Forget ``held``'s items (their only references) and collect until ``threads`` end.

    Returns the threads still alive and the ResourceWarnings' text.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        held.clear()
        left = _wait_gone(threads)
    return left, " ".join(str(w.message) for w in caught if w.category is ResourceWarning)


async def test_a_dropped_pool_after_a_group_commit_lets_its_threads_end(
    fw: Framework, tmp_path: Path
) -> None:
    before = set(aiolite_threads())
    pool = await aiolite.open_pool(tmp_path / "test.db", readers=1)
    await pool.execute("CREATE TABLE t(x)")
    await pool.execute("INSERT INTO t VALUES (1)")  # the writer's last request: a group commit
    assert await pool.fetchval("SELECT count(*) FROM t") == 1
    threads = [t for t in aiolite_threads() if t not in before]
    assert len(threads) == 2
    held: list[Any] = [pool]
    del pool
    left, warned = _drop(held, threads)
    assert left == [], f"the dropped pool's workers still run: {left}"
    assert "never closed" in warned
    async with aiolite.connect(tmp_path / "test.db") as db:
        assert await (await db.execute("SELECT x FROM t")).get == 1


async def test_a_reader_block_skips_a_reader_with_reads_queued(
    fw: Framework, tmp_path: Path
) -> None:
    async with aiolite.open_pool(tmp_path / "test.db", readers=2) as pool:
        await pool.execute("CREATE TABLE t(x)")
        async with fw.task_group() as group:
            endless = group.start_soon(pool.fetchall, ENDLESS_QUERY)  # occupies one reader
            async with fw.fail_after(GUARD):
                while pool.stats().reads_in_flight < 1:
                    await fw.checkpoint()
            async with fw.fail_after(GUARD), pool.reader() as reader:
                assert await (await reader.execute("SELECT 42")).get == 42
            endless.cancel()
        assert endless.cancelled
        assert await pool.fetchval("SELECT 1") == 1


@pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])
def test_a_query_on_a_loop_closed_by_hand_stops_and_its_thread_ends(
    loop_kind: str, tmp_path: Path
) -> None:
    path = str(tmp_path / "test.db")
    before = set(aiolite_threads())
    loop = uvloop.new_event_loop() if loop_kind == "uvloop" else asyncio.new_event_loop()
    started = threading.Event()

    def mark() -> int:
        started.set()
        return 1

    async def query(db: aiolite.Connection[Any]) -> None:
        marked = ENDLESS_QUERY.replace("SELECT 1 UNION", "SELECT started_mark() UNION", 1)
        await (await db.execute(marked)).get

    async def main() -> Any:
        db = await aiolite.connect(path)
        await db.execute("CREATE TABLE t(x)")
        await db.execute("INSERT INTO t VALUES ('committed')")
        await db.run(lambda conn: conn.create_scalar_function("started_mark", mark, 0))
        await db.execute("BEGIN; INSERT INTO t VALUES ('never committed')")
        task = asyncio.get_running_loop().create_task(query(db))
        deadline = time.monotonic() + GUARD
        while not started.is_set():
            assert time.monotonic() < deadline, "the query never started"
            await asyncio.sleep(0.001)
        return task

    task = loop.run_until_complete(main())
    loop.close()  # by hand: the task is never cancelled
    threads = [t for t in aiolite_threads() if t not in before]
    loop.set_exception_handler(lambda *_: None)  # "Task was destroyed but it is pending!"
    held: list[Any] = [task]
    del task
    left, warned = _drop(held, threads)
    assert left == [], f"the worker still runs the query: {left}"
    assert "never closed" in warned
    conn = apsw.Connection(path)
    try:
        assert conn.pragma("integrity_check") == "ok"
        assert [x for (x,) in conn.execute("SELECT x FROM t")] == ["committed"]
        conn.execute("BEGIN EXCLUSIVE; COMMIT")  # no lock left behind
    finally:
        conn.close()


async def test_connect_does_not_wait_for_a_writer_to_run_optimize(
    fw: Framework, tmp_path: Path
) -> None:
    path = tmp_path / "test.db"
    async with aiolite.open_pool(path, readers=1) as pool, aiolite.KV(path, readers=1) as kv:
        await pool.execute("CREATE TABLE t(x TEXT)")
        for i in range(45):  # enough rows that PRAGMA optimize wants an ANALYZE
            await pool.execute("INSERT INTO t VALUES (?)", (str(i),))
            await kv.set(f"key {i}", i)
        async with pool.writer() as writer:
            await writer.execute("INSERT INTO t VALUES ('uncommitted')")
            started = time.monotonic()
            async with aiolite.connect(path, busy_timeout=GUARD) as db:
                seconds = time.monotonic() - started
                assert await (await db.execute("SELECT count(*) FROM t")).get == 45
        assert seconds < GUARD / 3, f"connect() waited {seconds:.2f} s for the writer"
        assert await pool.fetchval("SELECT count(*) FROM t") == 46
