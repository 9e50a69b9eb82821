"""One process of the multi-process pool test: concurrent writes, acknowledged ids printed.

Run as ``python tests/mp_writer.py PATH WORKER COUNT``. After each wave of
concurrent writes it prints (and flushes) one JSON line: the ids whose writes
returned, and the errors that reached the caller. So a parent that kills the
process part way knows exactly which writes had been acknowledged.
"""

from __future__ import annotations

import asyncio
import json
import sys

import aiolite


async def main(path: str, worker: int, count: int) -> None:
    acknowledged: list[int] = []
    errors: list[str] = []

    async def write(i: int) -> None:
        row_id = worker * 1_000_000 + i
        try:
            await pool.execute("INSERT INTO t(id, worker) VALUES (?, ?)", (row_id, worker))
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        else:
            acknowledged.append(row_id)

    async with aiolite.open_pool(path, readers=2) as pool:
        await pool.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, worker)")
        for start in range(0, count, 50):  # waves of 50 concurrent requests
            await asyncio.gather(*(write(i) for i in range(start, min(count, start + 50))))
            await pool.fetchval("SELECT count(*) FROM t")  # reads mixed in
            print(json.dumps({"acknowledged": acknowledged, "errors": errors}), flush=True)
            acknowledged, errors = [], []


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
