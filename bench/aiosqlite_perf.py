"""aiosqlite's own perf workloads (``aiosqlite/tests/perf.py``): aiosqlite vs aiolite.aiosqlite.

Both modules run the same workload bodies in the same process, one after the
other, ``--runs`` times (median reported), after the same small untimed
warm-up run for both; each workload runs a fixed number of iterations rather
than perf.py's "as many as fit in 2 s", so the two sides do identical work.
Prints the versions and run count, a Markdown table (operations per second
for each and the ratio aiolite / aiosqlite), then one goal line per
workload: each at least 1.5x aiosqlite, opening and closing a connection at
least 1.0x (``round_trip`` is a diagnostic with no goal).

    python bench/aiosqlite_perf.py [--runs 3] [--scale 1.0] [--only atomics]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import string
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any

import aiosqlite as real_aiosqlite
import apsw

from aiolite import aiosqlite as our_aiosqlite
from aiolite._cli.markdown import table

Workload = Callable[[Any, int], Awaitable[float]]
"""Runs ``n`` iterations with library ``lib``; returns the seconds of the measured part
(setup excluded, as perf.py starts its clock after the first ``yield``)."""


@asynccontextmanager
async def perf_table(lib: Any, rows: int = 0, database: str = ":memory:") -> AsyncIterator[Any]:
    """perf.py's setup: a database with table ``perf`` holding ``rows`` rows."""
    async with lib.connect(database) as db:
        await db.execute("create table perf (i integer primary key asc, k integer)")
        for i in range(rows):
            await db.execute(f"insert into perf (k) values ({i})")
        await db.commit()
        yield db


async def connection_memory(lib: Any, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        async with lib.connect(":memory:"):
            pass
    return time.perf_counter() - start


async def connection_file(lib: Any, n: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "perf.db")
        async with perf_table(lib, rows=2, database=path):
            pass
        start = time.perf_counter()
        for _ in range(n):
            async with lib.connect(path):
                pass
        return time.perf_counter() - start


def _deny_drops(action: int, arg1: Any, arg2: Any, db_name: Any, trigger: Any) -> int:
    return sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_DROP_TABLE else sqlite3.SQLITE_OK


async def atomics(lib: Any, n: int) -> float:
    async with perf_table(lib, rows=2) as db:
        start = time.perf_counter()
        for _ in range(n):
            async with db.execute("select last_insert_rowid()") as cursor:
                await cursor.fetchone()
        return time.perf_counter() - start


async def inserts(lib: Any, n: int, authorizer: Any = None) -> float:
    async with perf_table(lib) as db:
        if authorizer is not None:
            await db.set_authorizer(authorizer)
        start = time.perf_counter()
        for _ in range(n):
            await db.execute("insert into perf (k) values (1), (2), (3)")
            await db.commit()
        return time.perf_counter() - start


async def inserts_authorized(lib: Any, n: int) -> float:
    return await inserts(lib, n, authorizer=_deny_drops)


async def insert_ids(lib: Any, n: int) -> float:
    async with perf_table(lib) as db:
        start = time.perf_counter()
        for _ in range(n):
            cursor = await db.execute("insert into perf (k) values (1)")
            await cursor.execute("select last_insert_rowid()")
            await cursor.fetchone()
            await db.commit()
        return time.perf_counter() - start


async def insert_macro_ids(lib: Any, n: int) -> float:
    async with perf_table(lib) as db:
        start = time.perf_counter()
        for _ in range(n):
            await db.execute_insert("insert into perf (k) values (1)")
            await db.commit()
        return time.perf_counter() - start


async def select(lib: Any, n: int) -> float:
    async with perf_table(lib, rows=100) as db:
        start = time.perf_counter()
        for _ in range(n):
            cursor = await db.execute("select i, k from perf")
            assert len(await cursor.fetchall()) == 100
        return time.perf_counter() - start


async def select_macro(lib: Any, n: int) -> float:
    async with perf_table(lib, rows=100) as db:
        start = time.perf_counter()
        for _ in range(n):
            assert len(await db.execute_fetchall("select i, k from perf")) == 100
        return time.perf_counter() - start


def _nothing() -> None:
    """The empty request: what a round trip to the worker costs by itself."""


async def round_trip(lib: Any, n: int) -> float:
    """Not in perf.py: ``await db._execute(nothing)`` (private in both), the bare trip."""
    async with lib.connect(":memory:") as db:
        start = time.perf_counter()
        for _ in range(n):
            await db._execute(_nothing)
        return time.perf_counter() - start


def iterable_cursor(chunk_size: int) -> Workload:
    """perf.py's iterable_cursor @ chunk_size: ``async for`` over rows; n = rows read."""

    async def run(lib: Any, n: int) -> float:
        async with lib.connect(":memory:") as db:
            await db.execute(
                "create table ic_perf ("
                "i integer primary key asc, k integer, a integer, b integer, c char(16))"
            )
            await db.executemany(
                "insert into ic_perf (k, a, b, c) values(?, 1, 2, ?)",
                [(i, string.ascii_lowercase) for i in range(n)],
            )
            await db.commit()
            count = 0
            start = time.perf_counter()
            async with db.execute("SELECT * FROM ic_perf") as cursor:
                cursor.iter_chunk_size = chunk_size
                async for _ in cursor:
                    count += 1
            elapsed = time.perf_counter() - start
            assert count == n
            return elapsed

    return run


WORKLOADS: dict[str, tuple[Workload, int]] = {
    "connection_memory": (connection_memory, 300),
    "connection_file": (connection_file, 300),
    "atomics": (atomics, 5_000),
    "inserts": (inserts, 3_000),
    "inserts_authorized": (inserts_authorized, 3_000),
    "insert_ids": (insert_ids, 2_000),
    "insert_macro_ids": (insert_macro_ids, 3_000),
    "select": (select, 2_000),
    "select_macro": (select_macro, 2_000),
    "round_trip (diagnostic)": (round_trip, 5_000),
    **{
        f"iterable_cursor @ {size}": (iterable_cursor(size), 50_000) for size in (16, 64, 256, 1024)
    },
}


GOAL = 1.5
OPEN_CLOSE_GOAL = 1.0
OPEN_CLOSE = ("connection_memory", "connection_file")


def goal_lines(rows: list[tuple[str, float, float]]) -> list[str]:
    """One line per workload with a goal: the measured ratio, the target, met or not."""
    lines = []
    for name, theirs, ours in rows:
        if name.endswith("(diagnostic)"):
            continue
        target = OPEN_CLOSE_GOAL if name in OPEN_CLOSE else GOAL
        ratio = ours / theirs
        verdict = "met" if ratio >= target else "NOT met"
        lines.append(f"- {name}: {ratio:.2f}x aiosqlite (target >= {target:g}x) {verdict}")
    return lines


async def measure(names: list[str], runs: int, scale: float) -> list[tuple[str, float, float]]:
    rows = []
    for name in names:
        workload, base = WORKLOADS[name]
        n = max(1, int(base * scale))
        theirs: list[float] = []
        ours: list[float] = []
        for lib in (real_aiosqlite, our_aiosqlite):  # the same untimed warm-up for both
            await workload(lib, max(1, n // 10))
        for _ in range(runs):
            theirs.append(await workload(real_aiosqlite, n))
            ours.append(await workload(our_aiosqlite, n))
        rows.append((name, n / statistics.median(theirs), n / statistics.median(ours)))
        print(f"  {name}: done", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply iteration counts")
    parser.add_argument("--only", nargs="*", choices=sorted(WORKLOADS), default=None)
    options = parser.parse_args()
    names = options.only or list(WORKLOADS)
    rows = asyncio.run(measure(names, options.runs, options.scale))
    print(
        f"\naiosqlite {real_aiosqlite.__version__} perf workloads against aiolite "
        f"{version('aiolite')}\n(APSW {apsw.apsw_version()}, SQLite {apsw.sqlite_lib_version()}): "
        f"median of {options.runs} runs each, the two libraries alternating,\n"
        "after the same untimed warm-up run (a tenth of the size) for both."
    )
    header = ["workload", "aiosqlite ops/s", "aiolite.aiosqlite ops/s", "ratio"]
    cells = [
        [name, f"{theirs:,.0f}", f"{ours:,.0f}", f"{ours / theirs:.2f}x"]
        for name, theirs, ours in rows
    ]
    print()
    print(table(header, cells, left=1))
    print("\nGoals:\n")
    print("\n".join(goal_lines(rows)))


if __name__ == "__main__":
    main()
