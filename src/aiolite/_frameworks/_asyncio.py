"""The adapter for asyncio loops: the standard one, uvloop, and anyio's asyncio backend.

anyio on asyncio cancels tasks the asyncio way, so the only extra work for it
is honouring its cancel scopes' deadlines in the worker and its shields
around rollbacks; both are looked up only if anyio has been imported.
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from contextvars import Context
from math import inf
from time import monotonic
from typing import TYPE_CHECKING, Any

from .._engine import CallbackCall
from .._errors import DeadlineExceeded, WrongEventLoopError
from ._base import Event, FrameworkAdapter, Wakeup

if TYPE_CHECKING:
    from .._engine import Request
    from ._base import Timer


class AsyncioAdapter(FrameworkAdapter):
    name = "asyncio"
    deadline_error = DeadlineExceeded

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._context = Context()

    @property
    def loop_name(self) -> str:
        return "uvloop" if type(self._loop).__module__.startswith("uvloop") else "asyncio"

    def check_loop(self) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            raise WrongEventLoopError(
                "this aiolite connection belongs to an asyncio event loop, "
                "but no asyncio loop is running in this thread"
            ) from None
        if running is not self._loop:
            raise WrongEventLoopError(
                "this aiolite connection was opened in another asyncio event loop; "
                "open one connection per loop"
            )

    def now(self) -> float:
        return self._loop.time()

    def effective_deadline(self) -> float:
        anyio = sys.modules.get("anyio")
        if anyio is None:
            return inf
        return float(anyio.current_effective_deadline())

    async def wait(self, request: Request, enqueue: Callable[[Request], bool]) -> None:
        future = self._loop.create_future()
        request.waiter = future
        if not enqueue(request):
            return
        if request.deadline is None:  # the usual case: no timer to arm or cancel
            try:
                await future
            except asyncio.CancelledError:
                request.on_cancel()
                raise
            return
        deadline = request.explicit_deadline
        timer = None if deadline is None else self._loop.call_at(deadline, _expire, request)
        try:
            await future
        except asyncio.CancelledError:
            request.on_cancel()
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def resolve_all(self, done: deque[Request]) -> None:
        while done:
            future = done.popleft().waiter
            if future is not None and not future.done():
                future.set_result(None)

    def loop_finished(self) -> bool:
        return self._loop.is_closed()

    def call_soon_threadsafe(self, function: Wakeup) -> bool:
        try:
            # An empty context, not a copy of the worker's: what runs here are
            # aiolite's own wake-ups, which read no context variable.
            self._loop.call_soon_threadsafe(function, context=self._context)
        except RuntimeError:  # "Event loop is closed"
            return False
        return True

    async def sleep_until(self, when: float) -> None:
        await asyncio.sleep(max(0.0, when - self._loop.time()))

    async def checkpoint(self) -> None:
        await asyncio.sleep(0)

    def shield(self) -> AbstractContextManager[Any]:
        anyio = sys.modules.get("anyio")
        if anyio is None:
            return nullcontext()
        scope: AbstractContextManager[Any] = anyio.CancelScope(shield=True)
        return scope

    def event(self) -> Event:
        return asyncio.Event()

    def start_callback(self, call: CallbackCall) -> bool:
        return self.call_soon_threadsafe(lambda: self._start_callback(call))

    def _start_callback(self, call: CallbackCall) -> None:
        if call.cancel_requested:
            call.finish(CallbackCall.CANCELLED)
            return
        runner = self._loop.create_task(self._run_callback(call), context=call.context)
        # A task cancelled before its first step never runs its body (nor the
        # body's except clause), so only a done callback is sure to release the
        # worker waiting for it; finish() ignores all but the first outcome.
        runner.add_done_callback(lambda _: call.finish(CallbackCall.CANCELLED))
        call.runner = runner

    async def _run_callback(self, call: CallbackCall) -> None:
        timeout: asyncio.Timeout | None = None
        try:
            if call.deadline is None:
                value = await call.function(*call.args)
            else:
                when = self._loop.time() + (call.deadline - monotonic())
                async with asyncio.timeout_at(when) as timeout:
                    value = await call.function(*call.args)
        except asyncio.CancelledError:
            call.finish(CallbackCall.CANCELLED)
        except TimeoutError as exc:
            if timeout is not None and timeout.expired():
                call.finish(CallbackCall.DEADLINE)
            else:
                call.finish(CallbackCall.ERROR, error=exc)
        except BaseException as exc:
            call.finish(CallbackCall.ERROR, error=exc)
        else:
            call.finish(CallbackCall.VALUE, value)

    def cancel_callback(self, call: CallbackCall) -> None:
        call.cancel_requested = True
        if call.runner is not None:
            call.runner.cancel()

    async def wait_event(self, event: Event, timeout: float) -> bool:  # noqa: ASYNC109
        if timeout == inf:
            await event.wait()
            return True
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
        except TimeoutError:
            return False
        return True

    def one_shot_event(self) -> Event:
        return FutureEvent(self._loop)

    def call_at(self, when: float, function: Wakeup) -> Timer:
        return self._loop.call_at(when, function)

    def call_soon(self, function: Wakeup) -> None:
        self._loop.call_soon(function)

    def current_task(self) -> object:
        return asyncio.current_task(self._loop)


class FutureEvent:
    """A one-shot event on a bare asyncio future: what a queued pool write waits on.

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


def _expire(request: Request) -> None:
    future = request.waiter
    if future is not None and not future.done():
        request.expire()
        future.set_result(None)
