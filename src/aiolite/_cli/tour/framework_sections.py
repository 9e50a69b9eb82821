"""Tour sections that run under trio and anyio: the same connection code, their own timeouts.

The rest of the tour runs on asyncio; these show that aiolite adapts to
whichever framework awaits it, and that each framework's own cancellation
(``trio.fail_after``, ``anyio.fail_after``) stops the query inside SQLite.
They take no folder: everything they need is in memory.
"""

from __future__ import annotations

import aiolite

from ..endless import ENDLESS_QUERY
from .printing import step


async def on_trio() -> None:
    import trio

    async with aiolite.connect(":memory:") as db:
        step("under trio the framework is", db.framework)
        started = trio.current_time()
        try:
            with trio.fail_after(0.2):
                await db.execute(ENDLESS_QUERY)
        except trio.TooSlowError:
            step(
                "trio.fail_after(0.2) -> trio.TooSlowError "
                f"after {trio.current_time() - started:.3f} s"
            )
        try:
            with aiolite.contextvar_set(aiolite.deadline, aiolite.current_time() + 0.1):
                await db.execute(ENDLESS_QUERY)
        except trio.TooSlowError as exc:
            step(
                "aiolite.deadline under trio raises an error that is both",
                (isinstance(exc, trio.TooSlowError), isinstance(exc, TimeoutError)),
            )


async def on_anyio() -> None:
    import anyio

    async with aiolite.connect(":memory:") as db:
        try:
            with anyio.fail_after(0.2):
                await db.execute(ENDLESS_QUERY)
        except TimeoutError:
            step(
                f"anyio.fail_after(0.2) on {db.framework}: TimeoutError; next query",
                await (await db.execute("SELECT 'ok'")).get,
            )
