"""aiosqlite and aiolite.aiosqlite: aiosqlite's API at its fastest idiom.

A point query is ``await db.execute_fetchall(sql, args)``: one trip to the
worker, where ``async with db.execute(...)`` and ``fetchone`` take three.
Both modules run the same body; ``module`` says which. The warm-up rules
are those of :mod:`.apsw_style`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Coroutine
from time import perf_counter
from typing import Any

from .. import runners
from .sql import INSERT, LENGTH, LONG_QUERY, POINT_QUERY, POINT_SETUP, SETUP, SOURCE


def _module(name: str) -> Any:
    return importlib.import_module(name)


async def aio_bench(module: str, batch: int | None, rows: int) -> float:
    async with _module(module).connect(":memory:", iter_chunk_size=batch or 64) as con:
        start = perf_counter()
        await con.executescript(SETUP)
        while (await con.execute_fetchall(LENGTH))[0][0] <= rows:
            data = []
            async with con.execute(SOURCE) as cursor:
                async for row in cursor:
                    data.append(row)
            await con.executemany(INSERT, data)
        return perf_counter() - start


async def sequential(module: str, framework: str, count: int) -> float:
    async with _module(module).connect(":memory:") as con:
        await con.executescript(POINT_SETUP)
        await con.execute_fetchall(POINT_QUERY, (0,))
        start = perf_counter()
        for i in range(count):
            await con.execute_fetchall(POINT_QUERY, (i % 1000,))
        return perf_counter() - start


async def gather(module: str, framework: str, count: int, warm: bool) -> float:
    async with _module(module).connect(":memory:") as con:
        await con.executescript(POINT_SETUP)
        if warm:
            await con.execute_fetchall(POINT_QUERY, (0,))

        def job(i: int) -> Callable[[], Coroutine[Any, Any, Any]]:
            async def one() -> Any:
                return await con.execute_fetchall(POINT_QUERY, (i % 1000,))

            return one

        jobs = [job(i) for i in range(count)]
        start = perf_counter()
        await runners.gather(framework, jobs)
        return perf_counter() - start


async def long_query(module: str, steps: int) -> Any:
    async with _module(module).connect(":memory:") as con:
        return await con.execute_fetchall(LONG_QUERY, (steps,))
