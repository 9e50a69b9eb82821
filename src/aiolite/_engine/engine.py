"""Layer 1: one worker thread per SQLite connection, driven from an event loop.

The engine knows nothing about SQL. It runs callables ``fn(sync_connection,
*args)`` one at a time, in submission order, in a dedicated thread, and hands
each outcome back to the event loop that asked. It touches the sync
connection only through ``set_progress_handler``, ``interrupt`` and the
closer it is given, so it serves APSW and the standard ``sqlite3`` alike.

Cancellation and deadlines are per request. The waiting task is released at
once (the framework's own cancellation propagates); the request is marked,
and the progress handler, which asks "should the *current* request stop?",
stops it inside SQLite at its next check. Because the question is always
about the current request, a cancellation can never spill into the next one,
which a bare ``sqlite3_interrupt()`` could: its flag outlives the statement
it was meant for while any other statement on the connection is active.
``interrupt()`` is used only when the connection is closing, when everything
in flight is being stopped anyway.

The progress handler needs the GIL, and a busy event loop holds it: each
check can then wait a full switch interval (5 ms). So the step count between
checks adapts to keep about ``_CHECK_EVERY_CPU_SECONDS`` of worker CPU time
between checks: fast queries are checked rarely enough not to be slowed by a
busy loop, slow-stepping ones often enough to stop within milliseconds.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from contextvars import Context, ContextVar, copy_context
from math import inf
from queue import SimpleQueue
from time import monotonic, thread_time
from typing import Any, NoReturn

from .._errors import CallbackDeadlockError, ConnectionClosedError
from .._frameworks._base import CallbackCall, FrameworkAdapter
from .deadline import deadline as deadline_var

_DEFAULT_STEPS = 10_000
_MIN_STEPS = 1_000
_MAX_STEPS = 2_000_000
_CHECK_EVERY_CPU_SECONDS = 0.002
_RETUNE_FACTOR = 1.5
_CALLBACK_POLL_SECONDS = 0.1
_INLINE_STEPS = 500  # SQLite steps between budget checks while running inline
INLINE_BUDGET_SECONDS = 0.0005
"""How long a statement may run on the loop thread before it is abandoned for the worker."""
_INLINE_STREAK_SECONDS = 0.002  # inline work after which the caller yields to the loop once
_EXIT_JOIN_SECONDS = 2.0

# Why the progress handler (or a busy handler) stopped the current request.
ABORT_CANCELLED = "cancelled"
ABORT_CLOSED = "closed"
ABORT_DEADLINE = "deadline"

_serving: ContextVar[frozenset[Engine]] = ContextVar("aiolite serving", default=frozenset())
"""The engines whose worker is blocked on an async callback running in this context."""


def _close_marker(connection: Any) -> None:
    """Queued to make the worker close the connection and exit (never called)."""


class _Sentinel:
    __slots__ = ()


NOT_NOW: Any = _Sentinel()
"""What :meth:`Engine.run_inline` returns when the worker is busy: nothing was tried."""
ABANDONED: Any = _Sentinel()
"""What :meth:`Engine.run_inline` returns when the call started but had to stop unfinished."""


class _AbandonInline(Exception):
    """Raised where an inline run cannot continue on the loop thread (an async callback)."""


class Request:
    """One call to run in the worker, and everything both threads know about it."""

    __slots__ = (
        "aborted",
        "args",
        "callback",
        "cancellable",
        "cancelled",
        "context",
        "deadline",
        "deadline_from_scope",
        "engine",
        "error",
        "expired",
        "fn",
        "framework_deadline",
        "value",
        "waiter",
    )

    def __init__(
        self,
        engine: Engine,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        context: Context,
        cancellable: bool,
    ) -> None:
        self.engine = engine
        self.fn = fn
        self.args = args
        self.context = context
        self.cancellable = cancellable
        self.cancelled = False
        self.deadline: float | None = None  # time.monotonic() based
        self.deadline_from_scope = False
        self.framework_deadline = inf
        self.aborted: str | None = None
        self.expired = False  # loop side only: aiolite.deadline passed while it waited
        self.value: Any = None
        self.error: BaseException | None = None
        self.waiter: Any = None  # the adapter's handle on the waiting task
        self.callback: CallbackCall | None = None

    @property
    def explicit_deadline(self) -> float | None:
        """The ``aiolite.deadline`` the waiting side must enforce itself (framework clock).

        Deadlines of the framework's own cancel scopes need no help: the
        framework cancels the waiting task when they pass.
        """
        if self.deadline is None or self.deadline_from_scope:
            return None
        return self.framework_deadline

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
            self.engine.adapter.cancel_callback(call)


class Engine:
    """A worker thread serving one sync connection for one event loop."""

    _names = 0

    def __init__(self, adapter: FrameworkAdapter, *, check_progress_steps: int | None) -> None:
        Engine._names += 1
        self.adapter = adapter
        self.requests_served = 0
        """Requests the worker has finished; tests use it to count round trips."""
        self._queue: SimpleQueue[Request] = SimpleQueue()
        self._done: deque[Request] = deque()
        self._wake_pending = False
        self._lock = threading.Lock()  # orders enqueue against worker exit
        self._pending = 0  # requests queued or running (changed under _lock)
        self._exec_lock = threading.Lock()  # held by whichever thread is using the connection
        self.inline_allowed = True
        """False once something makes loop-thread runs unsafe: see :meth:`keep_in_worker`."""
        self._inline_active = False
        self._inline_abandoned = False
        self._inline_until = 0.0
        self._streak_started: float | None = None
        self._worker_gone = False
        self._closing = False
        self._current: Request | None = None
        self._conn: Any = None
        self._closer: Callable[[Any], None] = _default_closer
        self._adaptive = check_progress_steps is None
        self._base_steps = check_progress_steps or _DEFAULT_STEPS
        self._steps = self._base_steps
        self._interval_steps = self._steps  # the count governing SQLite's current interval
        self._checked: Request | None = None
        self._last_cpu = 0.0
        self._user_progress: Callable[[], Any] | None = None
        self._user_steps = _MAX_STEPS
        self._user_pending = 0  # steps run since the user's handler was last called
        self._thread = threading.Thread(
            target=self._serve, name=f"aiolite-worker-{Engine._names}", daemon=True
        )

    # ----------------------------------------------------------------- loop side

    @property
    def closed(self) -> bool:
        """True once closing has begun; every new request then fails."""
        return self._closing

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    @property
    def serving(self) -> bool:
        """True while the worker is running a request (read from any thread)."""
        return self._current is not None

    def mark_serving(self, context: Context) -> None:
        """Make awaiting this engine from ``context`` fail at once (CallbackDeadlockError).

        For coroutines the worker waits on: they would wait for themselves.
        """
        context.run(_mark_serving, self)

    async def open(
        self,
        create: Callable[[], Any],
        configure: Callable[[Any], Any],
        closer: Callable[[Any], None],
    ) -> Any:
        """Start the worker, create the connection in it, and return ``configure``'s result."""
        self._closer = closer
        _live_engines.add(self)
        self._thread.start()
        return await self.submit(self._open_in_worker, create, configure)

    async def submit(self, fn: Callable[..., Any], *args: Any, cancellable: bool = True) -> Any:
        """Run ``fn(sync_connection, *args)`` in the worker and return its result.

        Cancelling the awaiting task cancels the request unless
        ``cancellable`` is False (used for rollbacks that must happen); such a
        request also ignores deadlines.
        """
        request = self._new_request(fn, args, cancellable)
        await self.adapter.wait(request, self._enqueue)
        self._streak_started = None  # the caller suspended: the loop had its turn
        if request.expired:
            raise self.adapter.deadline_error("the request's deadline passed")
        if request.error is not None:
            await self._raise_failure(request)
        return request.value

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn`` with nobody waiting for it (safe from any thread, even a finalizer)."""
        if not self._closing:
            self._enqueue(Request(self, fn, args, Context(), cancellable=False))

    async def close(self) -> None:
        """Stop the worker and close the connection; every request not yet done fails.

        Requests queued behind the close fail with ``ConnectionClosedError``;
        the one running is stopped inside SQLite and fails the same way
        (unless it finishes first). Idempotent.
        """
        if self._worker_gone or not self._thread.is_alive():
            return
        self.adapter.check_loop()  # before any state changes: a refused close changes nothing
        running = self._current
        if running is not None and running.callback is not None:
            self.adapter.cancel_callback(running.callback)  # only the loop thread may
        request = self._begin_close()
        await self.adapter.wait(request, self._enqueue)
        self._thread.join(_EXIT_JOIN_SECONDS)
        if request.error is not None:
            raise request.error

    def stop(self, timeout: float | None = _EXIT_JOIN_SECONDS) -> None:
        """Close from synchronous code, any thread, with or without a running loop.

        Waits up to ``timeout`` seconds for the worker to exit (not at all
        when ``timeout`` is None, or when called from the worker itself).
        """
        if self._thread.ident is None or not self._thread.is_alive():
            self._closing = True
            return
        if not self._closing:
            self._enqueue(self._begin_close())
        if (
            timeout is not None
            and self._thread.ident is not None
            and threading.current_thread() is not self._thread
        ):
            self._thread.join(timeout)

    def _new_request(
        self, fn: Callable[..., Any], args: tuple[Any, ...], cancellable: bool
    ) -> Request:
        adapter = self.adapter
        adapter.check_loop()
        if self._closing:
            raise ConnectionClosedError("the connection is closed")
        serving = _serving.get()
        if serving and self in serving:
            raise CallbackDeadlockError(
                "an async callback awaited the connection that is waiting for it; "
                "use a sync callback (it gets the connection) or another connection"
            )
        request = Request(self, fn, args, copy_context(), cancellable)
        if not cancellable:
            return request  # clean-up (a rollback) must run even after the deadline passed
        explicit = deadline_var.get()
        scoped = adapter.effective_deadline()
        if explicit is not None or scoped != inf:
            now = adapter.now()
            if explicit is not None and explicit <= scoped:
                if explicit <= now:
                    raise adapter.deadline_error("aiolite.deadline had already passed")
                request.framework_deadline = explicit
            else:
                request.framework_deadline = scoped
                request.deadline_from_scope = True
            request.deadline = monotonic() + (request.framework_deadline - now)
        return request

    def _enqueue(self, request: Request) -> bool:
        """Queue ``request``; if the worker has exited, fail it instead and return False."""
        with self._lock:
            if not self._worker_gone:
                self._pending += 1
                self._queue.put(request)
                return True
        if request.fn is not _close_marker:
            request.error = ConnectionClosedError("the connection is closed")
        return False

    def run_inline(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(sync_connection, *args)`` here on the loop thread, if that is safe and quick.

        A thread round trip costs 50-80 us; a point query in SQLite about 1 us.
        So when the worker is idle (nothing queued or running, so no request
        is overtaken), a statement the caller knows to be a tiny read runs
        right here, under a budget of ``INLINE_BUDGET_SECONDS``. Past the
        budget, or at anything that must not happen on the loop thread (a
        busy wait, an async callback, a statement that writes), SQLite
        abandons it and this returns ``ABANDONED``: the caller re-runs it in
        the worker, which is safe because it changed nothing. ``NOT_NOW``
        means the worker was busy and nothing was tried. Errors of the
        statement itself are raised as they would be from the worker.
        """
        if not self.inline_allowed or self._pending or self._closing:
            return NOT_NOW
        if not self._exec_lock.acquire(blocking=False):
            return NOT_NOW
        conn = self._conn
        started = monotonic()
        try:
            if self._pending or conn is None:  # a request arrived from another thread
                return NOT_NOW
            self._inline_active = True
            self._inline_abandoned = False
            self._inline_until = started + INLINE_BUDGET_SECONDS
            conn.set_progress_handler(self._on_inline_progress, _INLINE_STEPS)
            try:
                result = fn(conn, *args)
            except Exception as exc:
                if self._closing:  # stop() from another thread interrupted it
                    raise ConnectionClosedError("the connection was closed") from exc
                if self._inline_abandoned:
                    return ABANDONED
                raise
            finally:
                self._inline_active = False
                conn.set_progress_handler(self._on_progress, self._steps)
                self._interval_steps = self._steps
            return ABANDONED if self._inline_abandoned else result
        finally:
            self._exec_lock.release()
            if self._streak_started is None:
                self._streak_started = started

    def keep_in_worker(self) -> None:
        """From now on, run nothing inline: user code (callbacks, virtual tables, a
        Python VFS, whatever ``run`` registered) may be called by any statement,
        and it must run in the worker, where it may block, write or await."""
        self.inline_allowed = False

    def abandon_inline(self) -> bool:
        """If running inline, mark the run abandoned and return True: the caller must stop it."""
        if self._inline_active and threading.current_thread() is not self._thread:
            self._inline_abandoned = True
            return True
        return False

    def _on_inline_progress(self) -> bool:
        if monotonic() > self._inline_until:
            self._inline_abandoned = True
            return True
        return False

    def inline_streak_expired(self) -> bool:
        """True when inline runs have kept the loop busy long enough that the caller should yield.

        Inline runs never suspend, so a task issuing them back to back would
        otherwise starve every other task of the loop.
        """
        started = self._streak_started
        if started is None or monotonic() - started < _INLINE_STREAK_SECONDS:
            return False
        self._streak_started = None
        return True

    async def _raise_failure(self, request: Request) -> NoReturn:
        error = request.error
        assert error is not None
        if request.aborted == ABORT_DEADLINE:
            if request.deadline_from_scope:
                # The enclosing cancel scope expires now; let it cancel us so the
                # framework raises its own timeout (trio.TooSlowError, anyio's TimeoutError).
                await self.adapter.sleep_until(request.framework_deadline)
            raise self.adapter.deadline_error("the request's deadline passed") from error
        if request.aborted == ABORT_CLOSED:
            raise ConnectionClosedError(
                "the connection was closed while this request ran"
            ) from error
        raise error

    def interrupt(self) -> None:
        """``sqlite3_interrupt`` now: stops every running statement, whoever's (thread-safe)."""
        conn = self._conn
        if conn is not None:
            conn.interrupt()

    def _begin_close(self) -> Request:
        """Refuse new requests, stop the running one, and make the request that closes.

        ``interrupt()`` is safe here only because everything it can reach is
        being stopped anyway; it also reaches what the progress handler
        cannot (a long sort, a single huge step).
        """
        self._closing = True
        conn = self._conn
        if conn is not None and (self._current is not None or self._inline_active):
            conn.interrupt()
        return Request(self, _close_marker, (), Context(), cancellable=False)

    def _drain(self) -> None:
        """Resolve every finished request in one wake-up of the loop."""
        self._wake_pending = False
        done = self._done
        resolve = self.adapter.resolve
        while done:
            resolve(done.popleft())

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
                    if self._closing:
                        request.error = ConnectionClosedError("the connection is closed")
                    elif request.cancelled:
                        skipped = True  # its task has moved on; nobody is waiting
                    else:
                        self._run(request)
                    with self._lock:
                        self._pending -= 1
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

    def _run(self, request: Request) -> None:
        if request.deadline is not None and monotonic() >= request.deadline:
            request.aborted = ABORT_DEADLINE
            request.error = TimeoutError("deadline passed while the request was queued")
            return
        if self._steps != min(self._base_steps, self._user_steps) and self._conn is not None:
            # A new request may step far slower than the last: start checking often again.
            self._set_steps(self._base_steps)
            self._interval_steps = self._steps
        self._current = request
        try:
            request.value = request.context.run(request.fn, self._conn, *request.args)
        except BaseException as exc:
            request.error = exc
            if self._closing and request.aborted is None:
                # close() interrupted it (sqlite3_interrupt is seen before the progress handler)
                request.aborted = ABORT_CLOSED
        finally:
            self._current = None
            self._checked = None  # (see _serve: keep no finished request)

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
        self._conn = conn
        conn.set_progress_handler(self._on_progress, self._steps)
        return configure(conn)

    def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
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

    def should_abort(self) -> bool:
        """Worker side: should the current request stop now? Records why if so.

        The progress handler asks this; so may a busy handler or any other
        place where the worker waits.
        """
        if self.abandon_inline():
            return True
        request = self._current
        if request is None:
            return self._closing
        if request.cancelled:
            request.aborted = ABORT_CANCELLED
            return True
        if self._closing:
            request.aborted = ABORT_CLOSED
            return True
        if request.deadline is not None and monotonic() >= request.deadline:
            request.aborted = ABORT_DEADLINE
            return True
        if self.adapter.loop_finished():
            # Nobody can ever take the result (an asyncio loop closed by hand, its
            # tasks never cancelled). Running on would also keep the request, and
            # through its waiting task the connection, alive: no collection, no stop.
            request.aborted = ABORT_CANCELLED
            return True
        return False

    def stop_reason(self) -> str | None:
        """Worker side: why aiolite stopped the request being served (``ABORT_*``), if it did.

        None when it was not stopped by aiolite (it failed on its own), or
        when no request is being served (an inline run). A request whose
        deadline the waiting side saw pass first was stopped as cancelled;
        it is reported as what it is, a deadline.
        """
        request = self._current
        if request is None:
            return None
        reason = request.aborted
        if reason == ABORT_CANCELLED and (
            request.expired or (request.deadline is not None and monotonic() >= request.deadline)
        ):
            return ABORT_DEADLINE
        return reason

    def set_user_progress_handler(self, handler: Callable[[], Any] | None, steps: int) -> None:
        """Worker side: chain the user's own progress handler after aiolite's.

        SQLite has one progress handler per connection and aiolite's must stay
        installed, so the user's is called from it, about every ``steps``
        steps (checks never run further apart than that while it is set). A
        true result aborts the statement, as SQLite does; None removes it.
        """
        if handler is not None and steps < 1:
            raise ValueError(f"steps must be positive, not {steps}")
        self._user_progress = handler
        self._user_steps = steps if handler is not None else _MAX_STEPS
        self._user_pending = 0
        if self._conn is not None:
            self._set_steps(self._steps)
            self._interval_steps = self._steps

    def _on_progress(self) -> bool:
        if self.should_abort():
            return True
        # SQLite moved its next check point *before* calling us, using the step
        # count in force until now: that count governs the coming interval,
        # and the one before it governed the interval just ended.
        measured_steps, self._interval_steps = self._interval_steps, self._steps
        user = self._user_progress
        if user is not None:
            self._user_pending += measured_steps
            if self._user_pending >= self._user_steps:
                self._user_pending = 0
                if user():
                    return True
        if self._adaptive:
            now = thread_time()
            if self._checked is self._current:
                self._retune(now - self._last_cpu, measured_steps)
            else:
                self._checked = self._current
            self._last_cpu = now
        return False

    def _retune(self, cpu_seconds: float, measured_steps: int) -> None:
        if cpu_seconds <= 0:
            wanted = measured_steps * 2
        else:
            wanted = int(measured_steps * _CHECK_EVERY_CPU_SECONDS / cpu_seconds)
        wanted = max(_MIN_STEPS, min(_MAX_STEPS, wanted))
        steps = self._steps
        if wanted > steps * _RETUNE_FACTOR or wanted * _RETUNE_FACTOR < steps:
            self._set_steps(wanted)

    def _set_steps(self, steps: int) -> None:
        steps = min(steps, self._user_steps)
        self._steps = steps
        self._conn.set_progress_handler(self._on_progress, steps)

    def call_async(self, function: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Worker side: run ``await function(*args)`` in the loop and return its result.

        The worker stays blocked (inside SQLite) meanwhile. The coroutine runs
        in the context of the request being served, so context variables set
        where the query was issued are visible; cancelling that request
        cancels it; the request's deadline bounds it.
        """
        if self.abandon_inline():
            raise _AbandonInline("async callbacks run only while the worker serves the statement")
        request = self._current
        if request is None:
            raise RuntimeError("an async callback can only run while a request is being served")
        context = request.context.copy()
        context.run(_mark_serving, self)
        call = CallbackCall(function, args, context, request.deadline)
        request.callback = call
        try:
            if not self.adapter.start_callback(call):
                raise ConnectionClosedError(
                    "the event loop has finished; the async callback cannot run"
                )
            while not call.done.wait(_CALLBACK_POLL_SECONDS):
                if self._closing:
                    raise ConnectionClosedError("the connection closed during an async callback")
        finally:
            request.callback = None
        if call.outcome == CallbackCall.VALUE:
            return call.value
        if call.outcome == CallbackCall.DEADLINE:
            request.aborted = ABORT_DEADLINE
            raise TimeoutError("the request's deadline passed during an async callback")
        if call.outcome == CallbackCall.CANCELLED:
            request.aborted = request.aborted or ABORT_CANCELLED
            raise _CallbackCancelled("the async callback was cancelled")
        assert call.error is not None
        raise call.error


class _CallbackCancelled(Exception):
    """Raised into SQLite when an async callback is cancelled, to abort its statement."""


_this_worker = threading.local()


def current_worker_engine() -> Engine | None:
    """The engine whose worker thread is the calling thread, or None elsewhere.

    Process-wide callbacks (a VFS) use it to find the event loop that can run
    their async methods.
    """
    engine: Engine | None = getattr(_this_worker, "engine", None)
    return engine


def _mark_serving(engine: Engine) -> None:
    _serving.set(_serving.get() | {engine})


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
        engine.stop(timeout=None)
    deadline = monotonic() + _EXIT_JOIN_SECONDS
    for engine in engines:
        engine.thread.join(max(0.0, deadline - monotonic()))
