"""examples/fastapi_app.py under concurrent requests, through httpx's ASGI transport."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.frameworks import Framework

fastapi = pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")


@pytest.mark.frameworks("asyncio")
async def test_concurrent_requests(
    fw: Framework, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOLITE_EXAMPLE_DB", str(tmp_path / "app.db"))
    from examples.fastapi_app import app

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            created = await asyncio.gather(
                *(client.post("/users", json={"id": i, "name": f"user {i}"}) for i in range(100))
            )
            assert [r.status_code for r in created] == [200] * 100
            got = await asyncio.gather(*(client.get(f"/users/{i}") for i in range(100)))
            assert all(r.status_code == 200 for r in got)
            assert got[42].json() == {"user": {"id": 42, "name": "user 42"}, "visits": 1}
            assert (await client.get("/users/nobody")).status_code == 404
            assert (await client.post("/users", json={"name": "no id"})).status_code == 422
            assert (await client.delete("/users/7")).status_code == 200
            assert (await client.delete("/users/7")).status_code == 404
            stats = (await client.get("/stats")).json()
            assert stats["users"] == 99
            assert stats["commits"] < stats["writes"]  # concurrent requests were group-committed
