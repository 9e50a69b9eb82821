"""What the engine needs from a framework adapter, stated by the engine itself.

The engine is layer 1 and the adapters are layer 2, so the engine may not
import them; it says here, as a :class:`typing.Protocol`, the few things it
asks of whichever adapter it is given, and each adapter satisfies that
structurally. :class:`CallbackCall` lives here too: the worker creates it and
the adapter runs it, so it is the one record both sides of the port share.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Awaitable, Callable
from contextvars import Context
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .request import Request


class AdapterPort(Protocol):
    """The adapter methods the engine calls, and no others.

    Kept exact on purpose: whatever is added here every adapter must supply,
    and whatever the engine calls must be named here for the type checker
    to allow it.
    """

    @property
    def deadline_error(self) -> type[TimeoutError]:
        """Raised when ``aiolite.deadline`` passes (the framework's own timeout type too)."""

    def check_loop(self) -> None:
        """Raise unless called in the adapter's own event loop."""

    def now(self) -> float:
        """The framework clock, which ``aiolite.deadline`` is measured on."""

    def effective_deadline(self) -> float:
        """The deadline of the enclosing cancel scopes (framework clock), or +inf."""

    async def wait(self, request: Request, enqueue: Callable[[Request], bool]) -> None:
        """Enqueue ``request`` and park the calling task until it is resolved."""

    def resolve_all(self, done: deque[Request]) -> None:
        """Wake the task waiting for each request in ``done``, emptying it (loop thread): one
        call a wake-up."""

    def loop_finished(self) -> bool:
        """True once the loop can never run again (any thread)."""

    def call_soon_threadsafe(self, function: Callable[[], None]) -> bool:
        """Run ``function`` in the loop soon; False if the loop has finished."""

    async def sleep_until(self, when: float) -> None:
        """Sleep until ``when`` on the framework clock."""

    def start_callback(self, call: CallbackCall) -> bool:
        """From the worker thread: start ``call`` in the loop; False if the loop is gone."""

    def cancel_callback(self, call: CallbackCall) -> None:
        """In the loop thread: cancel ``call`` if it has started, or mark it not to start."""


class CallbackCall:
    """One async callback that the worker thread waits for.

    Created in the worker, started in the loop, finished in the loop, waited
    for in the worker: ``done`` is the only thing the two threads share
    while it runs.
    """

    __slots__ = (
        "args",
        "cancel_requested",
        "context",
        "deadline",
        "done",
        "error",
        "function",
        "outcome",
        "runner",
        "value",
    )

    NOT_DONE = "not done"
    VALUE = "value"
    ERROR = "error"
    CANCELLED = "cancelled"
    DEADLINE = "deadline"

    def __init__(
        self,
        function: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        context: Context,
        deadline: float | None,
    ) -> None:
        self.function = function
        self.args = args
        self.context = context
        self.deadline = deadline  # time.monotonic() based, or None
        self.cancel_requested = False
        self.runner: Any = None  # the framework's task or cancel scope, once started
        self.outcome = CallbackCall.NOT_DONE
        self.value: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    def finish(self, outcome: str, value: Any = None, error: BaseException | None = None) -> None:
        """Record how the callback ended, once: a late cancellation must not overwrite a result."""
        if self.outcome is not CallbackCall.NOT_DONE:
            return
        self.outcome = outcome
        self.value = value
        self.error = error
        self.done.set()
