"""A FastAPI service on one SQLite file: a KV store and its pool, opened by the lifespan.

Run it with ``uvicorn examples.fastapi_app:app`` (several ``--workers`` are
fine: each process has its own pool, and writes from all of them are
serialised by SQLite's lock with busy waits, never "database is locked").
The database path comes from ``AIOLITE_EXAMPLE_DB`` (default ``app.db``).

The idiom is FastAPI's own: the lifespan opens what lives as long as the
app (the KV store and its pool) and closes it after the last request;
endpoints receive it through ``Annotated[..., Depends(...)]`` parameters, so
a test can override them; a dependency with ``yield`` hands one request a
reader connection for several reads on one snapshot. GETs only read.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request

import aiolite


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    path = os.environ.get("AIOLITE_EXAMPLE_DB", "app.db")
    async with aiolite.KV(path, table="users", readers=4) as kv:
        await kv.pool.execute(  # the same database, for SQL of our own
            "CREATE TABLE IF NOT EXISTS visits(id INTEGER PRIMARY KEY, user_id TEXT NOT NULL)"
        )
        app.state.kv = kv
        yield
    # leaving the block closed the KV store and its pool, after the work in flight


app = FastAPI(lifespan=lifespan)


def get_kv(request: Request) -> aiolite.KV:
    kv: aiolite.KV = request.app.state.kv
    return kv


def get_pool(kv: Annotated[aiolite.KV, Depends(get_kv)]) -> aiolite.Pool:
    return kv.pool


async def get_reader(
    pool: Annotated[aiolite.Pool, Depends(get_pool)],
) -> AsyncIterator[aiolite.Connection]:
    """One reader connection for the request: its reads see one snapshot."""
    async with pool.reader() as db:
        yield db


KVDep = Annotated[aiolite.KV, Depends(get_kv)]
PoolDep = Annotated[aiolite.Pool, Depends(get_pool)]
ReaderDep = Annotated[aiolite.Connection, Depends(get_reader)]


@app.post("/users")
async def create_user(user: dict[str, Any], kv: KVDep) -> dict[str, Any]:
    if not isinstance(user.get("id"), str | int):
        raise HTTPException(422, "a user needs an 'id'")
    await kv.set(f"user_{user['id']}", user)  # group-committed with other requests
    return {"status": "created", "id": user["id"]}


@app.get("/users/{user_id}")
async def get_user(user_id: str, kv: KVDep, pool: PoolDep) -> dict[str, Any]:
    user = await kv.get(f"user_{user_id}")
    if user is None:
        raise HTTPException(404, "user not found")
    visits = await pool.fetchval("SELECT count(*) FROM visits WHERE user_id = ?", (user_id,))
    return {"user": user, "visits": visits}


@app.post("/users/{user_id}/visits")
async def record_visit(user_id: str, kv: KVDep, pool: PoolDep) -> dict[str, Any]:
    if not await kv.contains(f"user_{user_id}"):
        raise HTTPException(404, "user not found")
    result = await pool.execute("INSERT INTO visits(user_id) VALUES (?) RETURNING id", (user_id,))
    return {"visit": result.rows[0][0]}


@app.delete("/users/{user_id}")
async def delete_user(user_id: str, kv: KVDep) -> dict[str, str]:
    try:
        await kv.delete(f"user_{user_id}")
    except KeyError:
        raise HTTPException(404, "user not found") from None
    return {"status": "deleted"}


@app.get("/stats")
async def stats(db: ReaderDep, pool: PoolDep) -> dict[str, Any]:
    users = await (await db.execute("SELECT count(*) FROM users")).get
    visits = await (await db.execute("SELECT count(*) FROM visits")).get
    s = pool.stats()
    return {"users": users, "visits": visits, "commits": s.commits, "writes": s.writes}
