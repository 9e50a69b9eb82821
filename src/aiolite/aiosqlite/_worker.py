"""The core of an aiosqlite-style connection: its state and the link to the engine serving it.

:class:`Worker` is the small internal interface the connection's cursors and
blobs use (they get it from the connection when it makes them): whether the
connection is open, ``run`` and ``post`` a request, ``iter_chunk_size``. The
:class:`~.core.Connection` keeps its state here too, and answers aiosqlite's
private names (``_running``, ``_connection``, ``_iter_chunk_size``,
``_execute``) from it, so there is one source of truth.

It deliberately holds no reference to the :class:`~.core.Connection`: the
worker thread keeps it alive, and the connection must stay collectable so an
unclosed one can warn and shut its worker down from ``__del__``.

It also speaks aiosqlite's private queue protocol, ``_tx.put_nowait((future,
function))``, which SQLAlchemy's aiosqlite dialect uses to run a function in
the worker thread, and which serves a connection awaited from another event
loop than the one that opened it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from .._engine import Engine
from .._errors import ConnectionClosedError, WrongEventLoopError
from .._frameworks import asyncio_bridge
from ._dbapi import Connection


def invoke(conn: Connection, function: Callable[..., Any], *args: Any) -> Any:
    """Engine request body: call ``function(*args)`` in the worker (the connection is bound).

    Afterwards the connection records the state the event loop reads
    (``in_transaction``, ``total_changes``) while later requests run.
    """
    try:
        return function(*args)
    finally:
        conn.remember_state()


class _ThreadStub:
    """Stands in for the worker thread before the connection is awaited.

    SQLAlchemy sets ``connection._thread.daemon = True`` before awaiting;
    aiolite's workers are always daemon threads, so that is already true.
    """

    daemon = True
    name = "aiolite-worker (not started)"

    def is_alive(self) -> bool:
        return False


class Worker:
    """One connection's state, its engine, requests in flight, and who waits for it to exit."""

    def __init__(self, iter_chunk_size: int) -> None:
        self.running = True
        """False once closing began (or opening failed): aiosqlite's ``Connection._running``."""
        self.connection: Connection | None = None
        """The open sqlite3-style connection; None before it opens and once closing began."""
        self.iter_chunk_size = iter_chunk_size
        """The fewest rows ``async for`` over a cursor reads per trip to the worker."""
        self.engine: Engine | None = None
        self.active = 0  # awaited requests in flight (loop thread only)
        self._posted = 0  # put_nowait requests in flight (any thread; under _lock)
        self._lock = threading.Lock()
        self._exited = False
        self._exit_waiters: list[asyncio_bridge.Future[None]] = []
        self.isolation_pending: tuple[str | None] | None = None
        """An ``isolation_level`` set in the loop that the worker has not applied yet."""

    @property
    def thread(self) -> threading.Thread | _ThreadStub:
        return _ThreadStub() if self.engine is None else self.engine.thread

    # requests -------------------------------------------------------------------

    def check_open(self) -> None:
        """Raise aiosqlite's ``ValueError("Connection closed")`` once closing has begun."""
        if not self.running or self.connection is None:
            raise ValueError("Connection closed")

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` in the worker thread, in order with every other request.

        (The body of aiosqlite's ``Connection._execute``.) A call from another
        asyncio loop than the connection's is served too, as aiosqlite allows.
        """
        return await self.run_bound(invoke, fn, *args)

    async def run_bound(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(connection, *args)`` in the worker; ``fn`` records the state itself.

        ``run`` without its ``invoke`` layer, for the hot requests whose
        bodies are :class:`~._dbapi.Connection` methods that call
        ``remember_state`` themselves.
        """
        if not self.running or self.connection is None:
            raise ValueError("Connection closed")
        engine = self.engine
        assert engine is not None
        self.active += 1
        try:
            return await engine.submit(fn, *args)
        except WrongEventLoopError:
            if asyncio_bridge.running_loop() is None:
                raise
            conn = self.connection
            return await self.from_other_loop(lambda: fn(conn, *args), ())
        except ConnectionClosedError as exc:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.") from exc
        finally:
            self.active -= 1

    def post_bound(self, fn: Callable[..., Any], *args: Any) -> None:
        """``post`` for a body that takes the connection first (see ``run_bound``)."""
        engine = self.engine
        if engine is not None:
            engine.post(fn, *args)

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)`` in the worker without waiting (in order with everything else)."""
        self.post_bound(invoke, fn, *args)

    # aiosqlite's queue protocol -------------------------------------------------

    def put_nowait(self, item: tuple[asyncio_bridge.Future[Any] | None, Callable[[], Any]]) -> None:
        """Run ``function()`` in the worker and settle ``future`` (if any) with its outcome."""
        future, function = item
        engine = self.engine
        if engine is None or engine.closed:
            if future is not None:
                asyncio_bridge.settle_threadsafe(future, None, ValueError("Connection closed"))
            return
        with self._lock:
            self._posted += 1
        engine.post(self._run_posted, future, function)

    def _run_posted(
        self,
        conn: Connection,
        future: asyncio_bridge.Future[Any] | None,
        function: Callable[[], Any],
    ) -> None:
        try:
            value = invoke(conn, function)
        except BaseException as exc:
            if future is not None:
                asyncio_bridge.settle_threadsafe(future, None, exc)
        else:
            if future is not None:
                asyncio_bridge.settle_threadsafe(future, value, None)
        finally:
            with self._lock:
                self._posted -= 1

    def empty(self) -> bool:
        """True when no request of this connection is queued or running."""
        return self.active == 0 and self._posted == 0

    def qsize(self) -> int:
        return self.active + self._posted

    async def from_other_loop(self, function: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """Serve a call made in another asyncio loop than the connection's (aiosqlite allows it).

        Such calls are not cancellable in the worker: the engine's
        cancellation belongs to the loop that opened the connection.
        """
        future: asyncio_bridge.Future[Any] = asyncio_bridge.new_future()
        self.put_nowait((future, lambda: function(*args)))
        return await future

    # worker exit ------------------------------------------------------------------

    def close_connection(self, conn: Any) -> None:
        """The engine's closer (worker thread): close, then wake whoever awaits ``stop()``."""
        try:
            conn.close()
        finally:
            with self._lock:
                self._exited = True
                waiters, self._exit_waiters = self._exit_waiters, []
            for future in waiters:
                asyncio_bridge.settle_threadsafe(future, None, None)

    def exit_future(
        self, opened: bool, loop: asyncio_bridge.EventLoop | None = None
    ) -> asyncio_bridge.Future[None]:
        """A future done once the worker has closed the database (at once if none was ``opened``).

        It belongs to ``loop``, by default the running one.
        """
        future: asyncio_bridge.Future[None] = asyncio_bridge.new_future(loop)
        with self._lock:
            if opened and not self._exited:
                self._exit_waiters.append(future)
                return future
        future.set_result(None)
        return future
