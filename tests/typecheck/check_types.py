"""Pins the public types with ``typing.assert_type``; checked by ``mypy --strict``, never run.

The row type of every cursor follows the connection's ``row_factory``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple, assert_type

import apsw

import aiolite


@dataclasses.dataclass
class User:
    id: int
    name: str


class Point(NamedTuple):
    x: int
    y: int


def label(names: tuple[str, ...], values: tuple[Any, ...]) -> str:
    return ", ".join(names)


def count_rows(conn: apsw.Connection, table: str, *, limit: int = 10) -> int:
    return 0


def describe(conn: apsw.Connection) -> list[str]:
    return []


async def default_rows(path: str) -> None:
    assert_type(aiolite.connect(path), aiolite.Connector[tuple[Any, ...]])
    db = await aiolite.connect(path)
    assert_type(db, aiolite.Connection[tuple[Any, ...]])
    async with aiolite.connect(path) as same:
        assert_type(same, aiolite.Connection[tuple[Any, ...]])

    assert_type(db.execute("SELECT 1"), aiolite.PendingCursor[tuple[Any, ...]])
    cursor = await db.execute("SELECT x FROM t WHERE x = ?", (1,))
    assert_type(cursor, aiolite.Cursor[tuple[Any, ...]])
    assert_type(await cursor.fetchone(), tuple[Any, ...] | None)
    assert_type(await cursor.fetchmany(10), list[tuple[Any, ...]])
    assert_type(await cursor.fetchall(), list[tuple[Any, ...]])
    assert_type(cursor.description, aiolite.Description | None)
    async for row in db.execute("SELECT x, y FROM t"):
        assert_type(row, tuple[Any, ...])
    async for row in cursor:
        assert_type(row, tuple[Any, ...])
    async with db.execute("SELECT 1") as scoped:
        assert_type(scoped, aiolite.Cursor[tuple[Any, ...]])
    many = db.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
    assert_type(many, aiolite.PendingCursor[tuple[Any, ...]])
    assert_type(await many, aiolite.Cursor[tuple[Any, ...]])
    await db.close()


async def row_rows(path: str) -> None:
    async with aiolite.connect(path, row_factory=aiolite.Row) as db:
        assert_type(db, aiolite.Connection[aiolite.Row])
        async for row in db.execute("SELECT 1 AS id"):
            assert_type(row, aiolite.Row)
            assert_type(row.keys(), tuple[str, ...])
            assert_type(row.as_dict(), dict[str, Any])
        cursor = await db.execute("SELECT 1 AS id")
        assert_type(await cursor.fetchone(), aiolite.Row | None)
        assert_type(await cursor.fetchall(), list[aiolite.Row])


async def dict_rows(path: str) -> None:
    async with aiolite.connect(path, row_factory=dict) as db:
        assert_type(db, aiolite.Connection[dict[str, Any]])
        async for row in db.execute("SELECT 1 AS id"):
            assert_type(row, dict[str, Any])
        cursor = await db.execute("SELECT 1 AS id")
        assert_type(await cursor.fetchone(), dict[str, Any] | None)


async def dataclass_rows(path: str) -> None:
    connector = aiolite.connect(path, row_factory=User, prefetch=16, max_batch=256)
    assert_type(connector, aiolite.Connector[User])
    async with connector as db:
        assert_type(db, aiolite.Connection[User])
        async for user in db.execute("SELECT id, name FROM users"):
            assert_type(user, User)
            assert_type(user.name, str)
        cursor = await db.execute("SELECT id, name FROM users")
        assert_type(await cursor.fetchone(), User | None)
        assert_type(await cursor.fetchmany(2), list[User])


async def other_factories(path: str) -> None:
    async with aiolite.connect(path, row_factory=Point) as points:
        async for point in points.execute("SELECT 1, 2"):
            assert_type(point, Point)
    async with aiolite.connect(path, row_factory=label) as labels:
        async for text in labels.execute("SELECT 1 AS a"):
            assert_type(text, str)


async def connection_methods(path: str) -> None:
    async with aiolite.connect(path) as db:
        assert_type(await db.changes(), int)
        assert_type(await db.total_changes(), int)
        assert_type(await db.last_insert_rowid(), int)
        assert_type(db.in_transaction, bool)
        assert_type(await db.pragma("journal_mode"), Any)
        assert_type(await db.run(count_rows, "t"), int)
        assert_type(await db.run(count_rows, "t", limit=5), int)
        assert_type(await db.run(describe), list[str])
        assert_type(db.transaction("immediate"), aiolite.Transaction)
        async with db:
            pass
        async with db.transaction("exclusive"):
            pass
        assert_type(db.filename, str)
        assert_type(db.closed, bool)
        assert_type(await db.close(), None)


async def mistakes_the_checker_catches(path: str) -> None:
    async with aiolite.connect(path) as db:
        await db.run(count_rows, 1)  # type: ignore[arg-type]
        await db.run(count_rows, "t", limit="5")  # type: ignore[arg-type]
        db.transaction("later")  # type: ignore[arg-type]
        await db.execute(b"SELECT 1")  # type: ignore[arg-type]
    aiolite.connect(path, colour="blue")  # type: ignore[call-overload]
    aiolite.connect(path, prefetch="many")  # type: ignore[call-overload]
