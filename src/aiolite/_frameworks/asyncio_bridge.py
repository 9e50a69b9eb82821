"""The asyncio operations :mod:`aiolite.aiosqlite` needs, and nothing else.

aiosqlite's API is asyncio's by nature: ``Connection.stop()`` returns an
``asyncio.Future``, SQLAlchemy's dialect hands the worker a future of its own
loop through aiosqlite's private ``_tx.put_nowait((future, function))``, and
a connection may be awaited from another asyncio loop than the one that
opened it. So the module really does need asyncio futures and the running
loop; this is where it gets them, so that no layer above the framework
adapters imports asyncio (issue #13). Everything else the module does goes
through the engine and its framework adapter, which is why it also runs
under trio and anyio.
"""

from __future__ import annotations

import asyncio
from asyncio import AbstractEventLoop as EventLoop
from asyncio import Future
from contextlib import suppress
from typing import Any, TypeVar

__all__ = ["EventLoop", "Future", "new_future", "running_loop", "settle_threadsafe"]

T = TypeVar("T")


def running_loop() -> EventLoop | None:
    """The asyncio loop running in this thread, or None (no loop, or a trio run)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def new_future(loop: EventLoop | None = None) -> Future[T]:
    """A pending future of ``loop``, by default of the running loop.

    Without a loop given or running it raises asyncio's own ``RuntimeError``
    ("no running event loop"), as ``asyncio.get_running_loop()`` does.
    """
    if loop is None:
        loop = asyncio.get_running_loop()
    return loop.create_future()


def settle_threadsafe(future: Future[Any], value: Any, error: BaseException | None) -> None:
    """Settle ``future`` from any thread (once); a closed loop has nobody left to tell.

    The result or ``error`` is set in the future's own loop, the only thread
    where asyncio allows it; a future already done (its awaiter was
    cancelled) is left alone.
    """
    with suppress(RuntimeError):  # "Event loop is closed"
        future.get_loop().call_soon_threadsafe(_settle, future, value, error)


def _settle(future: Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(value)
    else:
        future.set_exception(error)
