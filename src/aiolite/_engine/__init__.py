"""Layer 1, the engine: a worker thread per connection, and the few ways to use it.

The engine knows no SQL and no framework. Layer 3 (the connection, cursor,
transactions and SQLite's callbacks) uses it through the names below, and
layer 2 (the framework adapters) plugs into it through the port. Nothing here
imports a layer above, so the engine can be read, and tested, on its own.

For layer 3
    :class:`Engine`
        One connection's worker. ``open``/``close``/``stop`` its life
        (``begin_close`` starts a close that no cancellation can leave half
        way, ``call_when_gone`` tells whoever must know that the worker exited);
        ``submit`` (awaited) and ``post`` (fire and forget) the only ways to
        reach the sync connection; ``run_inline`` the shortcut that skips
        the thread for a tiny read (it returns :data:`NOT_NOW` or
        :data:`ABANDONED` when the worker must do it); ``keep_in_worker``
        once user code is registered; ``should_abort``/``stop_reason`` for
        whatever waits in the worker (busy handlers, backups) to stop for
        the same reasons a statement does; ``closing`` a plain attribute,
        cheap enough for a cursor's per-row check.
    :class:`InlinePolicy`
        Which statements have proved tiny enough to try inline; the engine
        runs them, the connection decides which.
    :func:`call_in_loop`
        The one bridge for ``async def`` callbacks SQLite calls in the worker;
        :func:`current_worker_engine` finds the engine for process-wide ones
        (a VFS).
    ``ABORT_CANCELLED``, ``ABORT_CLOSED``, ``ABORT_DEADLINE``
        What ``stop_reason`` answers, so a transaction can tell the user why
        SQLite rolled it back.
    :data:`deadline`, :func:`contextvar_set`
        The per-context deadline every request made under it carries.
    :class:`InlineStreak`
        The one rule for how long inline work (reads here, KV writes in
        layer 5) may hold the loop before yielding.

For layer 2
    :class:`AdapterPort`
        Exactly what the engine asks of a framework adapter; adapters satisfy
        it structurally.
    :class:`CallbackCall`, :class:`Request`
        The records the engine hands its adapter: an async callback to run,
        and a request to wait for.
"""

from .bridge import call_in_loop
from .deadline import contextvar_set, deadline
from .engine import Engine, current_worker_engine
from .inline import LEARN_ROUNDS, InlinePolicy, Learning
from .inline_runs import INLINE_BUDGET_SECONDS
from .port import AdapterPort, CallbackCall
from .request import (
    ABANDONED,
    ABORT_CANCELLED,
    ABORT_CLOSED,
    ABORT_DEADLINE,
    NOT_NOW,
    Request,
)
from .streak import InlineStreak

__all__ = [
    "ABANDONED",
    "ABORT_CANCELLED",
    "ABORT_CLOSED",
    "ABORT_DEADLINE",
    "INLINE_BUDGET_SECONDS",
    "LEARN_ROUNDS",
    "NOT_NOW",
    "AdapterPort",
    "CallbackCall",
    "Engine",
    "InlinePolicy",
    "InlineStreak",
    "Learning",
    "Request",
    "call_in_loop",
    "contextvar_set",
    "current_worker_engine",
    "deadline",
]
