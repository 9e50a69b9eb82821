"""How fast does a cancellation stop a CPU-bound query inside SQLite?

For each framework, many times: start a query that would never finish, let it
run a random 20-80 ms, cancel the task, and record

* raise:  cancel -> the framework's cancellation raised in the awaiting task
* stop:   cancel -> the next request on the connection has completed, which
          can only happen once the worker has stopped the query (requests
          run in order), i.e. SQLite really stopped plus one round trip.

    python bench/cancel_latency.py [--trials 50]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from functools import partial

import aiolite
from aiolite._cli import runners
from aiolite._cli.endless import ENDLESS_QUERY as ENDLESS


async def asyncio_trial(db: aiolite.Connection[tuple[object, ...]]) -> tuple[float, float]:
    task = asyncio.create_task(db.execute(ENDLESS))
    await asyncio.sleep(random.uniform(0.02, 0.08))
    cancelled_at = time.perf_counter()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        raised = time.perf_counter()
    await (await db.execute("SELECT 1")).get
    return raised - cancelled_at, time.perf_counter() - cancelled_at


async def trio_trial(db: aiolite.Connection[tuple[object, ...]]) -> tuple[float, float]:
    import trio

    times: dict[str, float] = {}

    async def run_query(scope: trio.CancelScope) -> None:
        with scope:
            try:
                await db.execute(ENDLESS)
            finally:
                times["raised"] = time.perf_counter()

    scope = trio.CancelScope()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_query, scope)
        await trio.sleep(random.uniform(0.02, 0.08))
        times["cancelled"] = time.perf_counter()
        scope.cancel()
    await (await db.execute("SELECT 1")).get
    stopped = time.perf_counter()
    return times["raised"] - times["cancelled"], stopped - times["cancelled"]


async def measure(
    trial: Callable[[aiolite.Connection[tuple[object, ...]]], Awaitable[tuple[float, float]]],
    trials: int,
) -> tuple[list[float], list[float]]:
    raises: list[float] = []
    stops: list[float] = []
    async with aiolite.connect(":memory:") as db:
        for _ in range(trials):
            raised, stopped = await trial(db)
            raises.append(raised)
            stops.append(stopped)
    return raises, stops


def summary(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"median {statistics.median(ms):6.2f} ms  p95 {p95:6.2f} ms  max {ms[-1]:6.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=50)
    trials = parser.parse_args().trials
    results: dict[str, tuple[list[float], list[float]]] = {}
    trial_of = {"asyncio": asyncio_trial, "uvloop": asyncio_trial, "trio": trio_trial}
    for name, trial in trial_of.items():
        if runners.installed(name):
            results[name] = runners.run(name, partial(measure, trial, trials))
    print(f"cancellation of a CPU-bound query, {trials} trials each")
    for name, (raises, stops) in results.items():
        print(f"{name:>8}  raise: {summary(raises)}")
        print(f"{'':>8}  stop:  {summary(stops)}")


if __name__ == "__main__":
    main()
