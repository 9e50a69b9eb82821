"""Blob commits that leave the event loop running, WAL images that deserialize, and
``Changeset.apply(changeset, db)`` on an aiolite connection (issue #14, items 6, 8, 9).

DESIGN.md, "Extensions": a blob operation on a large value must not stall the loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import apsw
import pytest

import aiolite
from aiolite import aiosqlite
from tests.frameworks import Framework
from tests.helpers import GUARD, Db, db_path

SIZE = 64 * 1024


async def _table_with_a_blob(db: Db) -> None:
    await db.execute("CREATE TABLE files(id INTEGER PRIMARY KEY, data)")
    await db.execute("INSERT INTO files VALUES (1, zeroblob(?)), (2, zeroblob(?))", (SIZE, SIZE))


def _committed(path: str, rowid: int = 1) -> bytes:
    """The first bytes of a blob, as another connection sees them (only what is committed)."""
    with apsw.Connection(path) as other:
        data: bytes = other.execute(
            "SELECT substr(data, 1, 3) FROM files WHERE id = ?", (rowid,)
        ).get
        return data


async def _seen(db: Db) -> bytes:
    """The first bytes of blob 1 as ``db`` sees them (its own transaction included)."""
    data: bytes = await (await db.execute("SELECT substr(data, 1, 3) FROM files WHERE id = 1")).get
    return data


# ------------------------------------------------------------------ blob close


async def test_blob_close_commits_and_leaves_no_transaction(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db:
        await _table_with_a_blob(db)
        async with await db.blob_open("main", "files", "data", 1, True) as blob:
            await blob.write(b"abc")
        assert _committed(path) == b"abc"
        assert not db.in_transaction
        await db.execute("INSERT INTO files VALUES (3, 'x')")  # autocommit as before
        with apsw.Connection(path) as other:
            assert other.execute("SELECT count(*) FROM files").get == 3


async def test_a_failed_blob_block_rolls_back(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db:
        await _table_with_a_blob(db)

        async def write_past_the_end() -> None:
            async with await db.blob_open("main", "files", "data", 1, True) as blob:
                await blob.write(b"abc")
                blob.seek(-1, 2)
                await blob.write(b"too long")  # a blob never grows

        with pytest.raises(ValueError, match="end"):
            await write_past_the_end()
        assert not db.in_transaction
        assert await _seen(db) == bytes(3)
    assert _committed(path) == bytes(3)


async def test_a_cancelled_blob_block_rolls_back(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db:
        await _table_with_a_blob(db)
        blob = await db.blob_open("main", "files", "data", 1, True)
        await blob.write(b"abc")
        with pytest.raises(fw.timeout_error):
            async with fw.fail_after(0), blob:  # the write, then the close, are cancelled
                await blob.write(b"def")
        assert await _seen(db) == bytes(3)
        assert not db.in_transaction
    assert _committed(path) == bytes(3)


async def test_a_blob_inside_a_transaction_does_not_commit_it(
    fw: Framework, tmp_path: Path
) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db:
        await _table_with_a_blob(db)

        async def write_then_undo() -> None:
            async with db:
                async with await db.blob_open("main", "files", "data", 1, True) as blob:
                    await blob.write(b"abc")
                assert db.in_transaction  # the close committed nothing
                assert _committed(path) == bytes(3)
                raise RuntimeError("undo")

        with pytest.raises(RuntimeError, match="undo"):
            await write_then_undo()
        assert await _seen(db) == bytes(3)
    assert _committed(path) == bytes(3)


async def test_two_blobs_commit_when_the_last_closes(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db:
        await _table_with_a_blob(db)
        first = await db.blob_open("main", "files", "data", 1, True)
        second = await db.blob_open("main", "files", "data", 2, True)
        await first.write(b"one")
        await second.write(b"two")
        await first.aclose()
        assert _committed(path, 1) == bytes(3)  # as in SQLite: the other write is in progress
        await second.aclose()
        assert (_committed(path, 1), _committed(path, 2)) == (b"one", b"two")
        assert not db.in_transaction


async def _close_while_a_reader_blocks_the_commit(fw: Framework, path: str, close: Any) -> None:
    """Run ``close()`` while a reader holds the file; the loop lets it go only once the
    closing commit waits for it, which it can see only if the loop runs meanwhile.

    Rollback-journal mode: a commit needs every reader gone, and waits in
    SQLite's own busy handler (C, no Python). If the close held the GIL
    there, the loop could not run, the reader would stay, and the close
    would fail with a busy error once the busy timeout ran out.
    """
    reader = apsw.Connection(path)
    probe = apsw.Connection(path)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM files").fetchall()  # holds a shared lock
        released: list[bool] = []

        async def release_once_the_commit_waits() -> None:
            while True:
                try:  # refused once the closing writer announces its commit (a pending lock)
                    probe.execute("SELECT count(*) FROM files").fetchall()
                except apsw.BusyError:
                    break
                await fw.sleep(0)
            reader.execute("COMMIT")
            released.append(True)

        async with fw.fail_after(GUARD), fw.task_group() as group:
            releaser = group.start_soon(release_once_the_commit_waits)
            try:
                await close()
            finally:
                releaser.cancel()
        assert released == [True]
    finally:
        reader.close()
        probe.close()


async def test_the_loop_runs_while_a_blob_commits(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path, pragmas={"journal_mode": "delete"}) as db:
        await _table_with_a_blob(db)
        await db.set_busy_timeout(3000)  # SQLite's own wait, in C
        blob = await db.blob_open("main", "files", "data", 1, True)
        await blob.write(b"abc" * (SIZE // 3))
        await _close_while_a_reader_blocks_the_commit(fw, path, blob.aclose)
        assert not db.in_transaction
    assert _committed(path) == b"abc"


@pytest.mark.frameworks("asyncio", "uvloop")
async def test_the_loop_runs_while_an_aiosqlite_blob_commits(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiosqlite.connect(path, timeout=3, isolation_level=None) as db:
        await db.execute("PRAGMA journal_mode = delete")
        await db.execute("CREATE TABLE files(id INTEGER PRIMARY KEY, data)")
        await db.execute("INSERT INTO files VALUES (1, zeroblob(?))", (SIZE,))
        blob = await db.blobopen("files", "data", 1)
        await blob.write(b"abc" * (SIZE // 3))
        await _close_while_a_reader_blocks_the_commit(fw, path, blob.close)
        assert not db.in_transaction
    assert _committed(path) == b"abc"


# ------------------------------------------------------------ serialize images


async def _wal_database(db: Db) -> None:
    assert await db.pragma("journal_mode") == "wal"  # aiolite's default for files
    await db.execute("CREATE TABLE t(x); INSERT INTO t VALUES ('kept')")


@pytest.mark.frameworks("asyncio", "trio")
async def test_a_wal_image_deserializes(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db:
        await _wal_database(db)
        image = await db.serialize("main")
        async with aiolite.connect(":memory:") as copy:
            await copy.deserialize("main", image)
            assert await (await copy.execute("SELECT x FROM t")).get == "kept"
            await copy.execute("INSERT INTO t VALUES ('more')")  # and it can be written
            assert await (await copy.execute("SELECT count(*) FROM t")).get == 2
        await db.deserialize("main", image)  # also into the file connection itself
        assert await (await db.execute("SELECT x FROM t")).get == "kept"
    assert image[18:20] == b"\x02\x02"  # the image itself stays a WAL database file...
    copy_path = tmp_path / "copy.db"
    copy_path.write_bytes(image)
    with apsw.Connection(str(copy_path)) as reopened:  # ...that opens as one
        assert reopened.pragma("journal_mode") == "wal"
        assert reopened.execute("SELECT x FROM t").get == "kept"
    async with aiolite.connect(":memory:") as from_disk:  # a WAL file read from disk
        await from_disk.deserialize("main", memoryview(copy_path.read_bytes()))
        assert await (await from_disk.execute("SELECT x FROM t")).get == "kept"


@pytest.mark.frameworks("asyncio", "trio")
async def test_a_pool_snapshot_deserializes(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.open_pool(db_path(tmp_path), readers=1) as pool:
        await pool.execute("CREATE TABLE t(x)")
        await pool.execute("INSERT INTO t VALUES ('kept')")
        async with pool.reader() as reader:
            image = await reader.serialize("main")
    async with aiolite.connect(":memory:") as copy:
        await copy.deserialize("main", image)
        assert await (await copy.execute("SELECT x FROM t")).get == "kept"


@pytest.mark.frameworks("asyncio", "trio")
async def test_deserialize_refuses_what_is_not_an_image(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x)")
        with pytest.raises(TypeError, match="bytes-like"):
            await db.deserialize("main", "SQLite format 3")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="empty"):
            await db.deserialize("main", b"")
        assert await db.table_exists("main", "t")  # nothing was lost


@pytest.mark.frameworks("asyncio", "uvloop")
async def test_aiosqlite_wal_image_deserializes(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiosqlite.connect(path) as db:
        await db.execute("PRAGMA journal_mode = wal")
        await db.execute("CREATE TABLE t(x)")
        await db.execute("INSERT INTO t VALUES ('kept')")
        await db.commit()
        image = await db.serialize()
    async with aiosqlite.connect(":memory:") as copy:
        await copy.deserialize(image)
        async with copy.execute("SELECT x FROM t") as cursor:
            assert await cursor.fetchall() == [("kept",)]


# ---------------------------------------------------------- Changeset.apply


async def _changes(db: Db) -> bytes:
    await db.execute("CREATE TABLE kv(k PRIMARY KEY, v)")
    async with await aiolite.make_session(db, "main") as session:
        await session.attach()
        await db.execute("INSERT INTO kv VALUES ('a', 1), ('b', 2)")
        return await session.changeset()


@pytest.mark.frameworks("asyncio", "trio")
async def test_changeset_apply_takes_an_aiolite_connection(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        changes = await _changes(db)
        await aiolite.Changeset.apply(aiolite.Changeset.invert(changes), db)
        assert await (await db.execute("SELECT count(*) FROM kv")).get == 0
        with apsw.Connection(":memory:") as plain:  # a plain APSW connection: APSW's call
            plain.execute("CREATE TABLE kv(k PRIMARY KEY, v)")
            assert aiolite.Changeset.apply(changes, plain) is None
            assert plain.execute("SELECT count(*) FROM kv").get == 2
        with pytest.raises(TypeError, match="aiolite Connection"):
            aiolite.Changeset.apply(changes, object())  # type: ignore[call-overload]


@pytest.mark.frameworks("asyncio", "trio")
async def test_changeset_apply_passes_filters_and_conflict_handler(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        changes = await _changes(db)
        await db.execute("DELETE FROM kv WHERE k = 'b'")  # 'a' conflicts, 'b' applies
        await db.execute("UPDATE kv SET v = 10")
        with pytest.raises(apsw.AbortError):  # no handler: a conflict aborts it all
            await aiolite.Changeset.apply(changes, db)
        reasons: list[int] = []

        async def keep_ours(reason: int, change: apsw.TableChange) -> int:
            reasons.append(reason)
            return apsw.SQLITE_CHANGESET_OMIT

        await aiolite.Changeset.apply(changes, db, conflict=keep_ours)
        assert reasons == [apsw.SQLITE_CHANGESET_CONFLICT]
        rows = await (await db.execute("SELECT k, v FROM kv ORDER BY k")).fetchall()
        assert rows == [("a", 10), ("b", 2)]
        await db.execute("DELETE FROM kv")
        seen: list[Any] = []

        def only_a(change: apsw.TableChange) -> bool:
            seen.append(change.new[0])
            return bool(change.new[0] == "a")

        rebase = await aiolite.Changeset.apply(changes, db, filter_change=only_a, rebase=True)
        assert isinstance(rebase, bytes)
        assert sorted(seen) == ["a", "b"]
        assert await (await db.execute("SELECT k FROM kv")).fetchall() == [("a",)]
        await db.execute("DELETE FROM kv")
        await aiolite.Changeset.apply(changes, db, filter=lambda table: table != "kv")
        assert await (await db.execute("SELECT count(*) FROM kv")).get == 0
