"""The pool against per-request commits and a single connection, in one run.

* Concurrent single-row inserts, each durable when it returns: the pool's
  group commit against the usual code on aiosqlite (``execute`` then
  ``commit`` per request) and on apsw.aio (each statement its own
  transaction). Everything runs in WAL mode with the same ``synchronous``
  setting: FULL (survives power loss) and NORMAL (survives a process kill).
* Parallel reads: the same concurrent queries on a pool with 4 readers and
  on one aiolite connection.

Medians of ``--runs`` runs (3 by default)::

    python bench/pool.py [--quick] [--runs 3]
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _common import Result, main, rate, row

import aiolite

INSERT = "INSERT INTO t(x, payload) VALUES (?, ?)"
SCHEMA = "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, x INTEGER, payload TEXT)"


async def pool_inserts(path: str, n: int, synchronous: str) -> float:
    async with aiolite.open_pool(path, readers=1, synchronous=synchronous) as pool:  # type: ignore[call-overload]
        await pool.execute(SCHEMA)
        return await rate(
            n, lambda: asyncio.gather(*(pool.execute(INSERT, (i, "x" * 40)) for i in range(n)))
        )


async def aiosqlite_inserts(path: str, n: int, synchronous: str) -> float:
    import aiosqlite

    # Autocommit: each INSERT is its own transaction, committed before it returns.
    # (With sqlite3's default mode, concurrent requests' execute + commit pairs
    # would commit each other's rows by accident, and a failing request could
    # roll back another's.)
    async with aiosqlite.connect(path, isolation_level=None) as db:
        await db.execute("PRAGMA journal_mode=wal")
        await db.execute(f"PRAGMA synchronous={synchronous}")
        await db.execute(SCHEMA)

        async def one(i: int) -> None:
            await db.execute(INSERT, (i, "x" * 40))

        return await rate(n, lambda: asyncio.gather(*(one(i) for i in range(n))))


async def apsw_aio_inserts(path: str, n: int, synchronous: str) -> float:
    import apsw
    import apsw.aio  # a peer only: aiolite itself never uses it

    db: Any = await apsw.Connection.as_async(path)
    try:
        await db.pragma("journal_mode", "wal")
        await db.pragma("synchronous", synchronous)
        await db.execute(SCHEMA)

        async def one(i: int) -> None:
            await db.execute(INSERT, (i, "x" * 40))  # autocommit: one transaction each

        return await rate(n, lambda: asyncio.gather(*(one(i) for i in range(n))))
    finally:
        await db.aclose()


READ = "SELECT count(*), sum(length(payload) + x) FROM t WHERE x % 7 = ?"


async def fill(path: str, rows: int) -> None:
    async with aiolite.connect(path) as db:
        await db.execute(SCHEMA)
        async with db:
            await db.executemany(INSERT, ((i, "y" * 50) for i in range(rows)))


async def pool_reads(path: str, n: int) -> float:
    async with aiolite.open_pool(path, readers=4) as pool:
        await pool.fetchall(READ, (0,))
        return await rate(n, lambda: asyncio.gather(*(pool.fetchall(READ, (i,)) for i in range(n))))


async def single_reads(path: str, n: int) -> float:
    async with aiolite.connect(path) as db:
        await (await db.execute(READ, (0,))).fetchall()

        async def one(i: int) -> None:
            await (await db.execute(READ, (i,))).fetchall()

        return await rate(n, lambda: asyncio.gather(*(one(i) for i in range(n))))


async def run_async(quick: bool, runs: int) -> list[Result]:
    inserts = 1000 if quick else 5000
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="aiolite-bench-") as folder:
        for synchronous in ("FULL", "NORMAL"):
            ours: list[float] = []
            peers: dict[str, list[float]] = {"aiosqlite": [], "apsw.aio": []}
            for attempt in range(runs):
                name = os.path.join(folder, f"{{}}-{synchronous}-{attempt}.db")
                ours.append(await pool_inserts(name.format("pool"), inserts, synchronous))
                peers["aiosqlite"].append(
                    await aiosqlite_inserts(name.format("aiosqlite"), inserts, synchronous)
                )
                peers["apsw.aio"].append(
                    await apsw_aio_inserts(name.format("apsw"), inserts, synchronous)
                )
            for peer, theirs in peers.items():
                results.append(
                    row(
                        f"{inserts} concurrent durable inserts, synchronous={synchronous}",
                        f"{peer} (commit per request)",
                        ours,
                        theirs,
                    )
                )
        path = os.path.join(folder, "reads.db")
        await fill(path, 20_000 if quick else 50_000)
        reads = 200 if quick else 500
        ours, theirs = [], []
        for _ in range(runs):
            ours.append(await pool_reads(path, reads))
            theirs.append(await single_reads(path, reads))
        results.append(
            row(f"{reads} concurrent scans, 4 readers", "one aiolite connection", ours, theirs)
        )
    return results


def run(quick: bool = False, runs: int = 3) -> list[Result]:
    """The benchmark rows (``python -m aiolite bench`` may call this)."""
    return asyncio.run(run_async(quick, runs))


if __name__ == "__main__":
    main(run, __doc__ or "", "Pool: group commit and parallel reads")
