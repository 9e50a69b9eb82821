"""What aiolite needs from an async framework, and nothing more.

The engine runs requests in a worker thread; an adapter connects that thread
to one event loop: it parks the awaiting task until the worker is done,
wakes the loop from the worker, turns the framework's cancellation into a
cancelled request, and runs async callbacks in the loop on the worker's
behalf. The pool and the KV store need a few loop-side operations more (a
wait with a timeout, a cheap one-shot event, a timer, "soon", the current
task), so that they never name a framework either. asyncio (uvloop
included) and trio each have one adapter, each operation in its framework's
fastest form; anyio runs on either and is served by the adapter of its
backend, which also honours anyio's cancel scopes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from .._engine import CallbackCall

if TYPE_CHECKING:
    from .._engine import Request

Wakeup = Callable[[], None]


class Event(Protocol):
    """The framework's one-shot event (``asyncio.Event``, ``trio.Event``)."""

    def set(self) -> None: ...

    async def wait(self) -> Any: ...


class Timer(Protocol):
    """A callback due at a time on the framework clock (``asyncio.TimerHandle`` or trio's)."""

    def cancel(self) -> None: ...


class FrameworkAdapter(ABC):
    """The bridge between one event loop and the worker threads serving it."""

    name: str
    """``"asyncio"`` or ``"trio"``: the framework whose loop this serves."""

    @property
    def loop_name(self) -> str:
        """What to call the loop to a person: ``name``, or ``"uvloop"`` for uvloop's.

        For display only (reprs, ``Connection.framework``): code that picks a
        behaviour keys off ``name``, which uvloop shares with asyncio.
        """
        return self.name

    deadline_error: type[TimeoutError]
    """Raised when ``aiolite.deadline`` passes."""

    @abstractmethod
    def check_loop(self) -> None:
        """Raise :class:`WrongEventLoopError` unless called in the adapter's own loop."""

    @abstractmethod
    def now(self) -> float:
        """The framework clock, which ``aiolite.deadline`` is measured on."""

    @abstractmethod
    def effective_deadline(self) -> float:
        """The deadline of the enclosing cancel scopes (framework clock), or +inf."""

    @abstractmethod
    async def wait(self, request: Request, enqueue: Callable[[Request], bool]) -> None:
        """Enqueue ``request`` and park the calling task until it is resolved.

        ``enqueue`` returns False when the worker is gone (the request then
        carries its error): return at once. If the task is cancelled first,
        call ``request.on_cancel()`` and let the framework's own cancellation
        propagate. If ``request.explicit_deadline`` passes first, call
        ``request.expire()`` and return.
        """

    @abstractmethod
    def resolve_all(self, done: deque[Request]) -> None:
        """Wake the task waiting for each request in ``done``, emptying it: the engine's wake-up.

        One call per wake-up rather than one per request: a wake-up resolves
        one request when they run one at a time, thousands in a burst.
        """

    def loop_finished(self) -> bool:
        """True once the loop can never run again (any thread may ask).

        Only asyncio can end that way with tasks still waiting (a loop closed
        by hand); trio cancels every task before its run returns.
        """
        return False

    @abstractmethod
    def call_soon_threadsafe(self, function: Wakeup) -> bool:
        """Run ``function`` in the loop soon; False if the loop has finished."""

    @abstractmethod
    async def sleep_until(self, when: float) -> None:
        """Sleep until ``when`` on the framework clock (a checkpoint)."""

    @abstractmethod
    async def checkpoint(self) -> None:
        """Let the loop run other tasks once (and deliver a pending cancellation)."""

    @abstractmethod
    def shield(self) -> AbstractContextManager[Any]:
        """A block in which the framework's cancel scopes do not cancel awaits.

        Used only around the rollback that ends a cancelled transaction
        block, so its outcome is known before the cancellation propagates.
        """

    @abstractmethod
    def event(self) -> Event:
        """A new event of the framework, for tasks waiting on a transaction block."""

    @abstractmethod
    def start_callback(self, call: CallbackCall) -> bool:
        """From the worker thread: start ``call`` in the loop; False if the loop is gone."""

    @abstractmethod
    def cancel_callback(self, call: CallbackCall) -> None:
        """In the loop thread: cancel ``call`` if it has started, or mark it not to start."""

    # What the pool and the KV store need, so that neither names a framework.

    @abstractmethod
    async def wait_event(self, event: Event, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait for ``event`` at most ``timeout`` seconds (``inf``: none); False if time ran out.

        The framework's own timeout block does it, so a cancellation from
        outside propagates exactly as the framework propagates it.
        """

    def one_shot_event(self) -> Event:
        """A new event with exactly one waiter, set at most once: cheaper than :meth:`event`.

        A queued pool write waits on one, and thousands are queued at once.
        """
        return self.event()

    @abstractmethod
    def call_at(self, when: float, function: Wakeup) -> Timer:
        """Run ``function`` in the loop at ``when`` (framework clock) unless cancelled first.

        Called in the loop thread. ``function`` must not raise.
        """

    @abstractmethod
    def call_soon(self, function: Wakeup) -> None:
        """From the loop thread: run ``function`` once the loop has gone round."""

    @abstractmethod
    def current_task(self) -> object:
        """The running task: an identity to compare, nothing more (called per inline write)."""
