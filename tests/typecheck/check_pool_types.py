"""Typed user programs for the pool, the KV store and the no-``await`` attributes; checked by
``mypy --strict`` (``make typecheck``), never run.

A pool's rows follow its ``row_factory`` the way a connection's do, and the
state flags a program branches on are plain values, so that a missing
``await`` is a type error rather than an always-true condition.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypedDict, assert_type

import aiolite


@dataclasses.dataclass
class User:
    id: int
    name: str


async def pool_of_users(path: str) -> None:
    opener = aiolite.open_pool(path, row_factory=User)
    assert_type(opener, aiolite.PoolOpener[User])
    async with opener as pool:
        assert_type(pool, aiolite.Pool[User])
        assert_type(await pool.fetchall("SELECT id, name FROM users"), list[User])
        assert_type(await pool.fetchone("SELECT id, name FROM users"), User | None)
        assert_type(await pool.fetchval("SELECT count(*) FROM users"), Any)
        async with pool.writer() as writer:
            assert_type(writer, aiolite.Connection[User])
            async for user in writer.execute("SELECT id, name FROM users"):
                assert_type(user.name, str)
        async with pool.reader() as reader:
            assert_type(reader, aiolite.Connection[User])
        assert_type(pool.writer_connection, aiolite.Connection[User])
    same = await aiolite.open_pool(path, row_factory=User)
    assert_type(same, aiolite.Pool[User])
    await same.close()


async def pool_of_dicts(path: str) -> None:
    async with aiolite.open_pool(path, row_factory=dict) as pool:
        assert_type(pool, aiolite.Pool[dict[str, Any]])
        assert_type(await pool.fetchall("SELECT 1 AS one"), list[dict[str, Any]])
        async with pool.writer() as writer:
            assert_type(writer, aiolite.Connection[dict[str, Any]])


async def pool_of_rows(path: str) -> None:
    async with aiolite.open_pool(path, row_factory=aiolite.Row) as pool:
        assert_type(await pool.fetchone("SELECT 1 AS one"), aiolite.Row | None)


async def default_pool(path: str) -> None:
    async with aiolite.open_pool(path, readers=2) as pool:
        assert_type(pool, aiolite.Pool[tuple[Any, ...]])
        assert_type(await pool.fetchall("SELECT 1"), list[tuple[Any, ...]])
        async with pool.writer() as writer:
            assert_type(writer, aiolite.Connection[tuple[Any, ...]])


async def kv_store(path: str) -> None:
    kv = await aiolite.KV(path)
    assert_type(kv, aiolite.KV[Any])
    assert_type(await kv.get("a"), Any | None)
    assert_type(kv.pool, aiolite.Pool[tuple[Any, ...]])
    await kv.close()


class Profile(TypedDict):
    name: str
    age: int


async def typed_kv_store(path: str) -> None:
    async with aiolite.KV[Profile](path) as kv:
        assert_type(kv, aiolite.KV[Profile])
        await kv.set("alice", {"name": "Alice", "age": 25})
        assert_type(await kv.get("alice"), Profile | None)
        assert_type(await kv.get("bob", "missing"), Profile | str)
        assert_type(await kv.values(), list[Profile])
        assert_type(await kv.items(), list[tuple[str, Profile]])
        await kv.update(carol={"name": "Carol", "age": 30})
        await kv.set("dave", {"name": "Dave"})  # type: ignore[typeddict-item]
        await kv.set("erin", 42)  # type: ignore[arg-type]


async def plain_flags(path: str) -> None:
    async with aiolite.connect(path) as db:
        assert_type(db.in_transaction, bool)
        if db.in_transaction:  # a bool: no await, and nothing for a checker to flag
            await db.execute("ROLLBACK")
        cursor = await db.execute("SELECT 1")
        assert_type(await cursor.get, Any)  # APSW's spelling
        assert_type(await cursor.get(), Any)  # the call most async libraries would use
        assert_type(await db.system_errno, int)
        assert_type(await db.system_errno(), int)


async def mistakes_the_checker_catches(path: str) -> None:
    async with aiolite.connect(path) as db:
        await db.in_transaction  # type: ignore[misc]
    with aiolite.connect(path):  # type: ignore[attr-defined]
        pass
    with aiolite.open_pool(path):  # type: ignore[attr-defined]
        pass
    aiolite.connect(path).execute("SELECT 1")  # type: ignore[attr-defined]
    aiolite.open_pool(path).fetchall("SELECT 1")  # type: ignore[attr-defined]
