"""The adapter for trio, and for anyio on its trio backend (which uses trio's own scopes).

Waiting uses trio's low-level park/reschedule, the cheapest way to block a
task on something that finishes in another thread; cancellation arrives
through the abort callback, which is where the request gets cancelled.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from math import inf
from time import monotonic
from typing import TYPE_CHECKING, Any

import outcome
import trio

from .._engine import CallbackCall
from .._errors import DeadlineExceeded, WrongEventLoopError
from ._base import Event, FrameworkAdapter, Wakeup

if TYPE_CHECKING:
    from .._engine import Request
    from ._base import Timer


class TrioDeadlineExceeded(DeadlineExceeded, trio.TooSlowError):
    """``aiolite.deadline`` passed under trio: both a TimeoutError and a trio.TooSlowError."""


class TrioAdapter(FrameworkAdapter):
    name = "trio"
    deadline_error = TrioDeadlineExceeded

    def __init__(self) -> None:
        self._token = trio.lowlevel.current_trio_token()

    def check_loop(self) -> None:
        try:
            token = trio.lowlevel.current_trio_token()
        except RuntimeError:
            raise WrongEventLoopError(
                "this aiolite connection belongs to a trio run, "
                "but it was used outside trio (another thread or framework)"
            ) from None
        if token is not self._token:
            raise WrongEventLoopError(
                "this aiolite connection was opened in another trio run; "
                "open one connection per run"
            )

    def now(self) -> float:
        return trio.current_time()

    def effective_deadline(self) -> float:
        return trio.current_effective_deadline()

    async def wait(self, request: Request, enqueue: Callable[[Request], bool]) -> None:
        request.waiter = trio.lowlevel.current_task()
        if not enqueue(request):
            request.waiter = None
            await trio.lowlevel.checkpoint()
            return

        def abort(_raise_cancel: Any) -> trio.lowlevel.Abort:
            request.waiter = None
            request.on_cancel()
            return trio.lowlevel.Abort.SUCCEEDED

        deadline = request.explicit_deadline
        if deadline is None:
            await trio.lowlevel.wait_task_rescheduled(abort)
            return
        with trio.CancelScope(deadline=deadline) as scope:
            await trio.lowlevel.wait_task_rescheduled(abort)
        if scope.cancelled_caught:
            request.expire()

    def resolve_all(self, done: deque[Request]) -> None:
        reschedule = trio.lowlevel.reschedule
        while done:
            request = done.popleft()
            task = request.waiter
            if task is not None:
                request.waiter = None
                reschedule(task)

    def call_soon_threadsafe(self, function: Wakeup) -> bool:
        try:
            self._token.run_sync_soon(function)
        except trio.RunFinishedError:
            return False
        return True

    async def sleep_until(self, when: float) -> None:
        await trio.sleep_until(when)

    async def checkpoint(self) -> None:
        await trio.lowlevel.checkpoint()

    def shield(self) -> AbstractContextManager[Any]:
        return trio.CancelScope(shield=True)

    def event(self) -> Event:
        return trio.Event()

    def start_callback(self, call: CallbackCall) -> bool:
        return self.call_soon_threadsafe(lambda: self._start_callback(call))

    def _start_callback(self, call: CallbackCall) -> None:
        if call.cancel_requested:
            call.finish(CallbackCall.CANCELLED)
            return
        trio.lowlevel.spawn_system_task(self._run_callback, call, context=call.context)

    async def _run_callback(self, call: CallbackCall) -> None:
        result: outcome.Outcome[Any] | None = None
        try:
            with trio.CancelScope() as scope:
                if call.deadline is not None:
                    scope.deadline = trio.current_time() + (call.deadline - monotonic())
                call.runner = scope
                if call.cancel_requested:
                    scope.cancel()
                result = await outcome.acapture(call.function, *call.args)
                if _is_cancellation(result):
                    result.unwrap()  # hand the cancellation back to the scope it belongs to
        finally:
            # Whatever happened (even the run itself shutting down), release the worker.
            if isinstance(result, outcome.Value):
                call.finish(CallbackCall.VALUE, result.value)
            elif isinstance(result, outcome.Error) and not _is_cancellation(result):
                call.finish(CallbackCall.ERROR, error=result.error)
            elif scope.cancelled_caught and not call.cancel_requested:
                call.finish(CallbackCall.DEADLINE)
            else:
                call.finish(CallbackCall.CANCELLED)

    def cancel_callback(self, call: CallbackCall) -> None:
        call.cancel_requested = True
        if call.runner is not None:
            call.runner.cancel()

    async def wait_event(self, event: Event, timeout: float) -> bool:  # noqa: ASYNC109
        if timeout == inf:
            await event.wait()
            return True
        with trio.move_on_after(timeout):
            await event.wait()
            return True
        return False

    def call_at(self, when: float, function: Wakeup) -> Timer:
        scope = trio.CancelScope()
        trio.lowlevel.spawn_system_task(_call_at, scope, when, function)
        return scope

    def call_soon(self, function: Wakeup) -> None:
        self.call_soon_threadsafe(function)

    def current_task(self) -> object:
        return trio.lowlevel.current_task()


async def _call_at(scope: trio.CancelScope, when: float, function: Wakeup) -> None:
    """A timer: trio has no timed callbacks, so a system task sleeps until ``when``.

    A system task, not a task of the caller's nursery: the timer must neither
    keep a nursery open nor be cancelled with the task that armed it, only by
    ``scope.cancel()`` (or the end of the run).
    """
    with scope:
        await trio.sleep_until(when)
        function()


def _is_cancellation(result: outcome.Outcome[Any]) -> bool:
    return isinstance(result, outcome.Error) and isinstance(result.error, trio.Cancelled)
