"""The two floors: sync APSW (the SQLite work alone) and the raw thread hand-off.

Sync APSW is what the SQLite work costs with no event loop at all. The raw
hand-off is what one crossing to a worker thread and back costs with
nothing else: ``SimpleQueue.put`` to a thread that answers with the loop's
own thread-safe wake-up (``loop.call_soon_threadsafe``, or trio's
``run_sync_soon``), and no SQL. A library whose requests cross to a worker
cannot beat it; how close it comes is its own overhead per request.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from functools import partial
from time import perf_counter
from typing import Any

import apsw

from .. import runners
from .sql import INSERT, LENGTH, LONG_QUERY, POINT_QUERY, POINT_SETUP, SETUP, SOURCE

Wake = Callable[[], Any]


def _count(con: apsw.Connection) -> int:
    return int(con.execute(LENGTH).get)


def sync_aio_bench(rows: int) -> float:
    con = apsw.Connection(":memory:")
    start = perf_counter()
    con.execute(SETUP)
    while _count(con) <= rows:
        data = list(con.execute(SOURCE))
        con.executemany(INSERT, data)
    elapsed = perf_counter() - start
    con.close()
    return elapsed


def sync_sequential(count: int) -> float:
    con = apsw.Connection(":memory:")
    con.execute(POINT_SETUP)
    _ = con.execute(POINT_QUERY, (0,)).get
    start = perf_counter()
    for i in range(count):
        _ = con.execute(POINT_QUERY, (i % 1000,)).get
    elapsed = perf_counter() - start
    con.close()
    return elapsed


def sync_long_query(steps: int) -> float:
    con = apsw.Connection(":memory:")
    start = perf_counter()
    _ = con.execute(LONG_QUERY, (steps,)).get
    elapsed = perf_counter() - start
    con.close()
    return elapsed


def _answer(requests: queue.SimpleQueue[Wake | None]) -> None:
    """The worker: wake the loop once per request, doing nothing else."""
    while (wake := requests.get()) is not None:
        wake()


async def _asyncio_trip(requests: queue.SimpleQueue[Wake | None]) -> None:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()
    requests.put(partial(loop.call_soon_threadsafe, future.set_result, None))
    await future


async def _trio_trip(requests: queue.SimpleQueue[Wake | None]) -> None:
    import trio

    token = trio.lowlevel.current_trio_token()
    task = trio.lowlevel.current_task()
    requests.put(partial(token.run_sync_soon, trio.lowlevel.reschedule, task))
    await trio.lowlevel.wait_task_rescheduled(lambda _: trio.lowlevel.Abort.FAILED)


async def raw_sequential(framework: str, count: int) -> float:
    """``count`` hand-offs in sequence, each awaited before the next (after one warm-up)."""
    trip = _trio_trip if runners.loop_of(framework) == "trio" else _asyncio_trip
    requests: queue.SimpleQueue[Wake | None] = queue.SimpleQueue()
    worker = threading.Thread(target=_answer, args=(requests,), daemon=True)
    worker.start()
    try:
        await trip(requests)
        start = perf_counter()
        for _ in range(count):
            await trip(requests)
        return perf_counter() - start
    finally:
        requests.put(None)
        worker.join()
