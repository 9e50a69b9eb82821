"""The process the crash-safety scenario kills: acknowledged writes through a pool, for ever.

Run as ``python tests/stress/crash_child.py PATH SYNCHRONOUS PHASE BASE SEED``.
It opens a pool on PATH with ``synchronous=SYNCHRONOUS`` and writes until it
is killed, from several concurrent tasks: single-row ``pool.execute`` calls
(group-committed), ``pool.executemany`` of a few rows, and ``pool.writer()``
transactions inserting a few rows one statement at a time. Every row of one
request carries the request's group id and size, so a reader of the file can
tell a half-written request from a whole one.

Each request's row ids are printed (and flushed) as one JSON line the moment
the request returns, so the parent that kills this process knows exactly
which writes had been acknowledged: ``{"ack": [ids]}``. PHASE ``kv`` writes
through a KV store on the same file instead, ``{"kv": id}`` for a ``kv.set``
of key ``k<id>`` (committed inline on the event loop's thread when one task
writes alone, group-committed by the KV's pool when several do). ``{"opening": 1}``
comes just before the pool opens and ``{"ready": 1}`` once it has, so the
parent can aim a kill at the start-up. Row ids start at BASE, distinct per
child. PHASE ``checkpoint`` sets ``wal_autocheckpoint`` to a few pages and
writes bigger rows, so that nearly every commit is followed by a checkpoint.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from itertools import count
from typing import Any

import aiolite

TABLE = (
    "CREATE TABLE IF NOT EXISTS t("
    "id INTEGER PRIMARY KEY, grp INTEGER NOT NULL, size INTEGER NOT NULL, kind TEXT, pad BLOB)"
)
INSERT = "INSERT INTO t(id, grp, size, kind, pad) VALUES (?, ?, ?, ?, ?)"


def say(**message: Any) -> None:
    print(json.dumps(message), flush=True)


async def main(path: str, synchronous: Any, phase: str, base: int, seed: int) -> None:
    rng = random.Random(seed)
    ids = count(base)
    checkpointing = phase == "checkpoint"
    pad = bytes(3000 if checkpointing else 100)
    pragmas = {"wal_autocheckpoint": 4} if checkpointing else {}

    def rows(kind: str, n: int) -> list[tuple[int, int, int, str, bytes]]:
        first = next(ids)
        new = [first] + [next(ids) for _ in range(n - 1)]
        return [(i, first, n, kind, pad) for i in new]

    async def guarded(write: Any) -> None:
        while True:
            try:
                await write()
            except Exception as exc:  # none expected: the parent counts and fails on them
                say(error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.01)

    async def single() -> None:
        (row,) = rows("execute", 1)
        await pool.execute(INSERT, row)
        say(ack=[row[0]])

    async def many() -> None:
        batch = rows("executemany", rng.randint(2, 8))
        await pool.executemany(INSERT, batch)
        say(ack=[r[0] for r in batch])

    async def transaction() -> None:
        batch = rows("writer", rng.randint(2, 6))
        async with pool.writer() as db:
            for row in batch:
                await db.execute(INSERT, row)
        say(ack=[r[0] for r in batch])

    async def kv_set() -> None:
        (row,) = rows("kv", 1)
        await kv.set(f"k{row[0]}", row[0])
        say(kv=row[0])

    async def read() -> None:
        await pool.fetchval("SELECT count(*) FROM t")
        await asyncio.sleep(0.005)  # reads mixed in, not a loop hogging the event loop

    say(opening=1)
    async with (
        aiolite.open_pool(path, readers=2, synchronous=synchronous, pragmas=pragmas) as pool,
        aiolite.KV(path, table="kv", readers=1, synchronous=synchronous) as kv,
    ):
        await pool.execute(TABLE)
        say(ready=1)
        if phase == "kv":  # the KV alone: its sets commit inline, or group-committed if many
            writers = [kv_set] * 3 + [read]
        else:
            writers = [single] * 6 + [many] * 2 + [transaction] * 2 + [read]
        await asyncio.gather(*(guarded(w) for w in writers))


if __name__ == "__main__":
    path, synchronous, phase, base, seed = sys.argv[1:6]
    asyncio.run(main(path, synchronous, phase, int(base), int(seed)))
