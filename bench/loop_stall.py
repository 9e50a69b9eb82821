"""How long single operations hold the event loop: the worst lag a ticker task sees.

A ticker task sleeps 1 ms in a loop and records how late each wake-up
comes; while one operation runs, its worst lateness is how long that
operation (or whatever it waits on while holding the GIL) kept every other
task from running. Measured, on asyncio, for:

* KV cached get of a 1 MiB dict (``cache=True``: no SQLite read at all),
* KV get of a large value (100 MiB; ``--quick``: 4 MiB) from a fresh store,
* KV set of that value with inline writes on (the default),
* ``blob.aclose()`` after writing a blob that large through aiolite's blob
  API (the close commits it),
* for reference, the JSON parse of the large value alone, in a plain
  thread (``to_thread``): what any thread doing that work costs the loop,
  since the parse holds the GIL.

Each is run ``--runs`` times on a fresh file; the table shows the median and
the largest of the worst lags, and the median time of the operation itself.
It measures whatever aiolite ``import aiolite`` finds, so two trees compare
with ``PYTHONPATH``::

    python bench/loop_stall.py [--quick] [--mib 100] [--runs 3]
    PYTHONPATH=/path/to/other/src python bench/loop_stall.py --mib 20

Wall-clock figures: on a busy machine, run it more than once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import aiolite
from aiolite._cli.markdown import table

TICK = 0.001
_CHUNK = 1 << 20


class Ticker:
    """A task that wakes every ``TICK`` seconds and keeps its worst lateness."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._stop = False
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0.01)  # ticking before the operation starts
        self.worst = 0.0
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop = True
        assert self._task is not None
        await self._task

    async def _run(self) -> None:
        while not self._stop:
            before = time.perf_counter()
            await asyncio.sleep(TICK)
            self.worst = max(self.worst, time.perf_counter() - before - TICK)


async def lag(operation: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """(worst loop lag, duration) of one run of ``operation``, in seconds."""
    async with Ticker() as ticker:
        started = time.perf_counter()
        await operation()
        took = time.perf_counter() - started
    return ticker.worst, took


def document(size: int) -> dict[str, str]:
    """A JSON object of about ``size`` bytes: 1 KiB strings under short keys."""
    line = "lorem ipsum 0123456789 dolor sit amet, " * 26  # ~1 KiB, some digits
    return {f"row{i:08}": f"{i} {line}" for i in range(max(1, size // (len(line) + 20)))}


async def kv_cached_get(folder: str, value: Any) -> tuple[float, float]:
    async with aiolite.KV(os.path.join(folder, "cached.db"), cache=True) as kv:
        await kv.set("doc", value)
        await kv.get("doc")
        return await lag(lambda: kv.get("doc"))


async def kv_get(folder: str, value: Any) -> tuple[float, float]:
    path = os.path.join(folder, "get.db")
    async with aiolite.KV(path, inline=False) as kv:
        await kv.set("big", value)
    async with aiolite.KV(path) as kv:
        await kv.get("small")  # the read statement learned, as in a running app
        return await lag(lambda: kv.get("big"))


async def kv_inline_set(folder: str, value: Any) -> tuple[float, float]:
    async with aiolite.KV(os.path.join(folder, "set.db")) as kv:
        await kv.set("small", 1)  # an inline write, as in a running app
        return await lag(lambda: kv.set("big", value))


async def blob_close(folder: str, size: int) -> tuple[float, float]:
    async with aiolite.connect(os.path.join(folder, "blob.db")) as db:
        await db.execute("CREATE TABLE files(data BLOB)")
        await db.execute("INSERT INTO files VALUES (zeroblob(?))", (size,))
        blob = await db.blob_open("main", "files", "data", 1, True)
        chunk = b"\xa5" * _CHUNK
        for offset in range(0, size, _CHUNK):
            await blob.write(chunk[: min(_CHUNK, size - offset)])
        return await lag(blob.aclose)


async def parse_in_thread(text: str) -> tuple[float, float]:
    try:
        import orjson

        loads: Callable[[str], Any] = orjson.loads
    except ImportError:  # pragma: no cover
        loads = json.loads
    return await lag(lambda: asyncio.to_thread(loads, text))


async def measure(mib: float, runs: int) -> list[list[str]]:
    size = int(mib * (1 << 20))
    small, large = document(1 << 20), document(size)
    text = json.dumps(large, separators=(",", ":"))
    label = f"{len(text) / (1 << 20):.0f} MiB"
    cases: list[tuple[str, Callable[[str], Awaitable[tuple[float, float]]]]] = [
        ("KV cached get, 1 MiB dict", lambda folder: kv_cached_get(folder, small)),
        (f"KV get, {label} dict", lambda folder: kv_get(folder, large)),
        (f"KV inline set, {label} dict", lambda folder: kv_inline_set(folder, large)),
        (f"blob.aclose() after writing {mib:g} MiB", lambda folder: blob_close(folder, size)),
        (f"(reference) orjson.loads of {label} in a thread", lambda _: parse_in_thread(text)),
    ]
    rows = []
    for name, case in cases:
        lags, times = [], []
        for _ in range(runs):
            with tempfile.TemporaryDirectory(prefix="aiolite-stall-") as folder:
                worst, took = await case(folder)
            lags.append(worst * 1000)
            times.append(took * 1000)
        rows.append(
            [
                name,
                f"{statistics.median(lags):,.1f}",
                f"{max(lags):,.1f}",
                f"{statistics.median(times):,.1f}",
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 4 MiB large value")
    parser.add_argument("--mib", type=float, default=None, help="large value size (default 100)")
    parser.add_argument("--runs", type=int, default=3, help="runs per operation")
    args = parser.parse_args()
    mib = args.mib if args.mib is not None else (4.0 if args.quick else 100.0)
    rows = asyncio.run(measure(mib, args.runs))
    where = Path(aiolite.__file__).parent.parent
    header = ["operation", "worst lag ms (median)", "worst lag ms (max)", "operation ms"]
    print(f"### Event-loop stalls (aiolite from {where})\n")
    print(table(header, rows, left=1))


if __name__ == "__main__":
    main()
