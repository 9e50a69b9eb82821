"""What the suite measures: each workload, at which sizes, for which libraries and loops.

Every row is sampled ``runs`` times in the same process and reported as the
median of its samples. Each library runs every workload at its fastest idiom
with the same warm-up (see :mod:`.workloads`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from statistics import median

from .. import runners
from . import floors, orm
from .workloads import LIBRARIES, SYNC, Library, worst_lag

Measured = Callable[[], Awaitable[float]]

GATHERS = (("gather cold", False), ("gather warm", True))
ORM_WORKLOAD = "ORM handlers"


@dataclass(frozen=True)
class Sizes:
    """How big each workload is and how often each row is sampled."""

    aio_rows: int
    point_queries: int
    gathered: int
    long_query_seconds: float
    orm_handlers: int
    runs: int = 3
    batches: tuple[int, ...] = (1, 64, 8192)
    batch_rows: int = 30_000
    """Rows of the fixed-batch aio_bench rows: at batch 1 every row is a trip to the worker,
    and 300,000 of them per run, library and framework made a full bench take two hours."""


FULL = Sizes(
    aio_rows=300_000,
    point_queries=20_000,
    gathered=5_000,
    long_query_seconds=2.0,
    orm_handlers=1_000,
)
QUICK = Sizes(
    aio_rows=10_000,
    point_queries=1_000,
    gathered=1_000,
    long_query_seconds=0.2,
    orm_handlers=200,
    batches=(1, 8192),
    batch_rows=10_000,
)


@dataclass
class Result:
    """The samples of one workload for one library on one framework."""

    workload: str
    framework: str
    library: str  # SYNC for the sync APSW floor
    unit: str  # "s" (lower is better), "q/s" (higher), "ms" (lag, lower)
    samples: list[float] = field(default_factory=list)

    @property
    def value(self) -> float:
        return median(self.samples)


@dataclass(frozen=True)
class Task:
    """One measurement to take ``runs`` times: a result to add samples to and a thunk."""

    result: Result
    measure: Callable[[], float]


Group = list[Task]
"""Rows compared with each other, sampled round-robin: run 1 of each, then run 2 of
each, ... so that a loaded machine's drift falls on all of them alike rather
than on whichever ran last. A floor, when the rows have one, is in the group."""


def installed_libraries() -> list[Library]:
    return [lib for lib in LIBRARIES if lib.installed()]


def plan(sizes: Sizes, frameworks: tuple[str, ...]) -> Iterator[Group]:
    """Every measurement of the suite, in groups of rows compared with each other."""
    libraries = installed_libraries()
    steps = _long_query_steps(sizes.long_query_seconds)
    queries = sizes.point_queries
    for framework in frameworks:
        here = [lib for lib in libraries if framework in lib.frameworks]
        yield from _aio_bench(sizes, framework, here)
        group = [_sync_task(queries, framework)]
        group += [
            _rate(
                "sequential",
                framework,
                lib.name,
                queries,
                partial(lib.sequential, framework, queries),
            )
            for lib in here
        ]
        yield group
        for name, warm in GATHERS:
            yield [
                _rate(
                    name,
                    framework,
                    lib.name,
                    sizes.gathered,
                    partial(lib.gather, framework, sizes.gathered, warm),
                )
                for lib in here
                if lib.gather is not None
            ]
        yield [
            Task(
                Result("worst loop lag", framework, lib.name, "ms"),
                partial(
                    _milliseconds, framework, partial(worst_lag, framework, lib.long_query, steps)
                ),
            )
            for lib in here
            if lib.long_query is not None
        ]
    if "asyncio" in frameworks and orm.installed():
        count = sizes.orm_handlers
        yield [
            _rate(
                ORM_WORKLOAD,
                "asyncio",
                f"sqlite+{driver}",
                count,
                partial(orm.handlers, driver, count),
            )
            for driver in orm.DRIVERS
        ]


def _aio_bench(sizes: Sizes, framework: str, libraries: list[Library]) -> Iterator[Group]:
    """APSW's aio_bench at each library's defaults and at fixed batches.

    Every row has its own floor (sync APSW doing the same SQLite work), sampled
    in turn with the libraries, so a ratio to the floor compares samples taken
    moments apart.
    """
    for batch in (None, *sizes.batches):
        rows = sizes.aio_rows if batch is None else sizes.batch_rows
        name = "aio_bench " + ("defaults" if batch is None else f"batch {batch}")
        group = [Task(Result(name, framework, SYNC, "s"), partial(floors.sync_aio_bench, rows))]
        for lib in libraries:
            if lib.aio_bench is not None:
                make = partial(lib.aio_bench, batch, rows)
                group.append(
                    Task(
                        Result(name, framework, lib.name, "s"),
                        partial(runners.run, framework, make),
                    )
                )
        yield group


def _sync_task(count: int, framework: str) -> Task:
    return Task(Result("sequential", framework, SYNC, "q/s"), partial(_sync_rate, count))


def _rate(workload: str, framework: str, library: str, count: int, make: Measured) -> Task:
    return Task(
        Result(workload, framework, library, "q/s"), partial(_per_second, framework, count, make)
    )


def _per_second(framework: str, count: int, make: Measured) -> float:
    return count / runners.run(framework, make)


def _milliseconds(framework: str, make: Measured) -> float:
    return 1000 * runners.run(framework, make)


def _sync_rate(count: int) -> float:
    return count / floors.sync_sequential(count)


def _long_query_steps(seconds: float) -> int:
    """The recursion depth that keeps sync SQLite busy for about ``seconds``."""
    probe = 200_000
    elapsed = floors.sync_long_query(probe)
    return max(probe, int(probe * seconds / elapsed))
