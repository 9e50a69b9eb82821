"""A task writing to the KV store in a loop never starves the event loop.

Inline writes (``kv.set``/``kv.delete`` committed on the loop thread) never
suspend. Found by the shutdown stress scenario: a task doing ``while True:
await kv.set(...)`` held the loop for good, so no other task ran, and the
task itself could not be cancelled (a timeout, the end of ``asyncio.run``,
Ctrl+C): the program hung. The KV now yields once after 2 ms of inline
writes in a row, before the next write, so a cancellation there leaves that
write undone.
"""

from __future__ import annotations

import time
from pathlib import Path

import aiolite
from tests.frameworks import Framework

LOOP_SECONDS = 8.0
"""How long the writing loop runs if nothing stops it (a hang, bounded)."""


async def test_a_set_loop_lets_other_tasks_run(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.KV(tmp_path / "kv.db") as kv:
        writing, other_ran = fw.event(), fw.event()
        writes = 0

        async def write_until_the_other_task_runs() -> None:
            nonlocal writes
            end = time.monotonic() + LOOP_SECONDS
            while not other_ran.is_set() and time.monotonic() < end:
                await kv.set(f"key {writes % 10}", writes)
                writes += 1
                writing.set()

        async def other() -> None:
            await writing.wait()  # runs only if the writing loop lets the loop go round
            other_ran.set()

        started = time.monotonic()
        async with fw.task_group() as group:
            group.start_soon(write_until_the_other_task_runs)
            group.start_soon(other)
        seconds = time.monotonic() - started
        assert other_ran.is_set()
        assert seconds < LOOP_SECONDS / 2, f"the other task waited {seconds:.2f} s"
        assert kv.inline_writes > 0, "no write ran inline: the test shows nothing"
        assert await kv.get(f"key {(writes - 1) % 10}") == writes - 1


async def test_a_set_loop_can_be_cancelled_and_leaves_whole_writes(
    fw: Framework, tmp_path: Path
) -> None:
    async with aiolite.KV(tmp_path / "kv.db") as kv:
        acknowledged = 0
        started = time.monotonic()
        try:
            async with fw.fail_after(0.2):
                end = time.monotonic() + LOOP_SECONDS
                while time.monotonic() < end:
                    await kv.set(f"key {acknowledged}", acknowledged)
                    acknowledged += 1
        except fw.timeout_error:
            pass
        seconds = time.monotonic() - started
        assert seconds < LOOP_SECONDS / 2, f"the timeout fired after {seconds:.2f} s"
        assert kv.inline_writes > 0
        # Every write that returned is there; the one cancelled before it ran is not.
        assert await kv.len() == acknowledged
        assert await kv.get(f"key {acknowledged - 1}") == acknowledged - 1
        await kv.set("after", True)
        assert await kv.get("after") is True
