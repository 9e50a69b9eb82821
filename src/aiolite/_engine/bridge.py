"""The one way the worker runs a coroutine in the event loop and waits for it.

SQLite calls back synchronously, from inside a statement running in the
worker thread; an ``async def`` callback must run in the loop instead. The
worker hands it over as a :class:`CallbackCall`, the adapter runs it, and
the worker blocks (still inside SQLite) until it is done. Layer 3 wraps
user callbacks around :func:`call_in_loop`; nothing else waits for the loop
from the worker.

While the worker waits, a request to the same connection could never run,
so the coroutine's context is marked (:data:`blocked_engines`) and such a
request fails at once with ``CallbackDeadlockError`` instead of hanging.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar, copy_context
from typing import TYPE_CHECKING, Any

from .._errors import ConnectionClosedError, NoEventLoopError
from .port import CallbackCall
from .request import ABORT_CANCELLED, ABORT_DEADLINE

if TYPE_CHECKING:
    from .engine import Engine

_POLL_SECONDS = 0.1
"""How often the waiting worker looks up to see whether its connection is closing."""
_CLOSING_LIMIT_SECONDS = 5.0
"""How long a callback outside any request may hold up a closing connection."""

blocked_engines: ContextVar[frozenset[Engine]] = ContextVar("aiolite serving", default=frozenset())
"""The engines whose worker is blocked on an async callback running in this context."""


class _AbandonInline(Exception):
    """Raised where an inline run cannot continue on the loop thread (an async callback)."""


class _CallbackCancelled(Exception):
    """Raised into SQLite when an async callback is cancelled, to abort its statement."""


def call_in_loop(engine: Engine, function: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    """Worker side: ``await function(*args)`` in ``engine``'s loop; return its result.

    While a request is served, the coroutine runs in a copy of that
    request's context (context variables set where the query was issued
    are visible), cancelling the request cancels it, and the request's
    deadline bounds it. Between requests (SQLite calls a rollback hook or a
    VFS ``xClose`` while the connection closes) it runs on its own, with no
    deadline, for as long as the loop runs it.
    """
    if engine.abandon_inline():
        raise _AbandonInline("async callbacks run only while the worker serves the statement")
    request = engine.current
    if request is None:
        context = copy_context()
        deadline = None
    else:
        context = request.context.copy()
        deadline = request.deadline
    context.run(_mark_blocked, engine)
    call = CallbackCall(function, args, context, deadline)
    if request is not None:
        request.callback = call  # so that cancelling the request cancels the callback
    try:
        if not engine.adapter.start_callback(call):
            message = "the event loop has finished; the async callback cannot run"
            raise (
                ConnectionClosedError(message) if request is not None else NoEventLoopError(message)
            )
        # A served request's callback is cancelled by the close itself, so stop
        # waiting at once; one outside any request was left by a close from sync
        # code (stop(), a finalizer), and the loop may still run it for a while.
        patience = 0.0 if request is not None else _CLOSING_LIMIT_SECONDS
        waited = 0.0
        while not call.done.wait(_POLL_SECONDS):
            waited += _POLL_SECONDS
            if engine.closing and waited >= patience:
                raise ConnectionClosedError(
                    "the connection closed during an async callback"
                    if request is not None
                    else "the connection closed before an async callback ran"
                )
    finally:
        if request is not None:
            request.callback = None
    outcome = call.outcome
    if outcome == CallbackCall.VALUE:
        return call.value
    if outcome == CallbackCall.ERROR:
        assert call.error is not None
        raise call.error
    if request is None:
        raise ConnectionClosedError(f"the async callback ended: {outcome}")
    if outcome == CallbackCall.DEADLINE:
        request.aborted = ABORT_DEADLINE
        raise TimeoutError("the request's deadline passed during an async callback")
    request.aborted = request.aborted or ABORT_CANCELLED
    raise _CallbackCancelled("the async callback was cancelled")


def _mark_blocked(engine: Engine) -> None:
    blocked_engines.set(blocked_engines.get() | {engine})
