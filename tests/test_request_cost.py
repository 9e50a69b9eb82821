"""The Python a point query costs, pinned: a change that adds to it should be a choice.

Wall time on a shared machine is noise; the number of Python bytecodes
aiolite's own code executes per request is not. It is counted with
``sys.settrace`` opcode events on both threads (the loop's and the worker's)
for the request APSW's idiom makes, ``await (await db.execute(sql, args)).get``,
sent to the worker (``inline=False``: the path whose cost is all overhead).
Counts differ between Python versions, so the pin is for the CPython minor
version it was measured on.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import aiolite

pytestmark = pytest.mark.skipif(
    sys.implementation.name != "cpython" or sys.version_info[:2] != (3, 11),
    reason="bytecode counts are pinned for CPython 3.11",
)

PACKAGE = str(Path(aiolite.__file__).parent)
REQUESTS = 50

# aiolite's own bytecodes per sequential inline=False point query, loop + worker
# thread (asyncio): 922 before the request path was trimmed further (issue #15), 838 after.
MOST_BYTECODES = 870


def count_bytecodes(requests: int) -> dict[str, int]:
    counts = {"loop": 0, "worker": 0}
    counting = False
    main = threading.main_thread()

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        if counting and event == "opcode":
            counts["loop" if threading.current_thread() is main else "worker"] += 1
        return local

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        if not frame.f_code.co_filename.startswith(PACKAGE):
            return None
        frame.f_trace_opcodes = True
        return local

    async def run() -> None:
        nonlocal counting
        async with aiolite.connect(":memory:", inline=False) as db:
            for i in range(5):  # prepared and learned: the steady state
                assert await (await db.execute("SELECT ?", (i,))).get == i
            counting = True
            for i in range(requests):
                assert await (await db.execute("SELECT ?", (i,))).get == i
            counting = False

    previous = sys.gettrace()
    threading.settrace(tracer)  # the worker thread starts inside run()
    sys.settrace(tracer)
    try:
        asyncio.run(run())
    finally:
        sys.settrace(previous)
        threading.settrace(previous)  # type: ignore[arg-type]
    return counts


def test_a_point_query_runs_little_of_aiolites_own_python() -> None:
    counts = count_bytecodes(REQUESTS)
    per_request = (counts["loop"] + counts["worker"]) / REQUESTS
    assert counts["worker"] > 0  # the worker's side was counted too
    assert per_request <= MOST_BYTECODES, counts
