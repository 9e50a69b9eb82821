"""Tour sections for one connection: basics, transactions, callbacks, cancellation, errors."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import apsw
import apsw.shell

import aiolite

from ..endless import ENDLESS_QUERY
from .printing import heading, step


async def basics(folder: Path) -> None:
    heading("Basics: connect, execute, three ways to read rows")
    path = folder / "tour.db"
    async with aiolite.connect(path) as db:
        step(f"aiolite.connect({path.name!r}) opened it; the framework is", db.framework)
        step("journal mode (best practice turns WAL on)", await db.pragma("journal_mode"))
        await db.execute(
            """CREATE TABLE numbers(value INTEGER, name TEXT);
               INSERT INTO numbers VALUES (1, 'one'), (20, 'twenty'), (3, 'three'), (10, 'ten')"""
        )
        step("created a table and inserted 4 rows in one execute()")
        rows = [row async for row in await db.execute("SELECT * FROM numbers ORDER BY value")]
        step("async for row in await db.execute(...)   (APSW style)", rows)
        names = [name async for (name,) in db.execute("SELECT name FROM numbers ORDER BY value")]
        step("async for row in db.execute(...)         (no inner await)", names)
        async with db.execute("SELECT value FROM numbers WHERE value > ?", (5,)) as cursor:
            step("async with db.execute(...) as cursor: fetchall()", await cursor.fetchall())
        count = await (await db.execute("SELECT count(*) FROM numbers")).get
        step("await (await db.execute('SELECT count(*) ...')).get", count)
        cursor = await db.execute("SELECT * FROM numbers WHERE 0")
        step("a query with no rows still has a description", cursor.description)

    async with aiolite.connect(path, row_factory=aiolite.Row) as named_db:
        row = await (await named_db.execute("SELECT value, name FROM numbers LIMIT 1")).fetchone()
        assert row is not None
        step(
            "row_factory=aiolite.Row: row['name'], row.value, row == tuple",
            (row["name"], row.value, row == (1, "one")),
        )

    @dataclass
    class Number:
        value: int
        name: str

    async with aiolite.connect(path, row_factory=Number) as numbers_db:
        first = await (
            await numbers_db.execute("SELECT value, name FROM numbers LIMIT 1")
        ).fetchone()
        step("row_factory=<a dataclass>", first)


async def transactions(folder: Path) -> None:
    heading("Transactions: async with db, savepoints, rollback")
    async with aiolite.connect(folder / "tour.db") as db:
        async with db:
            await db.execute("INSERT INTO numbers VALUES (7, 'seven')")
            async with db:  # nested: a savepoint
                await db.execute("INSERT INTO numbers VALUES (8, 'eight')")
        step(
            "committed a block with a nested savepoint; rows now",
            await (await db.execute("SELECT count(*) FROM numbers")).get,
        )
        try:
            async with db:
                await db.execute("DELETE FROM numbers")
                raise LookupError("something went wrong half way")
        except LookupError:
            pass
        step(
            "a block that raised rolled back its DELETE; rows still",
            await (await db.execute("SELECT count(*) FROM numbers")).get,
        )
        async with db.transaction("immediate"):
            await db.execute("UPDATE numbers SET name = upper(name) WHERE value = 7")
        step(
            'db.transaction("immediate") takes the write lock up front',
            await (await db.execute("SELECT name FROM numbers WHERE value = 7")).get,
        )


async def isolation(folder: Path) -> None:
    heading("Tasks sharing a connection never run inside each other's transaction")
    async with aiolite.connect(folder / "tour.db") as db:
        order: list[str] = []
        inside = asyncio.Event()

        async def writer() -> None:
            async with db:
                await db.execute("INSERT INTO numbers VALUES (99, 'uncommitted')")
                order.append("writer inserted inside its block")
                inside.set()
                await asyncio.sleep(0.05)  # the reader's request arrives meanwhile, and waits
                order.append("writer raises, so its block rolls back")
                raise RuntimeError("roll back")

        async def reader() -> None:
            await inside.wait()
            order.append("reader asks while the block is open")
            n = await (await db.execute("SELECT count(*) FROM numbers WHERE value = 99")).get
            order.append(f"reader ran after the block ended and saw {n} uncommitted rows")

        results = await asyncio.gather(writer(), reader(), return_exceptions=True)
        for line in order:
            step(line)
        step("writer's outcome", repr(results[0]))


async def worker_thread(folder: Path) -> None:
    heading("Your own code in the worker thread: db.run")

    def schema_upgrade(conn: apsw.Connection) -> int:
        with conn:  # one transaction, plain sync APSW
            if conn.pragma("user_version") == 0:
                conn.execute("CREATE TABLE products(id, name, price); PRAGMA user_version = 1")
            if conn.pragma("user_version") == 1:
                conn.execute("ALTER TABLE products ADD COLUMN sku; PRAGMA user_version = 2")
        version: int = conn.pragma("user_version")
        return version

    def dump(conn: apsw.Connection) -> str:
        out = io.StringIO()
        apsw.shell.Shell(db=conn, stdout=out).process_command(".dump")  # type: ignore[no-untyped-call]
        return out.getvalue()

    async with aiolite.connect(folder / "tour.db") as db:
        step("await db.run(schema_upgrade): user_version is now", await db.run(schema_upgrade))
        text = await db.run(dump)
        step(f"await db.run(dump): {len(text)} characters of .dump, starting", text[:40])


async def callbacks(folder: Path) -> None:
    heading("Functions: sync ones run in the worker, async ones in the event loop")
    calls: list[str] = []

    def s_add(one: int, two: int) -> int:
        calls.append(f"sync s_add in thread {threading.current_thread().name}")
        return one + two

    async def a_add(one: int, two: int) -> int:
        await asyncio.sleep(0)  # could be any async I/O
        calls.append(f"async a_add in thread {threading.current_thread().name}")
        return one + two

    async with aiolite.connect(":memory:") as db:
        await db.create_scalar_function("s_add", s_add)
        await db.create_scalar_function("a_add", a_add)
        step(
            "SELECT a_add(1, 2), s_add(3, 4)",
            await (await db.execute("SELECT a_add(1, 2), s_add(3, 4)")).fetchall(),
        )
        for line in calls:
            step(line)

        async def reentrant(x: int) -> int:
            result: int = await (await db.execute("SELECT 1")).get
            return result

        await db.create_scalar_function("reentrant", reentrant)
        try:
            await db.execute("SELECT reentrant(1)")
        except aiolite.CallbackDeadlockError as exc:
            step(
                "an async function awaiting its own connection fails at once, no hang",
                type(exc).__name__,
            )


async def cancellation(folder: Path) -> None:
    heading("Cancellation stops SQLite itself")
    async with aiolite.connect(":memory:") as db:
        started = time.perf_counter()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(db.execute(ENDLESS_QUERY))
                group.create_task(db.execute("SELECT 1"))  # queued behind it

                async def fail() -> None:
                    await asyncio.sleep(0.1)
                    raise ZeroDivisionError("a sibling task failed")

                group.create_task(fail())
        except* ZeroDivisionError:
            elapsed = time.perf_counter() - started
            step(
                f"a TaskGroup sibling failed after {elapsed:.3f} s; the endless query was cancelled"
            )
        started = time.perf_counter()
        value = await (await db.execute("SELECT 42")).get
        step(
            f"the next query ran {1000 * (time.perf_counter() - started):.1f} ms later: "
            "SQLite had really stopped",
            value,
        )

        started = time.perf_counter()
        try:
            async with asyncio.timeout(0.2):
                await db.execute(ENDLESS_QUERY)
        except TimeoutError:
            step(f"asyncio.timeout(0.2) stopped it after {time.perf_counter() - started:.3f} s")


async def deadlines(folder: Path) -> None:
    heading("Deadlines: aiolite.deadline reaches into the worker")
    async with aiolite.connect(":memory:") as db:
        started = time.perf_counter()
        try:
            with aiolite.contextvar_set(aiolite.deadline, aiolite.current_time() + 0.25):
                await db.execute(ENDLESS_QUERY)
        except aiolite.DeadlineExceeded as exc:
            step(
                f"aiolite.deadline 0.25 s ahead: {type(exc).__name__} (a TimeoutError) "
                f"after {time.perf_counter() - started:.3f} s"
            )


async def errors(folder: Path) -> None:
    heading("Clear errors, and nothing lost")
    async with aiolite.connect(folder / "tour.db") as db:
        for what, sql, bindings in (
            ("wrong number of bindings", "SELECT ?", (1, 2)),
            ("a value SQLite cannot store", "SELECT ?", (object(),)),
            ("a syntax error", "SELEC 1", None),
        ):
            try:
                await db.execute(sql, bindings)
            except Exception as exc:
                step(f"{what}: {type(exc).__name__}: {exc}")
        step(
            "...and the connection still answers",
            await (await db.execute("SELECT 'still here'")).get,
        )
    try:
        await db.execute("SELECT 1")
    except aiolite.ConnectionClosedError as exc:
        step(f"after close: {type(exc).__name__}: {exc}")
    step(
        "aiolite worker threads left running",
        sum(t.name.startswith("aiolite-") for t in threading.enumerate()),
    )


SECTIONS = (
    basics,
    transactions,
    isolation,
    worker_thread,
    callbacks,
    cancellation,
    deadlines,
    errors,
)
