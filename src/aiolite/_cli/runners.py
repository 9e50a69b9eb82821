"""Running an async function under each framework aiolite supports, by name.

The tour, ``python -m aiolite bench`` and the test suite all run the same
code under several event loops; this is the one place that knows how. A
framework is named as the tests and ``bench --framework`` name it:
``asyncio``, ``uvloop`` (asyncio's API on libuv's loop), ``trio``, and anyio
on either of its backends, ``anyio-asyncio`` and ``anyio-trio``.

Only asyncio is always there. Every other framework is imported when it is
first used, so the tour runs with nothing else installed and
:func:`installed` says what can be run.

>>> async def answer() -> int:
...     return 42
>>> run("asyncio", answer)
42
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Literal, TypeVar

from .._errors import missing_extra

T = TypeVar("T")

FRAMEWORKS: tuple[str, ...] = ("asyncio", "uvloop", "trio", "anyio-asyncio", "anyio-trio")
"""Every framework name, in the order the tour, the bench and the tests report them."""

TRIO_BASED: tuple[str, ...] = ("trio", "anyio-trio")
"""The names that run on trio's loop (the rest run on an asyncio loop)."""

_NEEDS: dict[str, tuple[str, ...]] = {
    "asyncio": (),
    "uvloop": ("uvloop",),
    "trio": ("trio",),
    "anyio-asyncio": ("anyio",),
    "anyio-trio": ("anyio", "trio"),
}

Job = Callable[[], Coroutine[Any, Any, Any]]
"""A task to start: an ``async def`` function of no arguments."""


def installed(framework: str) -> bool:
    """Whether every package ``framework`` needs is installed (without importing any)."""
    return all(importlib.util.find_spec(name) is not None for name in _NEEDS[framework])


def require(framework: str) -> None:
    """Import what ``framework`` needs, or fail naming the extra that installs it.

    Each package is its own extra (``aiolite[trio]``, ``aiolite[uvloop]``,
    ``aiolite[anyio]``), so the error says exactly what to ``pip install``.
    """
    for package in _NEEDS[framework]:
        try:
            importlib.import_module(package)
        except ModuleNotFoundError as error:
            if error.name != package:
                raise
            raise missing_extra(f"running under {framework}", package, package) from error


def loop_of(framework: str) -> Literal["asyncio", "trio"]:
    """Whose event loop runs underneath: what aiolite itself detects and adapts to."""
    return "trio" if framework in TRIO_BASED else "asyncio"


def run(framework: str, function: Callable[[], Awaitable[T]]) -> T:
    """Run ``function()`` to completion on a fresh event loop of ``framework``; its result."""

    async def main() -> T:
        return await function()

    if framework == "asyncio":
        return asyncio.run(main())
    if framework not in _NEEDS:
        raise ValueError(f"unknown framework {framework!r}; one of {', '.join(FRAMEWORKS)}")
    require(framework)
    if framework == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main())
    if framework == "trio":
        import trio

        result: T = trio.run(main)
        return result
    import anyio

    outcome: T = anyio.run(main, backend=framework.removeprefix("anyio-"))
    return outcome


async def sleep(framework: str, seconds: float) -> None:
    """The framework's own ``sleep`` (anyio's under anyio, so its checkpoints are anyio's)."""
    if framework.startswith("anyio"):
        import anyio

        await anyio.sleep(seconds)
    elif framework == "trio":
        import trio

        await trio.sleep(seconds)
    else:
        await asyncio.sleep(seconds)


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
