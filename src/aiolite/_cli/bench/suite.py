"""What the suite measures: each workload, at which sizes, for which libraries and loops."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from statistics import median

from .. import runners
from . import workloads as _workloads
from .workloads import LIBRARIES, Library

Measured = Callable[[], Awaitable[float]]


@dataclass(frozen=True)
class Sizes:
    """How big each workload is; ``--quick`` shrinks them, never the number of runs."""

    aio_rows: int
    point_queries: int
    gathered: int
    long_query_seconds: float
    runs: int = 3


FULL = Sizes(aio_rows=300_000, point_queries=20_000, gathered=20_000, long_query_seconds=2.0)
QUICK = Sizes(aio_rows=20_000, point_queries=1_500, gathered=2_000, long_query_seconds=0.2)


@dataclass
class Result:
    """The samples of one workload for one library on one framework."""

    workload: str
    framework: str
    library: str  # "sync" for the floor
    unit: str  # "s" (lower is better), "q/s" (higher), "ms" (lag, lower)
    samples: list[float] = field(default_factory=list)

    @property
    def value(self) -> float:
        return median(self.samples)


@dataclass(frozen=True)
class Task:
    """One measurement to take ``runs`` times: a name for the progress bar and a thunk."""

    result: Result
    measure: Callable[[], float]


def plan(sizes: Sizes, frameworks: tuple[str, ...]) -> Iterator[Task]:
    """Every measurement of the suite, floor first within each workload."""
    libraries = [lib for lib in LIBRARIES if lib.installed()]
    steps = _long_query_steps(sizes.long_query_seconds)
    rows = sizes.aio_rows
    # One floor for every aio_bench row, sampled before and after them: the same
    # SQLite work, so one measurement taken at two times is steadier than four.
    floor = Task(
        Result("aio_bench", "asyncio", "sync", "s"), partial(_workloads.sync_aio_bench, rows)
    )
    yield floor
    for batch in (None, 1, 64, 8192):
        name = "aio_bench " + ("defaults" if batch is None else f"batch {batch}")
        for lib in libraries:
            yield _timed(name, "asyncio", lib, partial(lib.aio_bench, batch, rows))
    yield floor
    queries = sizes.point_queries
    yield Task(Result("sequential", "-", "sync", "q/s"), partial(_sync_rate, queries))
    for framework in frameworks:
        for lib in libraries:
            if framework not in lib.frameworks:
                continue
            if framework != "asyncio":
                name = "aio_bench defaults"
                yield _timed(name, framework, lib, partial(lib.aio_bench, None, rows))
            yield _rate("sequential", framework, lib, queries, partial(lib.sequential, queries))
            gathered = sizes.gathered
            yield _rate(
                "gather", framework, lib, gathered, partial(lib.gather, framework, gathered)
            )
            lag = partial(_workloads.worst_lag, framework, lib, steps)
            yield Task(
                Result("worst loop lag", framework, lib.name, "ms"),
                partial(_milliseconds, framework, lag),
            )


def _timed(workload: str, framework: str, lib: Library, make: Measured) -> Task:
    return Task(Result(workload, framework, lib.name, "s"), partial(runners.run, framework, make))


def _rate(workload: str, framework: str, lib: Library, count: int, make: Measured) -> Task:
    return Task(
        Result(workload, framework, lib.name, "q/s"), partial(_per_second, framework, count, make)
    )


def _per_second(framework: str, count: int, make: Measured) -> float:
    return count / runners.run(framework, make)


def _milliseconds(framework: str, make: Measured) -> float:
    return 1000 * runners.run(framework, make)


def _sync_rate(count: int) -> float:
    return count / _workloads.sync_sequential(count)


def _long_query_steps(seconds: float) -> int:
    """The recursion depth that keeps sync SQLite busy for about ``seconds``."""
    probe = 200_000
    elapsed = _workloads.sync_long_query(probe)
    return max(probe, int(probe * seconds / elapsed))
