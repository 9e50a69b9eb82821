"""The libraries under test, each with its idiom, and what each one runs.

Each library is measured at its fastest idiom (named in the table), with
the same warm-up as every other: see :mod:`.apsw_style` and
:mod:`.aiosqlite_style`. A workload a library does not run is ``None``.
Sync APSW and the raw hand-off are floors (:mod:`.floors`), not libraries.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from time import perf_counter
from typing import Any

from .. import runners
from . import aiosqlite_style, apsw_style, floors

AioBench = Callable[[int | None, int], Awaitable[float]]
Sequential = Callable[[str, int], Awaitable[float]]
Gather = Callable[[str, int, bool], Awaitable[float]]
LongQuery = Callable[[int], Awaitable[Any]]

AIOLITE = "aiolite"
NOT_INLINE = "aiolite inline=False"
DROP_IN = "aiolite.aiosqlite"
APSW_AIO = "apsw.aio"
AIOSQLITE = "aiosqlite"
RAW = "raw hand-off"
SYNC = "sync APSW"


@dataclass(frozen=True)
class Library:
    """One async SQLite library (or the raw hand-off) and the frameworks it runs on."""

    name: str
    module: str  # what must be importable for it to run
    idiom: str  # how a point query is written, shown next to its rows
    frameworks: tuple[str, ...]
    sequential: Sequential
    gather: Gather | None = None
    aio_bench: AioBench | None = None
    long_query: LongQuery | None = None

    def installed(self) -> bool:
        return importlib.util.find_spec(self.module) is not None


ALL = runners.FRAMEWORKS
ASYNCIO_ONLY = ("asyncio", "uvloop")
_APSW_IDIOM = "await (await db.execute(q)).get"
_FETCHALL = "await db.execute_fetchall(q)"
_not_inline = partial(apsw_style.open_aiolite, inline=False)

LIBRARIES: tuple[Library, ...] = (
    Library(
        AIOLITE,
        "aiolite",
        _APSW_IDIOM,
        ALL,
        partial(apsw_style.sequential, apsw_style.open_aiolite),
        partial(apsw_style.gather, apsw_style.open_aiolite),
        partial(apsw_style.aio_bench, apsw_style.open_aiolite),
        partial(apsw_style.long_query, apsw_style.open_aiolite),
    ),
    Library(
        NOT_INLINE,
        "aiolite",
        _APSW_IDIOM,
        ALL,
        partial(apsw_style.sequential, _not_inline),
        partial(apsw_style.gather, _not_inline),
    ),
    Library(
        DROP_IN,
        "aiolite",
        _FETCHALL,
        ALL,
        partial(aiosqlite_style.sequential, "aiolite.aiosqlite"),
        partial(aiosqlite_style.gather, "aiolite.aiosqlite"),
    ),
    Library(
        APSW_AIO,
        "apsw.aio",
        _APSW_IDIOM,
        ALL,
        partial(apsw_style.sequential, apsw_style.open_apsw_aio),
        partial(apsw_style.gather, apsw_style.open_apsw_aio),
        partial(apsw_style.aio_bench, apsw_style.open_apsw_aio),
        partial(apsw_style.long_query, apsw_style.open_apsw_aio),
    ),
    Library(
        AIOSQLITE,
        "aiosqlite",
        _FETCHALL,
        ASYNCIO_ONLY,
        partial(aiosqlite_style.sequential, "aiosqlite"),
        partial(aiosqlite_style.gather, "aiosqlite"),
        partial(aiosqlite_style.aio_bench, "aiosqlite"),
        partial(aiosqlite_style.long_query, "aiosqlite"),
    ),
    Library(RAW, "queue", "SimpleQueue.put + thread-safe wake-up", ALL, floors.raw_sequential),
)


async def worst_lag(framework: str, long_query: LongQuery, steps: int) -> float:
    """The longest a 1 ms ticker was late while ``long_query`` ran."""
    finished = False

    async def query() -> None:
        nonlocal finished
        try:
            await long_query(steps)
        finally:
            finished = True

    async def ticker() -> float:
        worst = 0.0
        while not finished:
            before = perf_counter()
            await runners.sleep(framework, 0.001)
            worst = max(worst, perf_counter() - before - 0.001)
        return worst

    return await runners.in_background(framework, query, ticker)
