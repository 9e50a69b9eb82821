"""The connection's one progress handler: aiolite's stop checks, the user's, and their pace.

SQLite calls a progress handler every N virtual-machine steps, and it is the
only way to stop a statement from the inside at a safe point. aiolite's
handler asks "should the *current* request stop?" (cancelled, past its
deadline, the connection closing, its loop gone). Because the question is
always about the current request, a cancellation can never spill into the
next one, which a bare ``sqlite3_interrupt()`` could: its flag outlives the
statement it was meant for while any other statement on the connection is
active.

SQLite allows one progress handler per connection and aiolite's must stay,
so a user's own handler is chained after it rather than installed.

The handler needs the GIL, and a busy event loop holds it: each check can
then wait a full switch interval (5 ms). So :class:`StepTuner` adapts N to
keep about ``CHECK_EVERY_CPU_SECONDS`` of worker CPU time between checks:
fast queries are checked rarely enough not to be slowed by a busy loop,
slow-stepping ones often enough to stop within milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from time import monotonic, thread_time
from typing import TYPE_CHECKING, Any

from .request import ABORT_CANCELLED, ABORT_CLOSED, ABORT_DEADLINE

if TYPE_CHECKING:
    from .engine import Engine

DEFAULT_STEPS = 10_000
MIN_STEPS = 1_000
MAX_STEPS = 2_000_000
CHECK_EVERY_CPU_SECONDS = 0.002
RETUNE_FACTOR = 1.5
"""Retune only when the wanted count differs by more than this factor: no churn on noise."""


class StepTuner:
    """How many SQLite steps to run between two checks: pure arithmetic, no clock, no thread.

    The caller measures (worker CPU time, steps run) and installs what this
    returns, so the rule can be tested with made-up times.

    >>> tuner = StepTuner()
    >>> tuner.check(cpu_now=0.0, measured=10_000, period=1)   # first check: just a reading
    >>> tuner.check(cpu_now=0.01, measured=10_000, period=1)  # 10 ms for 10k steps: too slow
    2000
    >>> tuner.restart()                                          # the next request starts afresh
    10000
    """

    __slots__ = ("_base", "_cap", "_last_cpu", "_period", "adaptive", "interval", "start", "steps")

    def __init__(self, steps: int | None = None) -> None:
        self.adaptive = steps is None
        """False when the user fixed the count (``check_progress_steps``): never retune."""
        self._base = steps or DEFAULT_STEPS
        self._cap = MAX_STEPS
        self.start = self._base
        """The count each request starts with: the base, or the user handler's pace if lower."""
        self.steps = self._base
        """The count in force now."""
        self.interval = self._base
        """The count governing SQLite's current interval; whoever installs the handler sets it.

        SQLite moves its next check point *before* calling the handler,
        using the count in force until then: so the count installed at a
        check governs the interval after next, not the one that just began.
        """
        self._period: object = None
        self._last_cpu = 0.0

    def restart(self) -> int:
        """A new request begins: it may step far slower than the last, so check often again."""
        self.steps = self.interval = self.start
        return self.start

    def cap(self, limit: int | None) -> int:
        """Never run more than ``limit`` steps between checks (None: no limit); the count now.

        A chained user handler must be called about every ``limit`` steps,
        which only works if aiolite's checks come at least that often.
        """
        self._cap = MAX_STEPS if limit is None else limit
        self.start = min(self._base, self._cap)
        self.steps = self.interval = min(self.steps, self._cap)
        return self.steps

    def check(self, cpu_now: float, measured: int, period: object) -> int | None:
        """A check came ``measured`` steps after the last, at worker CPU time ``cpu_now``.

        Returns the count to install, or None to keep the current one.
        ``period`` is anything that differs between requests: the first
        check of a request only takes a reading, since the time since the
        last check covers another request's steps (or none).
        """
        if period != self._period:
            self._period = period
            self._last_cpu = cpu_now
            return None
        cpu_seconds = cpu_now - self._last_cpu
        self._last_cpu = cpu_now
        if cpu_seconds <= 0:
            wanted = measured * 2
        else:
            wanted = int(measured * CHECK_EVERY_CPU_SECONDS / cpu_seconds)
        wanted = max(MIN_STEPS, min(MAX_STEPS, wanted))
        steps = self.steps
        if wanted > steps * RETUNE_FACTOR or wanted * RETUNE_FACTOR < steps:
            wanted = min(wanted, self._cap)
            if wanted != steps:
                self.steps = wanted
                return wanted
        return None


class Progress:
    """Worker side: the handler SQLite calls, and the questions it answers for others.

    Busy handlers, backups and hooks ask :meth:`should_abort` too: anywhere
    the worker waits must stop for the same reasons a statement does.
    """

    __slots__ = (
        "_abandon_inline",
        "_engine",
        "_user",
        "_user_pending",
        "_user_steps",
        "tuner",
    )

    def __init__(
        self, engine: Engine, abandon_inline: Callable[[], bool], steps: int | None
    ) -> None:
        self._engine = engine
        self._abandon_inline = abandon_inline
        self.tuner = StepTuner(steps)
        self._user: Callable[[], Any] | None = None
        self._user_steps = MAX_STEPS
        self._user_pending = 0  # steps run since the user's handler was last called

    def should_abort(self) -> bool:
        """Should the current request stop now? Records why if so.

        An inline run on the loop thread asks the same question and is told
        to stop whenever anything else would have to wait for it.
        """
        if self._abandon_inline():
            return True
        engine = self._engine
        request = engine.current
        if request is None:
            return engine.closing
        if request.cancelled:
            request.aborted = ABORT_CANCELLED
            return True
        if engine.closing:
            request.aborted = ABORT_CLOSED
            return True
        if request.deadline is not None and monotonic() >= request.deadline:
            request.aborted = ABORT_DEADLINE
            return True
        if engine.adapter.loop_finished():
            # Nobody can ever take the result (an asyncio loop closed by hand, its
            # tasks never cancelled). Running on would also keep the request, and
            # through its waiting task the connection, alive: no collection, no stop.
            request.aborted = ABORT_CANCELLED
            return True
        return False

    def stop_reason(self) -> str | None:
        """Why aiolite stopped the request being served (``ABORT_*``), if it did.

        None when it was not stopped by aiolite (it failed on its own), or
        when no request is being served (an inline run). A request whose
        deadline the waiting side saw pass first was stopped as cancelled;
        it is reported as what it is, a deadline.
        """
        request = self._engine.current
        if request is None:
            return None
        reason = request.aborted
        if reason == ABORT_CANCELLED and (
            request.expired or (request.deadline is not None and monotonic() >= request.deadline)
        ):
            return ABORT_DEADLINE
        return reason

    def set_user_handler(self, handler: Callable[[], Any] | None, steps: int) -> None:
        """Chain the user's own progress handler after aiolite's (None removes it).

        It is called about every ``steps`` steps; a true result aborts the
        statement, as SQLite does.
        """
        if handler is not None and steps < 1:
            raise ValueError(f"steps must be positive, not {steps}")
        self._user = handler
        self._user_steps = steps if handler is not None else MAX_STEPS
        self._user_pending = 0
        steps = self.tuner.cap(steps if handler is not None else None)
        conn = self._engine.conn
        if conn is not None:
            conn.set_progress_handler(self.on_progress, steps)

    def on_progress(self) -> bool:
        """The handler SQLite calls: True stops the running statement."""
        if self.should_abort():
            return True
        tuner = self.tuner
        measured, tuner.interval = tuner.interval, tuner.steps
        user = self._user
        if user is not None:
            self._user_pending += measured
            if self._user_pending >= self._user_steps:
                self._user_pending = 0
                if user():
                    return True
        if tuner.adaptive:
            steps = tuner.check(thread_time(), measured, self._engine.requests_served)
            if steps is not None:
                self._engine.conn.set_progress_handler(self.on_progress, steps)
        return False
