"""What a busy event loop costs a long query, and why the progress checks adapt.

The worker's cancellation check (SQLite's progress handler) needs the GIL.
When the event loop thread is busy running Python, each check can wait a
whole switch interval (5 ms) for it. This runs one CPU-bound query

* with sync APSW and no progress handler (the floor),
* on aiolite with the loop idle, and with the loop spinning in Python,
* for both the adaptive check interval (the default) and a fixed
  ``check_progress_steps=10_000``,

and prints the best of ``--repeat`` runs of each and the ratio to the floor.

    python bench/busy_loop.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import apsw

import aiolite


def count_query(rows: int) -> str:
    return (
        f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT {rows}) "
        "SELECT count(*) FROM c"
    )


def sync_floor(sql: str) -> float:
    conn = apsw.Connection(":memory:")
    started = time.perf_counter()
    _ = conn.execute(sql).get
    return time.perf_counter() - started


async def on_aiolite(sql: str, steps: int | None, busy: bool) -> float:
    async with aiolite.connect(":memory:", check_progress_steps=steps) as db:
        done = False

        async def spin() -> None:
            while not done:
                deadline = time.perf_counter() + 0.05
                while time.perf_counter() < deadline:  # Python work holding the GIL
                    pass
                await asyncio.sleep(0)

        spinner = asyncio.create_task(spin()) if busy else None
        started = time.perf_counter()
        await (await db.execute(sql)).get
        elapsed = time.perf_counter() - started
        done = True
        if spinner is not None:
            await spinner
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sql = count_query(args.rows)
    floor = min(sync_floor(sql) for _ in range(args.repeat))
    print(f"{'configuration':<42} {'seconds':>8} {'x floor':>8}")
    print(f"{'sync APSW, no progress handler':<42} {floor:8.3f} {1.0:8.2f}")
    for label, steps in (("adaptive checks (default)", None), ("fixed 10,000-step checks", 10_000)):
        for busy in (False, True):
            elapsed = min(asyncio.run(on_aiolite(sql, steps, busy)) for _ in range(args.repeat))
            loop = "busy loop" if busy else "idle loop"
            print(f"{'aiolite, ' + label + ', ' + loop:<42} {elapsed:8.3f} {elapsed / floor:8.2f}")


if __name__ == "__main__":
    main()
