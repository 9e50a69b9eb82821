"""Blob, backup, session, FTS5, tracing and resource usage blocks, ``.dump``, and a
Python VFS with async methods, each on a real database file.

DESIGN.md, "Extensions" and "Callbacks".
"""

from __future__ import annotations

import io
import threading
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import apsw
import apsw.fts5
import apsw.shell
import pytest

import aiolite
from tests.frameworks import Framework
from tests.helpers import GUARD, Db, assert_usable, count_rows, db_path

pytestmark = pytest.mark.frameworks("asyncio", "trio", "anyio-asyncio")

# ---------------------------------------------------------------------- blob


async def test_blob_read_write_seek(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db:
        await db.execute("CREATE TABLE files(name, data)")
        await db.execute("INSERT INTO files VALUES ('a', zeroblob(100)), ('b', ?)", (b"xyz" * 10,))
        async with await db.blob_open("main", "files", "data", 1, True) as blob:
            assert blob.length() == 100
            await blob.write(b"hello")
            assert blob.tell() == 5
            blob.seek(-5, 2)
            await blob.write(b"world")
            blob.seek(0)
            assert await blob.read(5) == b"hello"
            buffer = bytearray(5)
            blob.seek(95)
            await blob.read_into(buffer)
            assert buffer == b"world"
            with pytest.raises(ValueError, match="end"):  # a blob never grows
                await blob.write(b"!" * 10)
            await blob.reopen(2)
            assert blob.tell() == 0
            assert await blob.read() == b"xyz" * 10
        reader = await db.blob_open("main", "files", "data", 1, False)
        with pytest.raises(apsw.ReadOnlyError):
            await reader.write(b"nope")
        with pytest.raises(apsw.ReadOnlyError):  # closing reports it again, as in APSW
            await reader.aclose()
    with apsw.Connection(path) as check:  # committed and visible to another connection
        data = check.execute("SELECT data FROM files WHERE name = 'a'").get
        assert isinstance(data, bytes)
        assert data[:5] == b"hello"
        assert data[-5:] == b"world"
        assert data[5:95] == bytes(90)


async def test_blob_of_a_missing_row(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.connect(db_path(tmp_path)) as db:
        await db.execute("CREATE TABLE files(data)")
        with pytest.raises(apsw.SQLError):
            await db.blob_open("main", "files", "data", 42, True)
        await assert_usable(fw, db)


# -------------------------------------------------------------------- backup

FILL = (
    "CREATE TABLE t(x); INSERT INTO t SELECT randomblob(1000) FROM "
    "(WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 300) "
    " SELECT n FROM c)"
)


async def test_backup_from_an_aiolite_connection_with_progress(
    fw: Framework, tmp_path: Path
) -> None:
    async with (
        aiolite.connect(db_path(tmp_path, "source.db")) as source,
        aiolite.connect(db_path(tmp_path, "copy.db")) as copy,
    ):
        await source.execute(FILL)
        progress: list[aiolite.BackupProgress] = []
        async with fw.fail_after(GUARD), await copy.backup("main", source, "main") as backup:
            async for step in backup.steps(20):
                progress.append(step)
                # the source stays usable between steps
                assert await count_rows(source) == 300
        assert backup.done
        assert len(progress) >= 3
        assert progress[-1].remaining == 0
        assert progress[-1].copied == progress[-1].page_count == backup.page_count
        assert [p.copied for p in progress] == sorted(p.copied for p in progress)
        assert await count_rows(copy) == 300
        await backup.finish()  # idempotent


async def test_backup_from_a_plain_apsw_connection(fw: Framework, tmp_path: Path) -> None:
    source = apsw.Connection(db_path(tmp_path, "source.db"))
    source.execute(FILL)
    try:
        async with aiolite.connect(db_path(tmp_path, "copy.db")) as copy:
            backup = await copy.backup("main", source, "main")
            async with backup:
                while not await backup.step(100):
                    assert backup.remaining > 0
            assert await count_rows(copy) == 300
    finally:
        source.close()


async def test_backup_steps_while_source_is_busy(fw: Framework, tmp_path: Path) -> None:
    """Each step waits its turn behind the source's own requests instead of clashing."""
    async with (
        aiolite.connect(db_path(tmp_path, "source.db")) as source,
        aiolite.connect(":memory:") as copy,
    ):
        await source.execute(FILL)
        async with (
            fw.fail_after(GUARD),
            await copy.backup("main", source, "main") as backup,
            fw.task_group() as group,
        ):
            for _ in range(5):
                group.start_soon(count_rows, source)
            group.start_soon(backup.step, -1)
        assert backup.done
        assert await count_rows(copy) == 300


async def test_backup_step_waiting_for_a_busy_source_can_time_out(
    fw: Framework, tmp_path: Path
) -> None:
    async with (
        aiolite.connect(db_path(tmp_path, "source.db")) as source,
        aiolite.connect(":memory:") as copy,
    ):
        await source.execute(FILL)
        backup = await copy.backup("main", source, "main")
        entered, release = threading.Event(), threading.Event()

        def hold(conn: apsw.Connection) -> str:
            entered.set()
            release.wait(GUARD)
            return "released"

        async with fw.task_group() as group:
            holding = group.start_soon(source.run, hold)  # the source's worker is busy
            while not entered.is_set():
                await fw.sleep(0.01)
            with pytest.raises(fw.timeout_error):
                async with fw.fail_after(0.2):
                    await backup.step(-1)
            release.set()
        assert holding.result == "released"
        async with fw.fail_after(GUARD):
            assert await backup.step(-1)
            await backup.finish()
        assert await count_rows(copy) == 300
        await assert_usable(fw, source)


# -------------------------------------------------------------------- session


async def test_session_changeset_patchset_invert_apply(fw: Framework, tmp_path: Path) -> None:
    async with (
        aiolite.connect(db_path(tmp_path)) as db,
        aiolite.connect(db_path(tmp_path, "replica.db")) as replica,
    ):
        schema = "CREATE TABLE people(id INTEGER PRIMARY KEY, name)"
        await db.execute(schema)
        await replica.execute(schema)
        session = await aiolite.make_session(db, "main")
        await session.config(apsw.SQLITE_SESSION_OBJCONFIG_SIZE, True)
        await session.attach("people")
        assert await session.is_empty()
        await db.executemany("INSERT INTO people VALUES (?, ?)", [(1, "Ada"), (2, "Alan")])
        await db.execute("UPDATE people SET name = 'Grace' WHERE id = 2")
        assert not await session.is_empty()
        assert await session.changeset_size() > 0
        changes = await session.changeset()
        patch = await session.patchset()
        assert 0 < len(patch) <= len(changes)
        await session.aclose()
        await replica.apply_changeset(patch)
        rows = await (await replica.execute("SELECT * FROM people ORDER BY id")).fetchall()
        assert rows == [(1, "Ada"), (2, "Grace")]
        await db.apply_changeset(aiolite.Changeset.invert(changes))
        assert await count_rows(db, "people") == 0


async def test_apply_changeset_conflict_aborts_by_default(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.connect(db_path(tmp_path)) as db:
        await db.execute("CREATE TABLE kv(k PRIMARY KEY, v)")
        async with await db.session() as session:
            await session.attach()
            await db.execute("INSERT INTO kv VALUES ('a', 1), ('b', 2)")
            changes = await session.changeset()
        await db.execute("DELETE FROM kv WHERE k = 'b'")  # 'a' conflicts, 'b' would apply
        with pytest.raises(apsw.AbortError):
            await db.apply_changeset(changes)
        assert await (await db.execute("SELECT k, v FROM kv")).fetchall() == [("a", 1)]


# ---------------------------------------------------------------------- FTS5


async def test_fts5_table_through_run(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.connect(db_path(tmp_path)) as db:
        await db.execute("CREATE TABLE recipes(name, ingredients)")
        await db.executemany(
            "INSERT INTO recipes VALUES (?, ?)",
            [("lemonade", "lemon water sugar"), ("guava jam", "guava sugar"), ("toast", "bread")],
        )
        table: apsw.fts5.Table = await db.run(
            apsw.fts5.Table.create, "search", None, content="recipes", generate_triggers=True
        )
        await db.run(lambda conn: table.command_rebuild())
        assert await db.run(lambda conn: table.row_count) == 3

        def search(conn: apsw.Connection, query: str) -> list[str]:
            return [table.row_by_id(match.rowid, "name") for match in table.search(query)]

        assert sorted(await db.run(search, "lemon OR guava")) == ["guava jam", "lemonade"]
        await db.execute("INSERT INTO recipes VALUES ('lemon pie', 'lemon flour')")  # triggers
        assert sorted(await db.run(search, "lemon")) == ["lemon pie", "lemonade"]


# --------------------------------------------------------- tracing and usage


async def test_trace_block(fw: Framework, tmp_path: Path) -> None:
    out = io.StringIO()
    async with aiolite.connect(db_path(tmp_path), row_factory=aiolite.Row) as db:
        traced: list[str] = []
        await db.set_exec_trace(lambda cursor, sql, bindings: traced.append(sql) or True)
        async with db.trace(out, updates=True, transaction=True):
            async with db:
                await db.execute("CREATE TABLE multi(x)")
                await db.executemany("INSERT INTO multi VALUES (?)", [(1,), (2,)])
            row = await (await db.execute("SELECT x AS value FROM multi LIMIT 1")).fetchone()
            assert row is not None
            assert row.value == 1  # the cursors' own tracer still works
        await db.execute("SELECT 'after the block'")
    text = out.getvalue()
    assert "> CREATE TABLE multi(x)" in text
    assert "INS 1 (1)" in text
    assert "!COMMIT" in text
    assert "after the block" not in text
    assert "SELECT 'after the block'" in traced  # the user's tracer kept working


async def test_resource_usage_block(fw: Framework, tmp_path: Path) -> None:
    for scope in ("thread", "process"):
        out = io.StringIO()
        async with aiolite.connect(db_path(tmp_path)) as db, db.resource_usage(out, scope=scope):
            await db.execute(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50000) "
                "SELECT sum(x) FROM c"
            )
        text = out.getvalue()
        assert "SQLite vm operations" in text
        assert "Wall clock" in text


async def test_dump_through_run(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.connect(db_path(tmp_path)) as db:
        await db.execute("CREATE TABLE t(x); INSERT INTO t VALUES ('dumped')")

        def dump(conn: apsw.Connection) -> str:
            out = io.StringIO()
            apsw.shell.Shell(db=conn, stdout=out).process_command(".dump")
            return out.getvalue()

        text = await db.run(dump)
    assert "CREATE TABLE t(x);" in text
    assert "INSERT INTO t VALUES('dumped');" in text
    restored = apsw.Connection(":memory:")
    restored.execute(text)
    assert restored.execute("SELECT x FROM t").get == "dumped"


# ----------------------------------------------------------------------- VFS

seen_by_vfs: ContextVar[str] = ContextVar("seen_by_vfs", default="nobody")
_vfs_names = iter(range(1_000_000))


def counting_vfs(mode: str, on_read: Any = None) -> tuple[aiolite.VFS, str, dict[str, Any]]:
    """A pass-through VFS over the default one that counts reads (sync or async)."""
    stats: dict[str, Any] = {"reads": 0, "threads": set(), "contexts": set()}

    def note() -> None:
        stats["reads"] += 1
        stats["threads"].add(threading.current_thread().name.split("-")[0])
        stats["contexts"].add(seen_by_vfs.get())

    if mode == "sync":

        class File(aiolite.VFSFile):
            def xRead(self, amount: int, offset: int) -> bytes:
                note()
                return super().xRead(amount, offset)

    else:

        class File(aiolite.VFSFile):  # type: ignore[no-redef]
            async def xRead(self, amount: int, offset: int) -> bytes:  # type: ignore[override]
                note()
                if on_read is not None:
                    await on_read()
                return super().xRead(amount, offset)

    name = f"counting-{mode}-{next(_vfs_names)}"

    class Counting(aiolite.VFS):
        def __init__(self) -> None:
            super().__init__(name, "")

        def xOpen(self, filename: Any, flags: list[int]) -> apsw.VFSFile:
            return File("", filename, flags)

    return Counting(), name, stats


def make_table(path: str, rows: int = 500) -> None:
    with apsw.Connection(path) as setup:
        setup.execute("CREATE TABLE t(x)")
        setup.executemany("INSERT INTO t VALUES (randomblob(200))", [()] * rows)


@pytest.mark.frameworks("asyncio", "uvloop", "trio", "anyio-asyncio", "anyio-trio")
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_vfs_counts_reads(fw: Framework, tmp_path: Path, mode: str) -> None:
    vfs, name, stats = counting_vfs(mode)
    path = db_path(tmp_path)
    make_table(path)
    try:
        async with aiolite.connect(path, vfs=name, best_practice=False) as db:
            assert db.open_vfs == name
            opened_reads = stats["reads"]
            with aiolite.contextvar_set(seen_by_vfs, "the query's task"):
                assert await count_rows(db) == 500
                assert await (await db.execute("SELECT sum(length(x)) FROM t")).get == 100_000
            assert stats["reads"] > opened_reads
        assert "the query's task" in stats["contexts"]
        assert stats["threads"] == ({"aiolite"} if mode == "sync" else {"MainThread"})
    finally:
        vfs.unregister()


def read_with_plain_apsw(path: str, vfs: str) -> None:
    with apsw.Connection(path, vfs=vfs) as plain:
        plain.execute("SELECT count(*) FROM t").fetchall()


async def test_async_vfs_without_an_event_loop_fails_clearly(fw: Framework, tmp_path: Path) -> None:
    vfs, name, _ = counting_vfs("async")
    path = db_path(tmp_path)
    make_table(path)
    try:
        with pytest.raises(Exception) as caught:  # noqa: PT011 - SQLite's I/O error wraps ours
            read_with_plain_apsw(path, name)
        chain = [caught.value, caught.value.__cause__, caught.value.__context__]
        assert any(isinstance(error, aiolite.NoEventLoopError) for error in chain), chain
    finally:
        vfs.unregister()


@pytest.mark.parametrize("trouble", ["deadline", "reenter"])
async def test_async_vfs_method_deadline_and_reentry(
    fw: Framework, tmp_path: Path, trouble: str
) -> None:
    armed = False
    holder: list[Db] = []

    async def on_read() -> None:
        nonlocal armed
        if not armed:
            return
        armed = False
        if trouble == "deadline":
            await fw.sleep(3600)
        else:
            await holder[0].execute("SELECT 1")

    vfs, name, _ = counting_vfs("async", on_read)
    path = db_path(tmp_path)
    make_table(path)
    try:
        async with aiolite.connect(path, vfs=name) as db:
            holder.append(db)
            await db.pragma("cache_size", 0)
            armed = True
            expected = TimeoutError if trouble == "deadline" else aiolite.CallbackDeadlockError
            with (
                pytest.raises((expected, apsw.IOError)) as caught,
                aiolite.contextvar_set(aiolite.deadline, fw.now() + 0.2),
            ):
                await count_rows(db)
            error = caught.value
            assert isinstance(error, expected) or isinstance(error.__cause__, expected), error
            await assert_usable(fw, db)
            assert await count_rows(db) == 500
    finally:
        vfs.unregister()
