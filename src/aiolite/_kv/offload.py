"""The KV store's large values: read, encoded and decoded in a pool worker thread.

A value whose stored form is longer than :data:`~aiolite._kv.codec.LARGE`
costs more than the engine's inline budget to decode or encode, and reading
it from SQLite (megabytes copied into a Python object) more still; on the
loop thread that would stall every other task. So that work runs here, in a
worker thread of one of the pool's connections: a reader's, checked out
for the one request (so it never runs as a proven tiny read on the loop
thread), or the writer's inside this task's ``pool.writer()`` block (whose
uncommitted changes a reader would not see).

A worker still needs the GIL to build Python objects, and orjson and the
standard library hold it for a whole parse; so a large dict or list is coded
one top-level entry at a time (:mod:`aiolite._kv.pieces`), letting the
interpreter hand the GIL to the loop's thread in between. SQLite's own I/O
runs without the GIL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from .._pool import core_of_pool

if TYPE_CHECKING:
    import apsw

    from .._pool import Pool
    from .codec import Codec

P = ParamSpec("P")
R = TypeVar("R")


async def in_worker(
    pool: Pool[Any],
    fn: Callable[Concatenate[apsw.Connection, P], R],
    *args: P.args,
    **kwargs: P.kwargs,
) -> R:
    """``fn(sync_connection, *args)`` in a worker thread of ``pool`` (never on the loop's)."""
    return await core_of_pool(pool).call(fn, *args, **kwargs)


def decode(conn: apsw.Connection, codec: Codec, stored: str | bytes) -> Any:
    return codec.decode(stored)


def encode(conn: apsw.Connection, codec: Codec, value: Any) -> str | bytes:
    return codec.encode(value)


def encode_all(conn: apsw.Connection, codec: Codec, values: list[Any]) -> list[str | bytes]:
    return [codec.encode(value) for value in values]


def read_one(
    conn: apsw.Connection, sql: str, key: str, codec: Codec
) -> tuple[bool, str | bytes | None, Any]:
    """``(found, stored, value)`` of the one row ``sql`` selects for ``key``."""
    rows = conn.execute(sql, (key,)).fetchall()
    if not rows:
        return False, None, None
    stored: Any = rows[0][0]
    return True, stored, codec.decode(stored)


def read_all(conn: apsw.Connection, sql: str, codec: Codec) -> list[tuple[Any, Any, Any]]:
    """``(key, stored, value)`` of every row of ``sql`` (which selects key and value)."""
    decode = codec.decode
    return [(key, stored, decode(stored)) for key, stored in conn.execute(sql)]
