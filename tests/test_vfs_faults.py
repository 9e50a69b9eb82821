"""A failing Python VFS: what reaches the caller, and the pool's ``vfs`` option.

Regression tests for what the fault-injection stress scenarios
(``tests/stress/test_faults.py``) found: a checkpoint that failed after a
successful commit made the commit raise (so a committed write looked
failed), and the pool could not be opened on a VFS at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import apsw
import pytest

import aiolite
from tests.frameworks import Framework

pytestmark = pytest.mark.timeout(60)


class FailingFile(aiolite.VFSFile):
    """Fails every write to the kinds of file listed in ``failing`` (a class attribute)."""

    failing: ClassVar[set[str]] = set()

    def __init__(self, name: Any, flags: list[int]) -> None:
        self.kind = "db" if flags[0] & apsw.SQLITE_OPEN_MAIN_DB else "other"
        if flags[0] & apsw.SQLITE_OPEN_WAL:
            self.kind = "wal"
        super().__init__("", name, flags)

    def xWrite(self, data: bytes, offset: int) -> None:
        if self.kind in FailingFile.failing:
            raise apsw.exception_for(apsw.SQLITE_IOERR_WRITE)
        super().xWrite(data, offset)


class FailingVFS(aiolite.VFS):
    def __init__(self) -> None:
        super().__init__("test-failing", "")

    def xOpen(self, name: Any, flags: list[int]) -> apsw.VFSFile:
        return FailingFile(name, flags)


@pytest.fixture
def failing_vfs() -> Iterator[str]:
    vfs = FailingVFS()
    FailingFile.failing = set()
    try:
        yield "test-failing"
    finally:
        FailingFile.failing = set()
        vfs.unregister()


def count_rows(path: str) -> int:
    with contextlib.closing(apsw.Connection(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").get == "ok"
        return int(conn.execute("SELECT count(*) FROM t").get)


@pytest.mark.frameworks("asyncio", "trio")
async def test_failed_checkpoint_does_not_fail_the_commit(
    fw: Framework, tmp_path: Path, failing_vfs: str
) -> None:
    """SQLite ignores a failed auto-checkpoint; the commit before it must not raise.

    In WAL mode the database file is written only by checkpoints, so failing
    every database write fails every checkpoint and nothing else.
    """
    path = str(tmp_path / "ckpt.db")
    async with aiolite.connect(path, vfs=failing_vfs, pragmas={"wal_autocheckpoint": 1}) as db:
        await db.execute("CREATE TABLE t(x)")
        FailingFile.failing = {"db"}
        for i in range(5):
            async with db:
                await db.execute("INSERT INTO t VALUES (?)", (i,))
            await db.execute("INSERT INTO t VALUES (?)", (-i,))
        with pytest.raises(apsw.IOError):  # asked for explicitly, it does report the failure
            await db.wal_checkpoint()
        FailingFile.failing = set()
    assert count_rows(path) == 10


@pytest.mark.frameworks("asyncio", "trio")
async def test_failed_wal_write_raises_and_leaves_nothing(
    fw: Framework, tmp_path: Path, failing_vfs: str
) -> None:
    path = str(tmp_path / "wal.db")
    async with aiolite.connect(path, vfs=failing_vfs) as db:
        await db.execute("CREATE TABLE t(x)")
        FailingFile.failing = {"wal"}
        with pytest.raises(apsw.IOError):
            async with db:
                await db.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(apsw.IOError):
            await db.execute("INSERT INTO t VALUES (2)")
        FailingFile.failing = set()
        await db.execute("INSERT INTO t VALUES (3)")  # the same connection recovers
        assert await (await db.execute("SELECT x FROM t")).get == 3
    assert count_rows(path) == 1


@pytest.mark.frameworks("asyncio", "trio")
async def test_pool_opens_every_connection_on_the_vfs(
    fw: Framework, tmp_path: Path, failing_vfs: str
) -> None:
    path = str(tmp_path / "pool.db")
    async with aiolite.open_pool(path, readers=2, vfs=failing_vfs) as pool:
        assert pool.writer_connection.open_vfs == failing_vfs
        async with pool.reader() as reader:
            assert reader.open_vfs == failing_vfs
        await pool.execute("CREATE TABLE t(x)")
        FailingFile.failing = {"wal"}
        with pytest.raises(apsw.IOError):
            await pool.execute("INSERT INTO t VALUES (1)")
        FailingFile.failing = set()
        await pool.execute("INSERT INTO t VALUES (2)")
        assert await pool.fetchall("SELECT x FROM t") == [(2,)]
    assert count_rows(path) == 1
    with pytest.raises(apsw.SQLError):  # an unknown VFS fails at open, as with connect()
        await aiolite.open_pool(path, vfs="no-such-vfs")
