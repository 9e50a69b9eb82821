"""Letting SQLite call ``async def`` functions.

SQLite calls back synchronously, from inside a statement running in the
worker thread. A plain function is called right there. An ``async def`` is
wrapped in a plain function that sends the coroutine to the event loop and
blocks the worker until it is done (see ``Engine.call_async``), so callbacks
can do async I/O while the statement waits for them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._engine import Engine


def bridge(engine: Engine, function: Callable[..., Any] | None) -> Callable[..., Any] | None:
    """``function`` as SQLite can call it: unchanged if sync, run in the loop if async.

    Registering any callback turns off the engine's inline runs: a user's
    function must run in the worker, where it may block or have side effects.
    """
    if function is not None:
        engine.inline_allowed = False
    if function is None or not is_async_callable(function):
        return function

    def run_in_event_loop(*args: Any) -> Any:
        return engine.call_async(function, *args)

    run_in_event_loop.__name__ = getattr(function, "__name__", "async_callback")
    run_in_event_loop.__qualname__ = getattr(function, "__qualname__", "async_callback")
    return run_in_event_loop


def is_async_callable(function: Callable[..., Any]) -> bool:
    """True for an ``async def`` function, method or partial, or an object whose
    ``__call__`` is one (``inspect.iscoroutinefunction`` says False for those)."""
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        type(function).__call__
    )
