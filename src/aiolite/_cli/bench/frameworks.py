"""Running one async benchmark function under each event loop the libraries support."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

FRAMEWORKS = ("asyncio", "uvloop", "trio", "anyio-asyncio", "anyio-trio")


def available(framework: str) -> bool:
    """Whether the packages ``framework`` needs are installed."""
    needs = {
        "asyncio": [],
        "uvloop": ["uvloop"],
        "trio": ["trio"],
        "anyio-asyncio": ["anyio"],
        "anyio-trio": ["anyio", "trio"],
    }[framework]
    return all(importlib.util.find_spec(name) is not None for name in needs)


def run(framework: str, function: Callable[[], Awaitable[T]]) -> T:
    """Run ``function()`` to completion on a fresh event loop of ``framework``."""

    async def main() -> T:
        return await function()

    if framework == "asyncio":
        return asyncio.run(main())
    if framework == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main())
    if framework == "trio":
        import trio

        result: T = trio.run(main)
        return result
    import anyio

    backend = framework.removeprefix("anyio-")
    outcome: T = anyio.run(main, backend=backend)
    return outcome


async def sleep(framework: str, seconds: float) -> None:
    if framework.startswith("anyio"):
        import anyio

        await anyio.sleep(seconds)
    elif framework == "trio":
        import trio

        await trio.sleep(seconds)
    else:
        await asyncio.sleep(seconds)


Job = Callable[[], Coroutine[Any, Any, Any]]


async def gather(framework: str, jobs: list[Job]) -> None:
    """Start every job as its own task at once and wait for all: ``asyncio.gather`` and kin."""
    if framework in ("asyncio", "uvloop"):
        await asyncio.gather(*(job() for job in jobs))
    elif framework == "trio":
        import trio

        async with trio.open_nursery() as nursery:
            for job in jobs:
                nursery.start_soon(job)
    else:
        import anyio

        async with anyio.create_task_group() as group:
            for job in jobs:
                group.start_soon(job)


async def in_background(framework: str, job: Job, watcher: Callable[[], Awaitable[T]]) -> T:
    """Run ``watcher`` while ``job`` runs; return ``watcher``'s result once both end."""
    results: list[T] = []

    async def watch() -> None:
        results.append(await watcher())

    await gather(framework, [job, watch])
    return results[0]
