"""Layer 1: one worker thread per SQLite connection, driven from an event loop.

The engine knows nothing about SQL. It runs callables ``fn(sync_connection,
*args)`` one at a time, in submission order, in a dedicated thread, and hands
each outcome back to the event loop that asked. It touches the sync
connection only through ``set_progress_handler``, ``interrupt`` and the
closer it is given, so it serves APSW and the standard ``sqlite3`` alike.

Cancellation and deadlines are per request. The waiting task is released at
once (the framework's own cancellation propagates); the request is marked,
and the progress handler (:mod:`.progress`) stops it inside SQLite at its
next check. ``interrupt()`` is used only when the connection is closing,
when everything in flight is being stopped anyway.

This module is the queue, the worker loop and the connection's life; the
engine's other jobs each have their own module and object: runs on the loop
thread (:mod:`.inline_runs`), the progress handler (:mod:`.progress`) and
async callbacks (:mod:`.bridge`).
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from contextvars import Context, copy_context
from itertools import count
from queue import SimpleQueue
from time import monotonic
from typing import Any

from .._errors import CallbackDeadlockError, ConnectionClosedError
from .bridge import blocked_engines
from .inline_runs import INLINE_BUDGET_SECONDS, InlineRuns
from .port import AdapterPort
from .progress import Progress
from .request import (
    ABANDONED,
    ABORT_CANCELLED,
    ABORT_CLOSED,
    ABORT_DEADLINE,
    NOT_NOW,
    Request,
)

__all__ = [  # the names importers used before the split live on here
    "ABANDONED",
    "ABORT_CANCELLED",
    "ABORT_CLOSED",
    "ABORT_DEADLINE",
    "INLINE_BUDGET_SECONDS",
    "NOT_NOW",
    "Engine",
    "Request",
    "current_worker_engine",
]

_EXIT_JOIN_SECONDS = 2.0
_worker_numbers = count(1)


def _close_marker(connection: Any) -> None:
    """Queued to make the worker close the connection and exit (never called)."""


class Engine:
    """A worker thread serving one sync connection for one event loop.

    ``current``, ``closing``, ``conn`` and ``pending`` are read by the
    engine's other parts (and ``closing`` by the cursor's hot loop, as a
    plain attribute); only this module writes them. The entry points of
    the other parts (``run_inline``, ``should_abort``...) are their bound
    methods, set in ``__init__``: calling them costs no more than a method.
    """

    def __init__(self, adapter: AdapterPort, *, check_progress_steps: int | None) -> None:
        self.adapter = adapter
        self.requests_served = 0
        """Requests the worker has finished; tests use it to count round trips."""
        self.current: Request | None = None
        """The request the worker is running (written by the worker)."""
        self.closing = False
        """True once closing has begun; every new request then fails."""
        self.conn: Any = None
        """The sync connection, from its opening to its closing (written by the worker)."""
        self.pending = 0
        """Requests queued or running (changed under ``_lock``): the worker is idle at 0."""
        self._queue: SimpleQueue[Request] = SimpleQueue()
        self._done: deque[Request] = deque()
        self._wake_pending = False
        self._lock = threading.Lock()  # orders enqueue against worker exit
        self._exec_lock = threading.Lock()  # held by whichever thread is using the connection
        self._worker_gone = False
        self._closer: Callable[[Any], None] = _default_closer
        self._on_exit: Callable[[], None] | None = None
        self._thread = threading.Thread(
            target=self._serve, name=f"aiolite-worker-{next(_worker_numbers)}", daemon=True
        )
        self.inline = inline = InlineRuns(self, self._exec_lock, self._thread)
        self.progress = progress = Progress(self, inline.abandon, check_progress_steps)
        self._streak = inline.streak
        self._tuner = progress.tuner
        # Loop-thread runs (see InlineRuns):
        self.run_inline = inline.run
        self.keep_in_worker = inline.keep_in_worker
        self.abandon_inline = inline.abandon
        self.inline_streak_expired = inline.streak.expired
        # The progress handler and the questions it answers (see Progress):
        self.should_abort = progress.should_abort
        self.stop_reason = progress.stop_reason
        self.set_user_progress_handler = progress.set_user_handler

    # ----------------------------------------------------------------- loop side

    @property
    def closed(self) -> bool:
        """True once closing has begun; every new request then fails."""
        return self.closing

    @property
    def thread(self) -> threading.Thread:
        """The worker thread: whoever must know it has exited (tests, at-exit) joins it."""
        return self._thread

    async def open(
        self,
        create: Callable[[], Any],
        configure: Callable[[Any], Any],
        closer: Callable[[Any], None],
    ) -> Any:
        """Start the worker, create the connection in it, and return ``configure``'s result."""
        self._closer = closer
        try:
            self._thread.start()
        except RuntimeError as exc:
            # CPython's "can't start new thread": the process is out of threads
            # or memory. Nothing was started, so nothing is registered to be
            # stopped or joined at exit; the engine is closed for good.
            self.closing = True
            raise RuntimeError(
                f"could not start a worker thread for the connection ({exc}): "
                "the process has run out of threads or memory"
            ) from exc
        _live_engines.add(self)
        return await self.submit(self._open_in_worker, create, configure)

    async def submit(self, fn: Callable[..., Any], *args: Any, cancellable: bool = True) -> Any:
        """Run ``fn(sync_connection, *args)`` in the worker and return its result.

        Cancelling the awaiting task cancels the request unless
        ``cancellable`` is False (used for rollbacks that must happen); such a
        request also ignores deadlines.
        """
        adapter = self.adapter
        adapter.check_loop()
        if self.closing:
            raise ConnectionClosedError("the connection is closed")
        blocked = blocked_engines.get()
        if blocked and self in blocked:
            raise CallbackDeadlockError(
                "an async callback awaited the connection that is waiting for it; "
                "use a sync callback (it gets the connection) or another connection"
            )
        request = Request(adapter, fn, args, copy_context(), cancellable)
        await adapter.wait(request, self._enqueue)
        if self._streak.started is not None:  # (a read, not a call, on the hot path)
            self._streak.reset()  # the caller suspended: the loop had its turn
        if request.expired:
            raise adapter.deadline_error("the request's deadline passed")
        if request.error is not None:
            await request.raise_failure()
        return request.value

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn`` with nobody waiting for it (safe from any thread, even a finalizer)."""
        if not self.closing:
            self._enqueue(Request(self.adapter, fn, args, Context(), cancellable=False))

    async def close(self) -> None:
        """Stop the worker and close the connection; every request not yet done fails.

        Requests queued behind the close fail with ``ConnectionClosedError``;
        the one running is stopped inside SQLite and fails the same way
        (unless it finishes first). Idempotent, and a cancelled close still
        finishes: its close request stays queued (nobody can cancel it), the
        worker closes and exits, and the next ``close()`` waits for that.
        When it returns, the worker thread has ended (or is past the last
        thing it does, after two seconds).
        """
        thread = self._thread
        if thread.ident is None:  # never started: nothing to close
            self.closing = True
            return
        error: BaseException | None = None
        if not self._worker_gone and thread.is_alive():
            self.adapter.check_loop()  # before any state changes: a refused close changes nothing
            self._cancel_running_callback()
            request = self._begin_close()
            await self.adapter.wait(request, self._enqueue)
            error = request.error
        # Also after a cancelled close: the worker may be gone but its thread
        # not yet ended, and the caller is promised it has.
        if thread is not threading.current_thread():
            thread.join(_EXIT_JOIN_SECONDS)
        if error is not None:
            raise error

    def begin_close(self) -> None:
        """Start closing, loop thread, without waiting: the worker closes and exits on its own.

        For a caller that must not be left half way by a cancellation (a pool
        stopping all of its connections at once); ``close()`` afterwards
        waits for the worker to be done. Idempotent.
        """
        if self.closing:
            return
        if self._thread.ident is None:  # never started
            self.closing = True
            return
        self.adapter.check_loop()
        self._cancel_running_callback()
        self._enqueue(self._begin_close())

    def call_when_gone(self, callback: Callable[[], None]) -> None:
        """Have the worker call ``callback()``, in its thread, as the last thing it does.

        By then the connection is closed and every request left has failed,
        so whoever was waiting on work the worker will now never do (a
        posted request that closing skipped) can be told, even if the
        ``close()`` that began it was cancelled. Called at once if the
        worker has already gone. ``callback`` must not raise.
        """
        with self._lock:
            if not self._worker_gone:
                self._on_exit = callback
                return
        callback()

    def _cancel_running_callback(self) -> None:
        running = self.current
        if running is not None and running.callback is not None:
            self.adapter.cancel_callback(running.callback)  # only the loop thread may

    def stop(self, timeout: float | None = _EXIT_JOIN_SECONDS) -> None:
        """Close from synchronous code, any thread, with or without a running loop.

        Waits up to ``timeout`` seconds for the worker to exit (not at all
        when ``timeout`` is None, or when called from the worker itself).
        """
        if self._thread.ident is None or not self._thread.is_alive():
            self.closing = True
            return
        if not self.closing:
            self._enqueue(self._begin_close())
        if (
            timeout is not None
            and self._thread.ident is not None
            and threading.current_thread() is not self._thread
        ):
            self._thread.join(timeout)

    def _enqueue(self, request: Request) -> bool:
        """Queue ``request``; if the worker has exited, fail it instead and return False."""
        with self._lock:
            if not self._worker_gone:
                self.pending += 1
                self._queue.put(request)
                return True
        if request.fn is not _close_marker:
            request.error = ConnectionClosedError("the connection is closed")
        return False

    def interrupt(self) -> None:
        """``sqlite3_interrupt`` now: stops every running statement, whoever's (thread-safe)."""
        conn = self.conn
        if conn is not None:
            conn.interrupt()

    def _begin_close(self) -> Request:
        """Refuse new requests, stop the running one, and make the request that closes.

        ``interrupt()`` is safe here only because everything it can reach is
        being stopped anyway; it also reaches what the progress handler
        cannot (a long sort, a single huge step).
        """
        self.closing = True
        conn = self.conn
        if conn is not None and (self.current is not None or self.inline.active):
            conn.interrupt()
        return Request(self.adapter, _close_marker, (), Context(), cancellable=False)

    def _drain(self) -> None:
        """Resolve every finished request in one wake-up of the loop."""
        self._wake_pending = False
        self.adapter.resolve_all(self._done)

    # --------------------------------------------------------------- worker side

    def _serve(self) -> None:
        _this_worker.engine = self
        get = self._queue.get
        exec_lock = self._exec_lock
        try:
            while True:
                request = get()
                with exec_lock:
                    if request.fn is _close_marker:
                        try:
                            self._close_connection()
                        except BaseException as exc:  # closed anyway; the closer learns why
                            request.error = exc
                        self._finish(request)
                        return
                    skipped = False
                    if self.closing:
                        request.error = ConnectionClosedError("the connection is closed")
                    elif request.cancelled:
                        skipped = True  # its task has moved on; nobody is waiting
                    else:
                        self._run(request)
                    with self._lock:
                        self.pending -= 1
                if not skipped:
                    self._finish(request)  # outside the lock: the woken loop may run inline
                # Hold nothing of a finished request while waiting for the next: its
                # arguments may be all that keeps an unclosed connection (or a pool
                # holding one) alive, and only its collection stops this thread.
                del request
        finally:
            with exec_lock:
                self._close_connection()
            self._fail_leftovers()
            _live_engines.discard(self)
            on_exit, self._on_exit = self._on_exit, None
            if on_exit is not None:
                on_exit()

    def _run(self, request: Request) -> None:
        if request.deadline is not None and monotonic() >= request.deadline:
            request.aborted = ABORT_DEADLINE
            request.error = TimeoutError("deadline passed while the request was queued")
            return
        tuner = self._tuner
        if tuner.steps != tuner.start and self.conn is not None:
            self.conn.set_progress_handler(self.progress.on_progress, tuner.restart())
        self.current = request
        try:
            request.value = request.context.run(request.fn, self.conn, *request.args)
        except BaseException as exc:
            request.error = exc
            if self.closing and request.aborted is None:
                # close() interrupted it (sqlite3_interrupt is seen before the progress handler)
                request.aborted = ABORT_CLOSED
        finally:
            self.current = None  # (see _serve: keep no finished request)

    def _finish(self, request: Request) -> None:
        self.requests_served += 1
        if request.waiter is None:
            return
        self._done.append(request)
        # (A wake-up queued just before the loop closed never runs: ask again then.)
        if not self._wake_pending or self.adapter.loop_finished():
            self._wake_pending = True
            if not self.adapter.call_soon_threadsafe(self._drain):
                self._wake_pending = False  # the loop is gone; nobody is left to tell
                self._done.clear()  # nor to drain: holding them would keep their tasks alive

    def _open_in_worker(
        self, _no_connection_yet: None, create: Callable[[], Any], configure: Callable[[Any], Any]
    ) -> Any:
        conn = create()
        self.conn = conn
        conn.set_progress_handler(self.progress.on_progress, self._tuner.steps)
        return configure(conn)

    def _close_connection(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            self._closer(conn)

    def _fail_leftovers(self) -> None:
        with self._lock:
            self._worker_gone = True
            leftovers: list[Request] = []
            while not self._queue.empty():
                leftovers.append(self._queue.get_nowait())
        for request in leftovers:
            if request.fn is not _close_marker:
                request.error = ConnectionClosedError("the connection is closed")
            self._finish(request)


_this_worker = threading.local()


def current_worker_engine() -> Engine | None:
    """The engine whose worker thread is the calling thread, or None elsewhere.

    Process-wide callbacks (a VFS) use it to find the event loop that can run
    their async methods.
    """
    engine: Engine | None = getattr(_this_worker, "engine", None)
    return engine


def _default_closer(conn: Any) -> None:
    conn.close()


_live_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


@atexit.register
def _stop_all_at_exit() -> None:
    """Close connections left open at interpreter exit, waiting a bounded time.

    Workers are daemon threads, so the process can never hang on one; this
    gives each a chance to close its database cleanly first.
    """
    engines = list(_live_engines)
    for engine in engines:
        # One engine that cannot be stopped must not keep the others from it.
        with suppress(Exception):
            engine.stop(timeout=None)
    deadline = monotonic() + _EXIT_JOIN_SECONDS
    current = threading.current_thread()
    for engine in engines:
        thread = engine.thread
        # A thread that never started cannot be joined (it raises, and the
        # engines after it would go unjoined); open() no longer registers one.
        if thread.ident is not None and thread is not current:
            thread.join(max(0.0, deadline - monotonic()))
