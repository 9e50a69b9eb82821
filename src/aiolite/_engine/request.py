"""One request: the call the worker runs, and all the two threads know about it.

A request is the only object the loop side and the worker side both write:
the loop marks it cancelled or expired, the worker records its outcome and
why it was stopped. Keeping every such field on the request, rather than on
the engine, is what confines a cancellation to the request it was meant for.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import Context
from math import inf
from time import monotonic
from typing import TYPE_CHECKING, Any, NoReturn

from .._errors import ConnectionClosedError
from .deadline import deadline as deadline_var

if TYPE_CHECKING:
    from .port import AdapterPort, CallbackCall

# Why the progress handler (or a busy handler) stopped the current request.
ABORT_CANCELLED = "cancelled"
ABORT_CLOSED = "closed"
ABORT_DEADLINE = "deadline"


class _Sentinel:
    __slots__ = ()


NOT_NOW: Any = _Sentinel()
"""What an inline run returns when the worker is busy: nothing was tried."""
ABANDONED: Any = _Sentinel()
"""What an inline run returns when the call started but had to stop unfinished."""


class Request:
    """One call to run in the worker, and everything both threads know about it.

    Fields most requests never change are class-level defaults (no
    ``__slots__``): a request then costs only the stores it needs.
    """

    cancelled = False
    deadline: float | None = None  # time.monotonic() based
    deadline_from_scope = False
    framework_deadline = inf
    aborted: str | None = None
    expired = False  # loop side only: aiolite.deadline passed while it waited
    value: Any = None
    error: BaseException | None = None
    waiter: Any = None  # the adapter's handle on the waiting task
    callback: CallbackCall | None = None
    cancellable = True

    def __init__(
        self,
        adapter: AdapterPort,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        context: Context,
        cancellable: bool,
    ) -> None:
        self.adapter = adapter  # to cancel its async callback from the loop thread
        self.fn = fn
        self.args = args
        self.context = context
        if not cancellable:
            self.cancellable = False
            return  # clean-up (a rollback) must run even after the deadline passed
        # The tighter of aiolite.deadline and the enclosing cancel scopes, converted
        # to the worker's clock: the worker can then check it without the loop.
        explicit = deadline_var.get()
        scoped = adapter.effective_deadline()
        if explicit is not None or scoped != inf:
            now = adapter.now()
            if explicit is not None and explicit <= scoped:
                if explicit <= now:
                    raise adapter.deadline_error("aiolite.deadline had already passed")
                self.framework_deadline = explicit
            else:
                self.framework_deadline = scoped
                self.deadline_from_scope = True
            self.deadline = monotonic() + (self.framework_deadline - now)

    @property
    def explicit_deadline(self) -> float | None:
        """The ``aiolite.deadline`` the waiting side must enforce itself (framework clock).

        Deadlines of the framework's own cancel scopes need no help: the
        framework cancels the waiting task when they pass.
        """
        if self.deadline is None or self.deadline_from_scope:
            return None
        return self.framework_deadline

    async def raise_failure(self) -> NoReturn:
        """Loop side: raise what the waiting task should see for the request's error.

        A request aiolite stopped fails with the reason it was stopped for,
        not with the ``InterruptError`` SQLite reported, chained as the cause.
        """
        error = self.error
        assert error is not None
        if self.aborted == ABORT_DEADLINE:
            if self.deadline_from_scope:
                # The enclosing cancel scope expires now; let it cancel us so the
                # framework raises its own timeout (trio.TooSlowError, anyio's TimeoutError).
                await self.adapter.sleep_until(self.framework_deadline)
            raise self.adapter.deadline_error("the request's deadline passed") from error
        if self.aborted == ABORT_CLOSED:
            raise ConnectionClosedError(
                "the connection was closed while this request ran"
            ) from error
        raise error

    def expire(self) -> None:
        """Loop side: the deadline passed before the worker finished; stop it."""
        self.expired = True
        self.on_cancel()

    def on_cancel(self) -> None:
        """The waiting task was cancelled (loop thread): stop the request if it may be."""
        if not self.cancellable:
            return
        self.cancelled = True
        call = self.callback
        if call is not None:
            self.adapter.cancel_callback(call)
