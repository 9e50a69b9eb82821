"""What a callback costs: one SQL function called per row, sync and async.

Runs ``SELECT f(x) FROM <n rows>`` where ``f`` is a plain function and then
an ``async def``, on

* sync APSW (sync function only: the floor),
* aiolite (sync runs in the worker; async makes one trip to the loop per call),
* APSW's own async mode (``apsw.aio``), the peer,

and prints calls per second and the ratios. Also a table function from an
async generator (aiolite pulls rows in batches) against ``apsw.ext``'s
``make_virtual_module`` in async mode.

    python bench/callbacks.py [--rows 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import apsw
import apsw.ext

import aiolite

ROWS_SQL = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) "
    "SELECT sum(f(x)) FROM c"
)


def sync_f(*args: Any) -> Any:
    return args[0]


async def async_f(x: int) -> int:
    return x


async def numbers(n: int) -> AsyncIterator[tuple[int]]:
    for i in range(n):
        yield (i,)


def sync_floor(rows: int) -> float:
    conn = apsw.Connection(":memory:")
    conn.create_scalar_function("f", sync_f, 1)
    started = time.perf_counter()
    _ = conn.execute(ROWS_SQL, (rows,)).get
    return time.perf_counter() - started


async def on_aiolite(rows: int, function: Callable[..., Any]) -> float:
    async with aiolite.connect(":memory:") as db:
        await db.create_scalar_function("f", function, 1)
        started = time.perf_counter()
        await (await db.execute(ROWS_SQL, (rows,))).get
        return time.perf_counter() - started


async def on_apsw_aio(rows: int, function: Callable[..., Any]) -> float:
    db: Any = await apsw.Connection.as_async(":memory:")
    async with contextlib.aclosing(db):
        await db.create_scalar_function("f", function, 1)
        started = time.perf_counter()
        await (await db.execute(ROWS_SQL, (rows,))).get
        return time.perf_counter() - started


async def table_aiolite(rows: int) -> float:
    async with aiolite.connect(":memory:") as db:
        await db.create_table_function("numbers", numbers, columns=("i",))
        started = time.perf_counter()
        await (await db.execute("SELECT count(*) FROM numbers(?)", (rows,))).get
        return time.perf_counter() - started


async def table_apsw_aio(rows: int) -> float:
    db: Any = await apsw.Connection.as_async(":memory:")
    async with contextlib.aclosing(db):

        async def gen(n: int) -> AsyncIterator[tuple[int]]:
            async for row in numbers(n):
                yield row

        gen.columns = ("i",)  # type: ignore[attr-defined]
        gen.column_access = apsw.ext.VTColumnAccess.By_Index  # type: ignore[attr-defined]
        module: Any = gen
        await apsw.ext.make_virtual_module(db, "numbers", module)  # type: ignore[misc]
        started = time.perf_counter()
        await (await db.execute("SELECT count(*) FROM numbers(?)", (rows,))).get
        return time.perf_counter() - started


def best(repeat: int, run: Callable[[], Awaitable[float]]) -> float:
    return min(asyncio.run(run()) for _ in range(repeat))  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows, repeat = args.rows, args.repeat
    floor = min(sync_floor(rows) for _ in range(repeat))
    results = {
        "sync APSW, sync function": floor,
        "aiolite, sync function": best(repeat, lambda: on_aiolite(rows, sync_f)),
        "apsw.aio, sync function": best(repeat, lambda: on_apsw_aio(rows, sync_f)),
        "aiolite, async function": best(repeat, lambda: on_aiolite(rows, async_f)),
        "apsw.aio, async function": best(repeat, lambda: on_apsw_aio(rows, async_f)),
        "aiolite, async-generator table": best(repeat, lambda: table_aiolite(rows)),
        "apsw.aio, async-generator table": best(repeat, lambda: table_apsw_aio(rows)),
    }
    print(f"{rows:,} calls (rows) each; best of {repeat}")
    print(f"{'':34} {'calls/s':>12} {'x sync APSW':>12}")
    for name, seconds in results.items():
        print(f"{name:34} {rows / seconds:12,.0f} {seconds / floor:12.1f}")


if __name__ == "__main__":
    main()
