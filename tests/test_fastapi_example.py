"""examples/fastapi_app.py: under concurrent requests through httpx's ASGI transport, and
served for real by uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import importlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.frameworks import Framework

fastapi = pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AIOLITE_EXAMPLE_DB", str(tmp_path / "app.db"))
    return importlib.import_module("examples.fastapi_app")


@pytest.mark.frameworks("asyncio")
async def test_concurrent_requests(fw: Framework, example: Any) -> None:
    app = example.app
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            created = await asyncio.gather(
                *(client.post("/users", json={"id": i, "name": f"user {i}"}) for i in range(100))
            )
            assert [r.status_code for r in created] == [200] * 100
            visited = await asyncio.gather(*(client.post(f"/users/{i}/visits") for i in range(50)))
            assert all(r.status_code == 200 for r in visited)
            got = await asyncio.gather(*(client.get(f"/users/{i}") for i in range(100)))
            assert all(r.status_code == 200 for r in got)
            assert got[42].json() == {"user": {"id": 42, "name": "user 42"}, "visits": 1}
            assert got[77].json()["visits"] == 0
            assert (await client.get("/users/nobody")).status_code == 404
            assert (await client.post("/users/nobody/visits")).status_code == 404
            assert (await client.post("/users", json={"name": "no id"})).status_code == 422
            assert (await client.delete("/users/7")).status_code == 200
            assert (await client.delete("/users/7")).status_code == 404
            stats = (await client.get("/stats")).json()
            assert (stats["users"], stats["visits"]) == (99, 50)
            assert stats["commits"] < stats["writes"]  # concurrent requests were group-committed


@pytest.mark.frameworks("asyncio")
async def test_get_does_not_write(fw: Framework, example: Any) -> None:
    """A GET leaves the database as it was: no visit, no commit."""
    app = example.app
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await client.post("/users", json={"id": 1})
            before = (await client.get("/stats")).json()
            for _ in range(3):
                assert (await client.get("/users/1")).json()["visits"] == 0
            after = (await client.get("/stats")).json()
            assert after == before


@pytest.fixture
def served(example: Any) -> Iterator[str]:
    """The example app served by a real uvicorn in a thread, on a free port of 127.0.0.1.

    The socket is bound and listening before the server starts, so a request
    made at once waits in the kernel's backlog until uvicorn (and the app's
    lifespan) is up: no polling for readiness.
    """
    uvicorn = pytest.importorskip("uvicorn")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(example.app, lifespan="on", log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not shut down"


def test_served_by_uvicorn(served: str) -> None:
    with httpx.Client(base_url=served, timeout=httpx.Timeout(10.0)) as client:
        assert client.post("/users", json={"id": "ada", "name": "Ada"}).status_code == 200
        assert client.post("/users/ada/visits").json() == {"visit": 1}
        assert client.get("/users/ada").json() == {
            "user": {"id": "ada", "name": "Ada"},
            "visits": 1,
        }
        assert client.get("/users/bob").status_code == 404
        assert client.get("/stats").json()["users"] == 1
