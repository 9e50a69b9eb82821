"""Bounded waits and first-come-first-served turns, for any supported framework.

The engine's adapters give events but no "wait at most this long", and the
pool must bound every wait (``acquire_timeout``) the same way under asyncio,
uvloop, trio and anyio. Each framework's own timeout block is used, so a
cancellation from outside still propagates exactly as that framework does it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from math import inf
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._frameworks._base import Event, FrameworkAdapter


class PoolTimeout(TimeoutError):
    """A pool wait passed ``acquire_timeout``.

    Raised when a writer block, a reader block or a group-commit write could
    not get its connection in time: the writer was held by other work in this
    process for longer, or another process held the database's write lock
    past the busy timeout. Nothing of the request ran. It is a
    :class:`TimeoutError`, so ``except TimeoutError`` catches it too.
    """


async def wait_event(adapter: FrameworkAdapter, event: Event, timeout: float) -> bool:  # noqa: ASYNC109
    """Wait for ``event`` at most ``timeout`` seconds; False if the time ran out."""
    if timeout == inf:
        await event.wait()
        return True
    if adapter.name == "trio":
        import trio

        with trio.move_on_after(timeout):
            await event.wait()
            return True
        return False
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


class FutureEvent:
    """A one-shot event on a bare asyncio future: what a queued write waits on.

    ``asyncio.Event`` keeps a list of waiters and a flag; a write has exactly
    one waiter, and thousands are queued at once, so the bare future halves
    the cost of waking them.
    """

    __slots__ = ("_future",)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._future: asyncio.Future[None] = loop.create_future()

    def set(self) -> None:
        if not self._future.done():  # a cancelled waiter cancels the future
            self._future.set_result(None)

    async def wait(self) -> None:
        await self._future


class Turn:
    """One place in a :class:`TurnQueue`: granted at most once, or withdrawn."""

    __slots__ = ("granted", "on_grant", "withdrawn")

    def __init__(self, on_grant: Callable[[], None]) -> None:
        self.on_grant = on_grant
        self.granted = False
        self.withdrawn = False


class TurnQueue:
    """``capacity`` holders at a time, the rest served in arrival order.

    Used on the event-loop thread only. Holders are granted by calling their
    ``on_grant`` (set an event, or start a group-commit batch), so waiting
    needs no task of its own.
    """

    __slots__ = ("_waiting", "capacity", "held")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.held = 0
        self._waiting: deque[Turn] = deque()

    @property
    def waiting(self) -> int:
        return sum(not turn.withdrawn for turn in self._waiting)

    def request(self, turn: Turn) -> None:
        """Grant ``turn`` now if there is room and nobody is ahead, else queue it."""
        if self.held < self.capacity and not self._waiting:
            self._grant(turn)
        else:
            self._waiting.append(turn)

    def withdraw(self, turn: Turn) -> None:
        """The holder of ``turn`` gives up: its place if waiting, its hold if granted."""
        if turn.granted:
            turn.granted = False
            self.release()
        else:
            turn.withdrawn = True

    def release(self) -> None:
        self.held -= 1
        while self._waiting and self.held < self.capacity:
            turn = self._waiting.popleft()
            if not turn.withdrawn:
                self._grant(turn)

    def _grant(self, turn: Turn) -> None:
        self.held += 1
        turn.granted = True
        turn.on_grant()
