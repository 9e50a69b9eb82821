"""Tour sections for callbacks of every kind and SQLite's extensions.

Each section is an ``async def name(folder)`` run by ``python -m aiolite tour``;
all of them together take well under a second.
"""

from __future__ import annotations

import asyncio
import io
import threading
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import apsw
import apsw.fts5

import aiolite

from .printing import heading, step

COUNT_TO = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) "
    "SELECT sum(x) FROM c"
)

request_id: ContextVar[str] = ContextVar("request_id", default="-")


class Median:
    """An aggregate: SQLite makes one per group, calls ``step`` per row, then ``final``."""

    def __init__(self) -> None:
        self.values: list[float] = []

    async def step(self, value: float) -> None:  # async: could fetch something per row
        self.values.append(value)

    def final(self) -> float:  # sync: runs in the worker
        ordered = sorted(self.values)
        return ordered[len(ordered) // 2]


async def more_callbacks(folder: Path) -> None:
    heading("Callbacks of every kind: aggregates, collations, hooks, tracers")
    log: list[str] = []

    async def on_update(op: int, dbname: str, table: str, rowid: int) -> None:
        log.append(f"update hook (async, request {request_id.get()}): {table} row {rowid}")

    def on_commit() -> bool:
        log.append(f"commit hook (sync, in {threading.current_thread().name.split('-')[0]})")
        return False  # True would turn the commit into a rollback

    async def no_secrets(op: int, p1: Any, p2: Any, dbname: Any, trigger: Any) -> int:
        return apsw.SQLITE_DENY if p1 == "secrets" else apsw.SQLITE_OK

    async with aiolite.connect(folder / "callbacks.db") as db:
        await db.execute("CREATE TABLE scores(name, score); CREATE TABLE secrets(x)")
        await db.create_aggregate_function("median", Median, 1)
        await db.create_collation("by_length", lambda a, b: len(a) - len(b))
        await db.set_update_hook(on_update)
        await db.set_commit_hook(on_commit)
        with aiolite.contextvar_set(request_id, "r-42"):
            await db.executemany("INSERT INTO scores VALUES (?, ?)", [("ada", 3), ("al", 9)])
        for line in log:
            step(line)
        step(
            "median(score), an aggregate with an async step",
            await (await db.execute("SELECT median(score) FROM scores")).get,
        )
        names = [
            n
            async for (n,) in db.execute("SELECT name FROM scores ORDER BY name COLLATE by_length")
        ]
        step("ORDER BY name COLLATE by_length (a Python collation)", names)
        await db.set_authorizer(no_secrets)
        try:
            await db.execute("SELECT * FROM secrets")
        except aiolite.AuthError as exc:
            step("an async authorizer denied a table", str(exc))
        await db.set_authorizer(None)
        calls = 0

        def every_so_often() -> bool:
            nonlocal calls
            calls += 1
            return False

        await db.set_progress_handler(every_so_often, 1000)
        await db.execute(COUNT_TO, (100_000,))
        step("your progress handler, chained after aiolite's, was called", calls)


class Books:
    """A virtual table module whose cursor's ``Filter`` is async (as if fetched over HTTP)."""

    def Create(self, db: Any, modulename: str, dbname: str, tablename: str, *args: Any) -> Any:
        return "CREATE TABLE x(title, year)", BooksTable()

    Connect = Create


class BooksTable:
    def BestIndex(self, *args: Any) -> None:
        return None

    def Open(self) -> BooksCursor:
        return BooksCursor()

    def Disconnect(self) -> None:
        pass

    Destroy = Disconnect


class BooksCursor:
    rows: list[tuple[str, int]]

    async def Filter(self, *args: Any) -> None:
        await asyncio.sleep(0)  # fetch the rows from somewhere
        self.rows = [("The Hobbit", 1937), ("1984", 1949), ("Dune", 1965)]
        self.position = 0

    def Eof(self) -> bool:
        return self.position >= len(self.rows)

    def Column(self, number: int) -> Any:
        return self.rows[self.position][number]

    def Rowid(self) -> int:
        return self.position

    def Next(self) -> None:
        self.position += 1

    def Close(self) -> None:
        pass


async def virtual_tables(folder: Path) -> None:
    heading("Virtual tables: a Python object, or an async generator, as a table")

    async def countdown(start: int, step_by: int = 1) -> Any:
        for n in range(start, 0, -step_by):
            await asyncio.sleep(0)  # any async source of rows
            yield (n, "*" * n)

    async with aiolite.connect(":memory:") as db:
        await db.create_table_function("countdown", countdown, columns=("n", "bar"))
        rows = await (await db.execute("SELECT * FROM countdown(5) WHERE step_by = 2")).fetchall()
        step("create_table_function: SELECT * FROM countdown(5) WHERE step_by = 2", rows)
        await db.create_module("books", Books())
        await db.execute("CREATE VIRTUAL TABLE shelf USING books()")
        rows = await (
            await db.execute("SELECT title FROM shelf WHERE year > 1940 ORDER BY year")
        ).fetchall()
        step("create_module with an async Filter: books after 1940", rows)


async def vfs(folder: Path) -> None:
    heading("A Python VFS with an async method: count the reads")
    reads = 0

    class CountingFile(aiolite.VFSFile):
        async def xRead(self, amount: int, offset: int) -> bytes:  # type: ignore[override]
            nonlocal reads
            reads += 1
            return super().xRead(amount, offset)

    class CountingVFS(aiolite.VFS):
        def __init__(self) -> None:
            super().__init__("tour-counting", "")  # pass everything else to the default VFS

        def xOpen(self, name: Any, flags: list[int]) -> apsw.VFSFile:
            return CountingFile("", name, flags)

    counting = CountingVFS()
    try:
        path = folder / "vfs.db"
        with apsw.Connection(str(path)) as setup:
            setup.execute(
                "CREATE TABLE t(x); INSERT INTO t SELECT randomblob(500) FROM pragma_function_list"
            )
        async with aiolite.connect(path, vfs="tour-counting", best_practice=False) as db:
            rows = await (await db.execute("SELECT count(*) FROM t")).get
        step(f"{rows} rows counted through vfs='tour-counting'; async xRead calls", reads)
    finally:
        counting.unregister()


async def tracing(folder: Path) -> None:
    heading("Tracing and resource usage for a block")
    async with aiolite.connect(folder / "trace.db") as db:
        out = io.StringIO()
        async with db.trace(out, updates=True, transaction=True):
            async with db:
                await db.execute("CREATE TABLE multi(x)")
                await db.executemany("INSERT INTO multi VALUES (?)", [(1,), (2,)])
            await db.execute("DELETE FROM multi WHERE x < 2")
        for line in out.getvalue().splitlines()[:10]:
            step(line.rstrip())
        out = io.StringIO()
        async with db.resource_usage(out):
            await db.execute(COUNT_TO, (200_000,))
        for line in out.getvalue().splitlines():
            if "Wall clock" in line or "SQLite vm" in line or "statements" in line:
                step(line.strip())


async def blob(folder: Path) -> None:
    heading("Blob: incremental reads and writes of one value")
    async with aiolite.connect(folder / "blob.db") as db:
        await db.execute("CREATE TABLE files(data); INSERT INTO files VALUES (zeroblob(10000))")
        async with await db.blob_open("main", "files", "data", 1, True) as data:
            await data.write(b"hello world")
            data.seek(-5, 2)  # seeking needs no await
            await data.write(b"again")
            data.seek(0)
            step(f"a {data.length()}-byte blob starts with", await data.read(11))


async def backup(folder: Path) -> None:
    heading("Backup: copy a live database, with progress")
    async with (
        aiolite.connect(folder / "big.db") as source,
        aiolite.connect(folder / "copy.db") as copy,
    ):
        await source.execute("CREATE TABLE x(y); INSERT INTO x VALUES (randomblob(250000))")
        async with await copy.backup("main", source, "main") as job:
            async for progress in job.steps(20):
                step(f"copied {progress.copied}/{progress.page_count} pages")
        step("rows in the copy", await (await copy.execute("SELECT count(*) FROM x")).get)


async def full_text_search(folder: Path) -> None:
    heading("Full text search: apsw.fts5.Table through db.run")
    async with aiolite.connect(folder / "recipes.db") as db:
        await db.execute("CREATE TABLE recipes(name, ingredients)")
        await db.executemany(
            "INSERT INTO recipes VALUES (?, ?)",
            [
                ("lemonade", "lemon water sugar"),
                ("guava jam", "guava sugar"),
                ("toast", "bread butter"),
            ],
        )
        table = await db.run(
            apsw.fts5.Table.create, "search", None, content="recipes", generate_triggers=True
        )
        await db.run(lambda conn: table.command_rebuild())  # type: ignore[no-untyped-call]

        def search(conn: apsw.Connection, query: str) -> list[str]:
            return [str(table.row_by_id(match.rowid, "name")) for match in table.search(query)]

        step("search('lemon OR guava')", await db.run(search, "lemon OR guava"))
        step("query_suggest('lemmon')", await db.run(lambda conn: table.query_suggest("lemmon")))


async def session(folder: Path) -> None:
    heading("Session: record changes, ship them, undo them")
    async with aiolite.connect(folder / "session.db") as db:
        await db.execute("CREATE TABLE x(y PRIMARY KEY, z)")
        async with await db.session() as recorder:
            await recorder.attach()
            await db.executemany("INSERT INTO x VALUES (?, ?)", ((i, "a" * i) for i in range(200)))
            changes = await recorder.changeset()
        step("changeset bytes for 200 inserts", len(changes))

        async def keep_theirs(reason: int, change: apsw.TableChange) -> int:
            return apsw.SQLITE_CHANGESET_OMIT  # an async conflict handler

        await db.apply_changeset(aiolite.Changeset.invert(changes), conflict=keep_theirs)
        step(
            "after applying the inverted changeset, rows",
            await (await db.execute("SELECT count(*) FROM x")).get,
        )


SECTIONS = (more_callbacks, virtual_tables, vfs, tracing, blob, backup, full_text_search, session)
