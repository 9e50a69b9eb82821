"""A FastAPI service on one SQLite file: a KV store and a pool, opened by the lifespan.

Run it with ``uvicorn examples.fastapi_app:app`` (several ``--workers`` are
fine: each process has its own pool, and writes from all of them are
serialised by SQLite's lock with busy waits, never "database is locked").
The database path comes from ``AIOLITE_EXAMPLE_DB`` (default ``app.db``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request

import aiolite


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    path = os.environ.get("AIOLITE_EXAMPLE_DB", "app.db")
    async with aiolite.KV(path, table="users", readers=4) as kv:
        pool = kv.pool  # the same database, for SQL of our own
        await pool.execute(
            "CREATE TABLE IF NOT EXISTS visits(id INTEGER PRIMARY KEY, user_id TEXT NOT NULL)"
        )
        app.state.kv = kv
        app.state.pool = pool
        yield
    # leaving the block closed the KV store and its pool, after work in flight


app = FastAPI(lifespan=lifespan)


def kv_of(request: Request) -> aiolite.KV:
    kv: aiolite.KV = request.app.state.kv
    return kv


@app.post("/users")
async def create_user(user: dict[str, Any], request: Request) -> dict[str, Any]:
    if not isinstance(user.get("id"), str | int):
        raise HTTPException(422, "a user needs an 'id'")
    await kv_of(request).set(f"user_{user['id']}", user)  # group-committed with other requests
    return {"status": "created", "id": user["id"]}


@app.get("/users/{user_id}")
async def get_user(user_id: str, request: Request) -> dict[str, Any]:
    user = await kv_of(request).get(f"user_{user_id}")
    if user is None:
        raise HTTPException(404, "user not found")
    pool: aiolite.Pool = request.app.state.pool
    await pool.execute("INSERT INTO visits(user_id) VALUES (?)", (user_id,))
    visits = await pool.fetchval("SELECT count(*) FROM visits WHERE user_id = ?", (user_id,))
    return {"user": user, "visits": visits}


@app.delete("/users/{user_id}")
async def delete_user(user_id: str, request: Request) -> dict[str, str]:
    try:
        await kv_of(request).delete(f"user_{user_id}")
    except KeyError:
        raise HTTPException(404, "user not found") from None
    return {"status": "deleted"}


@app.get("/stats")
async def stats(request: Request) -> dict[str, Any]:
    pool: aiolite.Pool = request.app.state.pool
    s = pool.stats()
    return {"users": await kv_of(request).len(), "commits": s.commits, "writes": s.writes}
