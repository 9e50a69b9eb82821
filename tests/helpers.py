"""Shared pieces of the test suite: SQL that runs as long as we like, and small probes."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import apsw

import aiolite
from aiolite._cli.endless import ENDLESS_QUERY as ENDLESS_QUERY  # the tour's, re-exported
from aiolite._cli.endless import ENDLESS_ROWS as ENDLESS_ROWS
from tests.frameworks import Framework

Db = aiolite.Connection[Any]

GUARD = 15.0
"""Bounds a step that must not hang, so that a hang fails fast and says where."""

# Writes a few rows while running forever, so a stopped write can be shown to leave nothing.
ENDLESS_INSERT = (
    "INSERT INTO t(x) "
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
    "SELECT x FROM c WHERE x % 100000 = 0"
)


def db_path(tmp_path: Path, name: str = "test.db") -> str:
    return str(tmp_path / name)


async def assert_usable(fw: Framework, db: Db) -> None:
    """The next request runs: possible only once every request before it has stopped."""
    async with fw.fail_after(GUARD):
        assert await (await db.execute("SELECT 1")).get == 1


async def count_rows(db: Db, table: str = "t") -> int:
    result: int = await (await db.execute(f"SELECT count(*) FROM {table}")).get
    return result


async def values(db: Db) -> list[Any]:
    """Column ``x`` of table ``t``, in insertion order."""
    return [x async for (x,) in db.execute("SELECT x FROM t ORDER BY rowid")]


class WorkerGate:
    """Holds a connection's worker thread inside a request until opened."""

    def __init__(self) -> None:
        self._opened = threading.Event()

    def hold(self, conn: apsw.Connection) -> str:
        if not self._opened.wait(GUARD):
            raise RuntimeError("the gate was never opened")
        return "released"

    def open(self) -> None:
        self._opened.set()


class EndlessCallback:
    """An async SQL function that waits for ever and records how it ended.

    An object with an async ``__call__``: registering it also checks that
    aiolite treats such objects as the async callbacks they are.
    """

    def __init__(self, fw: Framework) -> None:
        self._fw = fw
        self.entered = fw.event()
        self.saw_cancellation = False
        self.exited = False

    async def __call__(self, x: int) -> int:
        self.entered.set()
        try:
            await self._fw.sleep(3600)
        except self._fw.cancelled_error:
            self.saw_cancellation = True
            raise
        finally:
            self.exited = True
        return x
