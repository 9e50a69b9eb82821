"""Tour sections for the pool and the KV store."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import aiolite

from .printing import heading, step


async def pool(folder: Path) -> None:
    heading("Pool: one writer, parallel readers, group commit")
    path = folder / "pool.db"
    async with aiolite.open_pool(path, readers=2, acquire_timeout=0.5) as pool:
        await pool.execute("CREATE TABLE events(id INTEGER PRIMARY KEY, what TEXT UNIQUE)")
        commits = 0

        def count_commit() -> bool:
            nonlocal commits
            commits += 1
            return False

        await pool.writer_connection.run(lambda conn: conn.set_commit_hook(count_commit))
        inserts = [
            pool.execute("INSERT INTO events(what) VALUES (?)", (f"e{i}",)) for i in range(200)
        ]
        await asyncio.gather(*inserts)
        step(f"200 concurrent pool.execute() inserts were committed in {commits} commits")
        results = await asyncio.gather(
            pool.execute("INSERT INTO events(what) VALUES ('new')"),
            pool.execute("INSERT INTO events(what) VALUES ('e1')"),  # a duplicate
            return_exceptions=True,
        )
        step(
            "a failing write in a batch fails only its caller",
            [type(r).__name__ for r in results],
        )

        barrier = threading.Barrier(2, timeout=5)

        def meet(x: int) -> int:
            barrier.wait()  # only passes if both readers are inside a query at once
            return x

        async with pool.reader() as one, pool.reader() as two:
            for db in (one, two):
                await db.create_scalar_function("meet", meet)
        both = await asyncio.gather(
            pool.fetchval("SELECT meet(1)"), pool.fetchval("SELECT meet(2)")
        )
        step("two reads met inside SQLite at the same time, on two readers", both)

        try:
            async with pool.writer() as db:
                await db.execute("DELETE FROM events")
                raise LookupError("changed my mind")
        except LookupError:
            pass
        step(
            "a pool.writer() block that raised rolled back; rows",
            await pool.fetchval("SELECT count(*) FROM events"),
        )

        async def hold_writer() -> None:
            async with pool.writer():
                await asyncio.sleep(1)

        holder = asyncio.create_task(hold_writer())
        await asyncio.sleep(0.01)
        try:
            await pool.execute("INSERT INTO events(what) VALUES ('late')")
        except aiolite.PoolTimeout as exc:
            step(f"writer held by a block: {type(exc).__name__} (a TimeoutError): {exc}")
        holder.cancel()
        await asyncio.gather(holder, return_exceptions=True)
        stats = pool.stats()
        step(
            "pool.stats()",
            {"commits": stats.commits, "writes": stats.writes, "timeouts": stats.timeouts},
        )


async def kv(folder: Path) -> None:
    heading("KV store: a persistent async dict (AsyncNanaSQLite names work too)")
    async with aiolite.KV(folder / "kv.db") as kv:
        await kv.set("user_1", {"name": "Alice", "age": 25, "big": 2**70})
        await kv.aset("avatar", b"\x89PNG...")
        step("kv.get('user_1')", await kv.get("user_1"))
        step("await kv.aget('avatar')  (bytes come back as bytes)", await kv.aget("avatar"))
        await kv.update({f"item{i}": i for i in range(5)})
        step("kv.keys() after update()", await kv.keys())
        for bad in ((1, 2), float("nan"), {1: "int key"}):
            try:
                await kv.set("bad", bad)
            except TypeError as exc:
                step(f"kv.set('bad', {bad!r}) -> TypeError: {exc}")
        try:
            await kv.delete("missing")
        except KeyError:
            step("kv.delete('missing') -> KeyError, like a dict")
        await kv.create_table("users", {"id": "INTEGER PRIMARY KEY", "name": "TEXT"})
        await kv.sql_insert("users", {"name": "Robert'); DROP TABLE users; --"})
        step("table helpers bind values", await kv.query("users", columns=["name"]))
        try:
            await kv.query("users; DROP TABLE users")
        except ValueError as exc:
            step(f"...and refuse names that are not names: {exc}")
        step("one task's sets committed on the loop thread (no thread hop)", kv.inline_writes)


SECTIONS = (pool, kv)
