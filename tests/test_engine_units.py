"""The engine's pure state machines, on their own: no threads, no loop, no sleeping.

The end-to-end tests show that inline runs, progress checks and yielding work
together; these pin each rule where it is decided, with made-up times, so a
change to one rule shows up as exactly the rule that changed.
"""

from __future__ import annotations

from contextvars import Context
from time import monotonic
from types import SimpleNamespace
from typing import Any

import pytest

from aiolite._engine import inline
from aiolite._engine.deadline import contextvar_set, deadline
from aiolite._engine.inline import LEARN_BELOW_SECONDS, InlinePolicy
from aiolite._engine.inline_runs import INLINE_BUDGET_SECONDS
from aiolite._engine.progress import (
    DEFAULT_STEPS,
    MAX_STEPS,
    MIN_STEPS,
    Progress,
    StepTuner,
)
from aiolite._engine.request import ABORT_CANCELLED, ABORT_CLOSED, ABORT_DEADLINE, Request
from aiolite._engine.streak import STREAK_SECONDS, InlineStreak

FAST = LEARN_BELOW_SECONDS / 2  # a worker run quick enough to be learned
SLOW = INLINE_BUDGET_SECONDS * 2  # an inline run past its budget


def tries(policy: InlinePolicy, sql: str, times: int) -> list[bool]:
    return [policy.should_try(sql) for _ in range(times)]


# ------------------------------------------------------------------ InlinePolicy


def test_only_a_fast_read_the_worker_ran_is_tried_inline() -> None:
    policy = InlinePolicy()
    assert not policy.should_try("SELECT 1")  # never seen: proof comes first
    policy.learned("SELECT 1", readonly=True, seconds=FAST)
    policy.learned("INSERT 1", readonly=False, seconds=FAST)
    policy.learned("SELECT slow", readonly=True, seconds=LEARN_BELOW_SECONDS)
    assert tries(policy, "SELECT 1", 3) == [True, True, True]
    assert not policy.should_try("INSERT 1")
    assert not policy.should_try("SELECT slow")


def test_an_abandoned_statement_waits_twice_as_long_each_time() -> None:
    policy = InlinePolicy()
    policy.learned("q", readonly=True, seconds=FAST)
    policy.abandoned("q")
    assert policy.probation("q") == 1
    assert tries(policy, "q", 2) == [False, True]
    policy.abandoned("q")
    assert policy.probation("q") == 3
    assert tries(policy, "q", 4) == [False, False, False, True]
    policy.abandoned("q")
    assert policy.probation("q") == 7


def test_relearning_does_not_cut_a_probation_short() -> None:
    policy = InlinePolicy()
    policy.learned("q", readonly=True, seconds=FAST)
    policy.abandoned("q")
    policy.abandoned("q")  # probation of 3 worker runs
    policy.learned("q", readonly=True, seconds=FAST)  # the worker ran it meanwhile
    assert tries(policy, "q", 4) == [False, False, False, True]


def test_probation_has_a_ceiling() -> None:
    policy = InlinePolicy()
    policy.learned("q", readonly=True, seconds=FAST)
    for _ in range(20):
        policy.abandoned("q")
    assert policy.probation("q") == inline._MAX_PENALTY


def test_one_overrun_is_a_fluke_two_in_a_row_are_probation() -> None:
    policy = InlinePolicy()
    policy.learned("q", readonly=True, seconds=FAST)
    policy.ran_inline("q", SLOW)
    assert policy.probation("q") == 0
    assert policy.should_try("q")
    policy.ran_inline("q", SLOW)
    assert policy.probation("q") == 1
    assert not policy.should_try("q")


def test_a_run_within_budget_breaks_a_run_of_overruns() -> None:
    policy = InlinePolicy()
    policy.learned("q", readonly=True, seconds=FAST)
    policy.ran_inline("q", SLOW)
    policy.ran_inline("q", INLINE_BUDGET_SECONDS / 2)
    policy.ran_inline("q", SLOW)
    assert policy.probation("q") == 0
    assert policy.should_try("q")


def test_runs_within_budget_forgive_past_probations() -> None:
    policy = InlinePolicy()
    policy.learned("q", readonly=True, seconds=FAST)
    for _ in range(3):
        policy.abandoned("q")  # probation of 7
    policy.ran_inline("q", INLINE_BUDGET_SECONDS / 2)
    assert policy.probation("q") == 3
    policy.ran_inline("q", INLINE_BUDGET_SECONDS / 2)
    policy.ran_inline("q", INLINE_BUDGET_SECONDS / 2)
    assert policy.probation("q") == 0
    policy.abandoned("q")
    assert policy.probation("q") == 1  # the next fluke costs one worker run, not fifteen


def test_a_full_memory_forgets_everything_and_learns_afresh() -> None:
    policy = InlinePolicy()
    policy.learned("old", readonly=True, seconds=FAST)
    policy.abandoned("old")
    for i in range(inline._KEPT - 1):
        policy.learned(f"q{i}", readonly=True, seconds=FAST)
    assert policy.should_try("q0")  # still remembered: the memory is just full
    policy.learned("new", readonly=True, seconds=FAST)
    assert policy.should_try("new")
    assert not policy.should_try("q0")
    assert policy.probation("old") == 0


# --------------------------------------------------------------------- StepTuner


def test_the_first_check_of_a_request_only_takes_a_reading() -> None:
    tuner = StepTuner()
    assert tuner.check(cpu_now=5.0, measured=DEFAULT_STEPS, period=1) is None
    assert tuner.steps == DEFAULT_STEPS
    assert tuner.check(cpu_now=5.5, measured=DEFAULT_STEPS, period=2) is None  # a new request
    assert tuner.check(cpu_now=5.51, measured=DEFAULT_STEPS, period=2) == 2000


@pytest.mark.parametrize(
    ("cpu_seconds", "wanted"),
    [
        (0.001, 20_000),  # half the target time: run twice as many steps
        (0.010, 2_000),  # five times the target: a fifth
        (1.0, MIN_STEPS),  # no fewer than MIN_STEPS, however slow
        (1e-9, MAX_STEPS),  # no more than MAX_STEPS, however fast
        (0.0, 2 * DEFAULT_STEPS),  # no measurable time: double
    ],
)
def test_steps_follow_the_cpu_time_between_checks(cpu_seconds: float, wanted: int) -> None:
    tuner = StepTuner()
    tuner.check(cpu_now=0.0, measured=DEFAULT_STEPS, period=1)
    assert tuner.check(cpu_now=cpu_seconds, measured=DEFAULT_STEPS, period=1) == wanted
    assert tuner.steps == wanted


@pytest.mark.parametrize("cpu_seconds", [0.0014, 0.0029])
def test_steps_stay_put_unless_far_off(cpu_seconds: float) -> None:
    tuner = StepTuner()
    tuner.check(cpu_now=0.0, measured=DEFAULT_STEPS, period=1)
    assert tuner.check(cpu_now=cpu_seconds, measured=DEFAULT_STEPS, period=1) is None
    assert tuner.steps == DEFAULT_STEPS


def test_each_request_starts_checking_often_again() -> None:
    tuner = StepTuner()
    tuner.check(cpu_now=0.0, measured=DEFAULT_STEPS, period=1)
    tuner.check(cpu_now=1e-9, measured=DEFAULT_STEPS, period=1)
    tuner.interval = tuner.steps  # as the handler does at its next check
    assert (tuner.steps, tuner.interval) == (MAX_STEPS, MAX_STEPS)
    assert tuner.restart() == DEFAULT_STEPS
    assert (tuner.steps, tuner.interval) == (DEFAULT_STEPS, DEFAULT_STEPS)


def test_a_user_handler_caps_the_steps_until_removed() -> None:
    tuner = StepTuner()
    assert tuner.cap(300) == 300
    assert (tuner.start, tuner.interval) == (300, 300)
    tuner.check(cpu_now=0.0, measured=300, period=1)
    assert tuner.check(cpu_now=1e-9, measured=300, period=1) is None  # wants more; may not
    assert tuner.steps == 300
    assert tuner.cap(None) == 300  # removing it lifts the ceiling, nothing more
    assert tuner.start == DEFAULT_STEPS
    assert tuner.restart() == DEFAULT_STEPS


def test_a_fixed_step_count_is_not_adaptive() -> None:
    tuner = StepTuner(50_000)
    assert not tuner.adaptive
    assert (tuner.steps, tuner.start) == (50_000, 50_000)
    assert StepTuner().adaptive


# ---------------------------------------------------------------------- Progress


class FakeAdapter:
    """Just enough of a framework adapter for requests that wait for nobody."""

    deadline_error = TimeoutError

    def __init__(self) -> None:
        self.finished = False

    def loop_finished(self) -> bool:
        return self.finished


def checks(*, abandon: bool = False) -> tuple[Progress, Any]:
    engine: Any = SimpleNamespace(
        current=None, closing=False, conn=None, adapter=FakeAdapter(), requests_served=0
    )
    return Progress(engine, lambda: abandon, None), engine


def request(engine: Any) -> Request:
    return Request(engine.adapter, print, (), Context(), cancellable=False)


def test_between_requests_only_closing_stops_the_worker() -> None:
    checker, engine = checks()
    assert not checker.should_abort()
    engine.closing = True
    assert checker.should_abort()
    assert checker.stop_reason() is None


def test_an_inline_run_is_stopped_before_anything_else_is_asked() -> None:
    checker, engine = checks(abandon=True)
    engine.current = request(engine)
    assert checker.should_abort()
    assert engine.current.aborted is None


@pytest.mark.parametrize(
    ("cancelled", "closing", "deadline", "loop_gone", "reason"),
    [
        (True, True, None, True, ABORT_CANCELLED),  # cancellation is asked first
        (False, True, -1.0, True, ABORT_CLOSED),
        (False, False, -1.0, True, ABORT_DEADLINE),
        (False, False, None, True, ABORT_CANCELLED),  # nobody can take the result
        (False, False, 60.0, False, None),
    ],
)
def test_the_reason_a_request_is_stopped(
    cancelled: bool, closing: bool, deadline: float | None, loop_gone: bool, reason: str | None
) -> None:
    checker, engine = checks()
    engine.current = work = request(engine)
    work.cancelled = cancelled
    engine.closing = closing
    work.deadline = None if deadline is None else monotonic() + deadline
    engine.adapter.finished = loop_gone
    assert checker.should_abort() is (reason is not None)
    assert work.aborted == reason
    assert checker.stop_reason() == reason


def test_a_cancelled_request_past_its_deadline_is_reported_as_a_deadline() -> None:
    checker, engine = checks()
    engine.current = work = request(engine)
    work.cancelled = True
    assert checker.should_abort()
    assert checker.stop_reason() == ABORT_CANCELLED
    work.expired = True  # the waiting side saw the deadline pass and cancelled it
    assert checker.stop_reason() == ABORT_DEADLINE
    work.expired = False
    work.deadline = monotonic() - 1.0  # or the worker sees it has passed
    assert checker.stop_reason() == ABORT_DEADLINE


def test_the_users_handler_is_called_every_so_many_steps() -> None:
    calls: list[int] = []
    checker, _ = checks()
    checker.tuner = StepTuner(100)  # fixed: every check counts 100 steps
    checker.set_user_handler(lambda: calls.append(1), 250)
    assert checker.tuner.steps == 100
    results = [checker.on_progress() for _ in range(6)]
    assert len(calls) == 2  # after 300 and 600 steps
    assert results == [False] * 6
    checker.set_user_handler(lambda: True, 100)  # a true result stops the statement
    assert checker.on_progress()
    with pytest.raises(ValueError, match="steps must be positive"):
        checker.set_user_handler(print, 0)


# ----------------------------------------------------------------------- Request


class Clock:
    """A framework clock at 100.0, with cancel scopes expiring at ``scope``."""

    deadline_error = TimeoutError

    def __init__(self, scope: float = float("inf")) -> None:
        self.scope = scope

    def now(self) -> float:
        return 100.0

    def effective_deadline(self) -> float:
        return self.scope


def new_request(clock: Any, cancellable: bool = True) -> Request:
    return Request(clock, print, (), Context(), cancellable)


def test_a_request_without_deadlines_has_none() -> None:
    made = new_request(Clock())
    assert (made.deadline, made.explicit_deadline) == (None, None)


def test_the_earlier_deadline_wins_and_only_aiolites_needs_enforcing() -> None:
    with contextvar_set(deadline, 105.0):
        own = new_request(Clock(scope=110.0))
        scoped = new_request(Clock(scope=102.0))
    assert own.explicit_deadline == 105.0  # the waiting side must enforce it
    assert not own.deadline_from_scope
    assert scoped.explicit_deadline is None  # the framework cancels the scope itself
    assert scoped.deadline_from_scope
    assert scoped.framework_deadline == 102.0
    assert own.deadline is not None
    assert scoped.deadline is not None
    # converted to the worker's clock: five and two seconds from now
    assert own.deadline - scoped.deadline == pytest.approx(3.0, abs=0.5)
    assert own.deadline - monotonic() == pytest.approx(5.0, abs=0.5)


def test_a_deadline_already_passed_refuses_the_request_but_not_a_clean_up() -> None:
    with contextvar_set(deadline, 99.0):
        with pytest.raises(TimeoutError, match="already passed"):
            new_request(Clock())
        cleanup = new_request(Clock(scope=50.0), cancellable=False)
    assert cleanup.deadline is None  # a rollback must run whatever the time


# ------------------------------------------------------------------ InlineStreak


def test_a_streak_expires_once_past_its_limit() -> None:
    streak = InlineStreak(limit=10.0)
    assert not streak.expired()
    streak.ran(started=monotonic())
    assert streak.active
    assert not streak.expired()  # within the limit
    streak.reset()
    streak.ran(started=monotonic() - 11.0)
    assert streak.expired()
    assert not streak.active
    assert not streak.expired()  # once: the caller yielded, a new streak begins


def test_a_streak_is_measured_from_its_first_run() -> None:
    streak = InlineStreak(limit=10.0)
    streak.ran(started=monotonic() - 11.0)
    streak.ran(started=monotonic())  # later runs do not move the start
    assert streak.expired()


def test_the_loop_having_a_turn_starts_a_new_streak() -> None:
    streak = InlineStreak(limit=10.0)
    streak.ran(started=monotonic() - 11.0)
    streak.reset()
    assert not streak.active
    assert not streak.expired()
    streak.ran(started=monotonic())
    assert not streak.expired()


def test_the_default_limit_is_the_shared_one() -> None:
    streak = InlineStreak()
    streak.ran(started=monotonic() - STREAK_SECONDS)
    assert streak.expired()
