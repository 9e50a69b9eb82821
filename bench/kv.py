"""aiolite's KV store against AsyncNanaSQLite, side by side in one run.

Each workload runs ``--runs`` times (3 by default) on fresh files and the
medians are compared. Both stores use WAL with ``synchronous=NORMAL`` (a
write that returned survives a process kill) and their default JSON codec
(orjson when installed).

* set, sequential: one ``await kv.set()`` after another.
* set, concurrent: all at once with ``asyncio.gather``.
* get, uncached: a freshly opened store, every key read once.
* get, cached: every key read again from a store whose cache holds it
  (aiolite: ``cache=True``; AsyncNanaSQLite caches by default).
* batch_update: one call with many items.

::

    python bench/kv.py [--quick] [--runs 3]
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _common import Result, main, rate, row

import aiolite


def value(i: int) -> dict[str, Any]:
    return {"id": i, "name": f"user {i}", "tags": ["a", "b"], "score": i * 0.5}


Store = Any  # aiolite.KV or AsyncNanaSQLite: the same method names


async def workloads(
    open_store: Callable[..., Awaitable[Store]], folder: str, n: int
) -> dict[str, float]:
    """ops/s of each workload for one library (``open_store(path, cached)``)."""
    out: dict[str, float] = {}
    path = os.path.join(folder, "kv.db")
    store = await open_store(path, False)
    try:
        out["set, sequential"] = await rate(n, lambda: _sequential_sets(store, n))
        out["set, concurrent"] = await rate(
            n, lambda: asyncio.gather(*(store.aset(f"c{i}", value(i)) for i in range(n)))
        )
        out["batch_update"] = await rate(
            n * 10, lambda: store.batch_update({f"b{i}": value(i) for i in range(n * 10)})
        )
    finally:
        await store.close()
    store = await open_store(path, False)
    try:
        out["get, uncached"] = await rate(n, lambda: _sequential_gets(store, n))
    finally:
        await store.close()
    store = await open_store(path, True)
    try:
        await _sequential_gets(store, n)  # fills the cache
        out["get, cached"] = await rate(n, lambda: _sequential_gets(store, n))
    finally:
        await store.close()
    return out


async def _sequential_sets(store: Store, n: int) -> None:
    for i in range(n):
        await store.aset(f"k{i}", value(i))


async def _sequential_gets(store: Store, n: int) -> None:
    for i in range(n):
        if await store.aget(f"k{i}") is None:
            raise AssertionError(f"k{i} is missing")


async def open_aiolite(path: str, cached: bool) -> Store:
    return await aiolite.KV(path, cache=cached)


async def open_nanasqlite(path: str, cached: bool) -> Store:
    from nanasqlite import AsyncNanaSQLite

    store: Any = AsyncNanaSQLite(path)
    await store.__aenter__()
    return store


async def run_async(quick: bool, runs: int) -> list[Result]:
    n = 1000 if quick else 5000
    ours: dict[str, list[float]] = {}
    theirs: dict[str, list[float]] = {}
    for _ in range(runs):
        for opener, into in ((open_aiolite, ours), (open_nanasqlite, theirs)):
            with tempfile.TemporaryDirectory(prefix="aiolite-bench-") as folder:
                for name, ops in (await workloads(opener, folder, n)).items():
                    into.setdefault(name, []).append(ops)
    return [
        row(
            f"KV {name} ({n * 10 if name == 'batch_update' else n} keys)",
            "AsyncNanaSQLite",
            ours[name],
            theirs[name],
        )
        for name in ours
    ]


def run(quick: bool = False, runs: int = 3) -> list[Result]:
    """The benchmark rows (``python -m aiolite bench`` may call this)."""
    return asyncio.run(run_async(quick, runs))


if __name__ == "__main__":
    main(run, __doc__ or "", "KV store: aiolite vs AsyncNanaSQLite")
