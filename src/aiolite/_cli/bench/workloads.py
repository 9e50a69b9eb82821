"""The workloads, written once per library in that library's idiomatic form.

Every function returns the seconds its measured part took (setup such as
connecting, and one warm-up run of the measured query, is outside the
clock), so one run of each is one sample. The warm-up is what any
long-running program has already done; every library gets the same one.
Sync APSW is the floor: the same SQLite work with no event loop at all.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from time import perf_counter
from typing import Any

import apsw

import aiolite

from .. import runners

SETUP = (
    "CREATE TABLE foo(one, two, three, four, five);"
    "INSERT INTO foo VALUES(1, 2, 3, 4, 5);"
    "INSERT INTO foo VALUES(5, 4, 3, 2, 1);"
)
INSERT = "INSERT INTO foo VALUES(?, ?, ?, ?, ?)"
SOURCE = "SELECT * FROM foo LIMIT 1000"
LENGTH = "SELECT count(*) FROM foo"

POINT_SETUP = (
    "CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT);"
    "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999) "
    "INSERT INTO kv SELECT i, 'value ' || i FROM n;"
)
POINT_QUERY = "SELECT v FROM kv WHERE k = ?"

LONG_QUERY = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) "
    "SELECT count(*) FROM c"
)


@dataclass(frozen=True)
class Library:
    """One async SQLite library under test, and the frameworks it runs on."""

    name: str
    frameworks: tuple[str, ...]
    aio_bench: Callable[[int | None, int], Awaitable[float]]
    sequential: Callable[[int], Awaitable[float]]
    gather: Callable[[str, int], Awaitable[float]]
    long_query: Callable[[int], Awaitable[Any]]

    def installed(self) -> bool:
        module = {"apsw.aio": "apsw.aio", "aiosqlite": "aiosqlite"}.get(self.name, "aiolite")
        return importlib.util.find_spec(module) is not None


# ------------------------------------------------------------------ sync floor


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


# ------------------------------------------- aiolite and apsw.aio (APSW's API)
# Both speak APSW's own API (``await (await db.execute(...)).get``), so one
# idiomatic body serves both; only opening the connection differs.

Opener = Callable[[int | None], contextlib.AbstractAsyncContextManager[Any]]


@contextlib.asynccontextmanager
async def _aiolite(batch: int | None = None) -> AsyncIterator[Any]:
    # aiolite's batch knob is the first batch; later ones grow from it.
    options: aiolite.ConnectOptions = {}
    if batch is not None:
        options["prefetch"] = batch
        options["max_batch"] = max(batch, 4096)
    async with aiolite.connect(":memory:", **options) as db:
        yield db


@contextlib.asynccontextmanager
async def _apsw_aio(batch: int | None = None) -> AsyncIterator[Any]:
    import apsw.aio

    token = None if batch is None else apsw.async_cursor_prefetch.set(batch)
    con: Any = await apsw.Connection.as_async(":memory:")
    try:
        yield con
    finally:
        await con.aclose()
        if token is not None:
            apsw.async_cursor_prefetch.reset(token)


async def _apsw_style_aio_bench(open_db: Opener, batch: int | None, rows: int) -> float:
    async with open_db(batch) as db:
        start = perf_counter()
        await db.execute(SETUP)
        while (await (await db.execute(LENGTH)).fetchall())[0][0] <= rows:
            data = []
            async for row in await db.execute(SOURCE):
                data.append(row)
            await db.executemany(INSERT, data)
        return perf_counter() - start


async def _apsw_style_sequential(open_db: Opener, count: int) -> float:
    async with open_db(None) as db:
        await db.execute(POINT_SETUP)
        await (await db.execute(POINT_QUERY, (0,))).get
        start = perf_counter()
        for i in range(count):
            await (await db.execute(POINT_QUERY, (i % 1000,))).get
        return perf_counter() - start


async def _apsw_style_gather(open_db: Opener, framework: str, count: int) -> float:
    async with open_db(None) as db:
        await db.execute(POINT_SETUP)
        await (await db.execute(POINT_QUERY, (0,))).get

        def job(i: int) -> Callable[[], Coroutine[Any, Any, Any]]:
            async def one() -> Any:
                return await (await db.execute(POINT_QUERY, (i % 1000,))).get

            return one

        jobs = [job(i) for i in range(count)]
        start = perf_counter()
        await runners.gather(framework, jobs)
        return perf_counter() - start


async def _apsw_style_long_query(open_db: Opener, steps: int) -> Any:
    async with open_db(None) as db:
        return await (await db.execute(LONG_QUERY, (steps,))).get


# ------------------------------------------------------------------- aiosqlite


async def aiosqlite_aio_bench(batch: int | None, rows: int) -> float:
    import aiosqlite

    async with aiosqlite.connect(":memory:", iter_chunk_size=batch or 64) as con:
        start = perf_counter()
        await con.executescript(SETUP)
        while next(iter(await (await con.execute(LENGTH)).fetchall()))[0] <= rows:
            data = []
            async with con.execute(SOURCE) as cursor:
                async for row in cursor:
                    data.append(row)
            await con.executemany(INSERT, data)
        return perf_counter() - start


async def aiosqlite_sequential(count: int) -> float:
    import aiosqlite

    async with aiosqlite.connect(":memory:") as con:
        await con.executescript(POINT_SETUP)
        await con.execute_fetchall(POINT_QUERY, (0,))
        start = perf_counter()
        for i in range(count):
            async with con.execute(POINT_QUERY, (i % 1000,)) as cursor:
                await cursor.fetchone()
        return perf_counter() - start


async def aiosqlite_gather(framework: str, count: int) -> float:
    import aiosqlite

    async with aiosqlite.connect(":memory:") as con:
        await con.executescript(POINT_SETUP)
        await con.execute_fetchall(POINT_QUERY, (0,))

        def job(i: int) -> Callable[[], Coroutine[Any, Any, Any]]:
            async def one() -> Any:
                async with con.execute(POINT_QUERY, (i % 1000,)) as cursor:
                    return await cursor.fetchone()

            return one

        jobs = [job(i) for i in range(count)]
        start = perf_counter()
        await runners.gather(framework, jobs)
        return perf_counter() - start


async def aiosqlite_long_query(steps: int) -> Any:
    import aiosqlite

    async with aiosqlite.connect(":memory:") as con, con.execute(LONG_QUERY, (steps,)) as cursor:
        return await cursor.fetchone()


ALL_FRAMEWORKS = runners.FRAMEWORKS
LIBRARIES = (
    Library(
        "aiolite",
        ALL_FRAMEWORKS,
        partial(_apsw_style_aio_bench, _aiolite),
        partial(_apsw_style_sequential, _aiolite),
        partial(_apsw_style_gather, _aiolite),
        partial(_apsw_style_long_query, _aiolite),
    ),
    Library(
        "apsw.aio",
        ALL_FRAMEWORKS,
        partial(_apsw_style_aio_bench, _apsw_aio),
        partial(_apsw_style_sequential, _apsw_aio),
        partial(_apsw_style_gather, _apsw_aio),
        partial(_apsw_style_long_query, _apsw_aio),
    ),
    Library(
        "aiosqlite",
        ("asyncio", "uvloop"),
        aiosqlite_aio_bench,
        aiosqlite_sequential,
        aiosqlite_gather,
        aiosqlite_long_query,
    ),
)


async def worst_lag(framework: str, library: Library, steps: int) -> float:
    """The longest a 1 ms ticker was late while ``library`` ran the long query."""
    finished = False

    async def query() -> None:
        nonlocal finished
        try:
            await library.long_query(steps)
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
