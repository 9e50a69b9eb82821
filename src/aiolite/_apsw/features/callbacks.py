"""Letting SQLite call ``async def`` functions.

SQLite calls back synchronously, from inside a statement running in the
worker thread. A plain function is called right there. An ``async def`` is
wrapped in a plain function that hands the coroutine to the engine's one
bridge to the event loop (:func:`aiolite._engine.bridge.call_in_loop`),
which blocks the worker until it is done, so callbacks can do async I/O
while the statement waits for them.

Objects whose *methods* SQLite calls (aggregates, virtual tables, VFS files)
are wrapped in :class:`AsyncMethods`, which bridges each async method the
same way and hands sync ones over untouched.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..._engine import call_in_loop, current_worker_engine
from ..._errors import NoEventLoopError

if TYPE_CHECKING:
    from ..._engine import Engine

__all__ = [
    "AsyncMethods",
    "bridge",
    "call_here",
    "has_async_method",
    "is_async_callable",
]


def bridge(engine: Engine, function: Callable[..., Any] | None) -> Callable[..., Any] | None:
    """``function`` as SQLite can call it: unchanged if sync, run in the loop if async.

    Registering any callback turns off the engine's inline runs: a user's
    function must run in the worker, where it may block or have side effects.
    """
    if function is not None:
        engine.keep_in_worker()
    if function is None or not is_async_callable(function):
        return function

    def run_in_event_loop(*args: Any) -> Any:
        return call_in_loop(engine, function, *args)

    run_in_event_loop.__name__ = getattr(function, "__name__", "async_callback")
    run_in_event_loop.__qualname__ = getattr(function, "__qualname__", "async_callback")
    return run_in_event_loop


def is_async_callable(function: Any) -> bool:
    """True for an ``async def`` function, method or partial, or an object whose
    ``__call__`` is one (``inspect.iscoroutinefunction`` says False for those)."""
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        type(function).__call__
    )


def call_here(function: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    """Run an async callback for whichever aiolite connection called into this thread."""
    engine = current_worker_engine()
    if engine is None:
        raise NoEventLoopError(
            f"async {getattr(function, '__qualname__', function)!r} was called outside an "
            "aiolite worker thread, where no event loop waits for it; make it a plain method"
        )
    return call_in_loop(engine, function, *args)


class AsyncMethods:
    """A stand-in for ``target`` whose async methods run in the event loop.

    SQLite (through APSW) looks methods up by name and calls them from the
    worker; sync methods are returned as they are, async ones bridged.
    ``results`` names methods whose return value must be wrapped too (a
    virtual table's ``Open`` returns the cursor whose methods SQLite calls).
    ``engine`` None means "the engine of the calling worker thread" (a VFS).
    """

    __slots__ = ("_engine", "_results", "_target")

    def __init__(
        self,
        target: Any,
        engine: Engine | None,
        results: dict[str, Callable[[Any], Any]] | None = None,
    ) -> None:
        self._target = target
        self._engine = engine
        self._results = results or {}

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute
        call: Callable[..., Any] = attribute
        if is_async_callable(attribute):
            engine = self._engine

            def run_in_event_loop(*args: Any) -> Any:
                if engine is None:
                    return call_here(attribute, *args)
                return call_in_loop(engine, attribute, *args)

            call = run_in_event_loop
        wrap = self._results.get(name)
        if wrap is None:
            return call

        def wrapped(*args: Any) -> Any:
            return wrap(call(*args))

        return wrapped


def has_async_method(target: Any, names: Iterable[str]) -> bool:
    """True if any of ``names`` is an async method of ``target``: it then needs wrapping."""
    return any(is_async_callable(getattr(target, name, None)) for name in names)
