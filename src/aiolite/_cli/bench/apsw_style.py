"""aiolite and apsw.aio: both speak APSW's API, so one idiomatic body serves both.

The idiom is ``await (await db.execute(sql, args)).get``; only opening the
connection differs. Every body returns the seconds of its measured part:
connecting and creating the table are outside the clock, and so is the one
warm-up query of a "warm" run (a "cold" run has none: its first query
prepares the statement inside the clock, for every library alike).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from time import perf_counter
from typing import Any

import aiolite

from .. import runners
from .sql import INSERT, LENGTH, LONG_QUERY, POINT_QUERY, POINT_SETUP, SETUP, SOURCE

Opener = Callable[[int | None], contextlib.AbstractAsyncContextManager[Any]]


@contextlib.asynccontextmanager
async def open_aiolite(batch: int | None = None, *, inline: bool = True) -> AsyncIterator[Any]:
    """aiolite at its defaults; ``batch`` is the first batch (later ones grow from it)."""
    options: aiolite.ConnectOptions = {"inline": inline}
    if batch is not None:
        options["prefetch"] = batch
        options["max_batch"] = max(batch, 4096)
    async with aiolite.connect(":memory:", **options) as db:
        yield db


@contextlib.asynccontextmanager
async def open_apsw_aio(batch: int | None = None) -> AsyncIterator[Any]:
    """APSW's own async mode (the library itself never uses it; this is the peer)."""
    import apsw
    import apsw.aio

    token = None if batch is None else apsw.async_cursor_prefetch.set(batch)
    con: Any = await apsw.Connection.as_async(":memory:")
    try:
        yield con
    finally:
        await con.aclose()
        if token is not None:
            apsw.async_cursor_prefetch.reset(token)


async def aio_bench(open_db: Opener, batch: int | None, rows: int) -> float:
    """APSW's ``tools/aio_bench.py``: read 1,000 rows, append them, until ``rows``."""
    async with open_db(batch) as db:
        start = perf_counter()
        await db.execute(SETUP)
        while (await (await db.execute(LENGTH)).fetchall())[0][0] <= rows:
            data = []
            async for row in await db.execute(SOURCE):
                data.append(row)
            await db.executemany(INSERT, data)
        return perf_counter() - start


async def sequential(open_db: Opener, framework: str, count: int) -> float:
    async with open_db(None) as db:
        await db.execute(POINT_SETUP)
        await (await db.execute(POINT_QUERY, (0,))).get
        start = perf_counter()
        for i in range(count):
            await (await db.execute(POINT_QUERY, (i % 1000,))).get
        return perf_counter() - start


async def gather(open_db: Opener, framework: str, count: int, warm: bool) -> float:
    async with open_db(None) as db:
        await db.execute(POINT_SETUP)
        if warm:
            await (await db.execute(POINT_QUERY, (0,))).get

        def job(i: int) -> Callable[[], Coroutine[Any, Any, Any]]:
            async def one() -> Any:
                return await (await db.execute(POINT_QUERY, (i % 1000,))).get

            return one

        jobs = [job(i) for i in range(count)]
        start = perf_counter()
        await runners.gather(framework, jobs)
        return perf_counter() - start


async def long_query(open_db: Opener, steps: int) -> Any:
    async with open_db(None) as db:
        return await (await db.execute(LONG_QUERY, (steps,))).get
