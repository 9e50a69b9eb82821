"""Layer 2: find out which framework is running and give the engine its adapter.

Detection happens once, when a connection opens: trio if a trio run is active
in this thread (anyio's trio backend included), otherwise the running asyncio
loop (uvloop and anyio's asyncio backend included). trio is only looked at if
something has imported it, so asyncio programs never pay for it.

What the layers above may use of it: :func:`current_adapter` (the running
framework's :class:`FrameworkAdapter`: waits, timers, one-shot
:class:`Event` s, :class:`Timer` s, the current task) and
:func:`current_time`. The engine's side of the adapter is the engine's own
port (``aiolite._engine.AdapterPort``). The
``aiolite.aiosqlite`` module, asyncio-only by aiosqlite's contract, uses
the :mod:`asyncio_bridge` module (``from aiolite._frameworks import
asyncio_bridge``: futures, the running loop, settling a future from the
worker thread); it is not imported here, so ``import aiolite`` does not
load it.

asyncio itself is imported when a connection first opens, not with
``import aiolite``: an asyncio program has loaded it already, and a trio
program never needs it, so importing aiolite stays cheap.
"""

from __future__ import annotations

import sys

from ._base import Event, FrameworkAdapter, Timer

__all__ = [
    "Event",
    "FrameworkAdapter",
    "Timer",
    "current_adapter",
    "current_time",
]


def _in_trio() -> bool:
    trio = sys.modules.get("trio")
    return trio is not None and bool(trio.lowlevel.in_trio_run())


def current_adapter() -> FrameworkAdapter:
    """The adapter for the event loop running in this thread."""
    if _in_trio():
        from ._trio import TrioAdapter

        return TrioAdapter()
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            "aiolite needs a running event loop: call it from asyncio, uvloop, trio or anyio code"
        ) from None
    from ._asyncio import AsyncioAdapter

    return AsyncioAdapter(loop)


def current_time() -> float:
    """Now, on the running framework's clock: the clock ``aiolite.deadline`` uses.

    ``loop.time()`` under asyncio and uvloop, ``trio.current_time()`` under
    trio (anyio's ``current_time()`` is the same clock on either backend).
    """
    if _in_trio():
        import trio

        return trio.current_time()
    import asyncio

    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        raise RuntimeError("aiolite.current_time() needs a running event loop") from None
