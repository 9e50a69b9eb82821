"""Which statements a connection runs on the event loop's own thread.

A thread round trip costs 50-80 us on a small machine; a point query costs
about 1 us inside SQLite. So a statement that has proved to be a tiny read
runs inline (``Engine.run_inline``) when the worker is idle. Proof comes
first: a statement is tried inline only after a run in the worker showed
that it only reads and finished well inside the budget. That matters because
SQLite checks the budget between VM steps, and a few steps can be long (a
``count(*)`` walks the whole table in one): a statement that was fast when
learned and grew slow is caught by the time its inline runs take (two
overruns in a row, since one may be the thread being preempted), and sent
back to the worker.

A statement abandoned or caught running long is sent to the worker for a
while, for twice as long each time: one that writes or grew large soon costs
nothing, while one stopped by a fluke (the thread preempted mid-budget) gets
another chance.

A burst of requests for a statement not yet learned (thousands gathered at
once, each the first of its kind as far as the connection knows) would all
queue behind the worker. So the first of them is the statement's *learner*:
the others wait for its one run (:attr:`InlinePolicy.learning`), and once it
has shown the statement tiny they run inline like any learned read. A first
run often is not tiny only because it prepared the statement; so if it only
read, one of the waiters learns again, up to ``LEARN_ROUNDS`` runs in all (a
slow read costs nothing by it: the worker would run them one by one anyway).
Anything else (a write, an error) sends every waiter to the worker at once.
"""

from __future__ import annotations

from typing import Any

from .inline_runs import INLINE_BUDGET_SECONDS

LEARN_BELOW_SECONDS = INLINE_BUDGET_SECONDS / 4
"""A read that took less than this in the worker is tried inline from then on."""

LEARN_ROUNDS = 3
"""Most runs of a new statement in the worker that others wait for, to learn it tiny."""

_KEPT = 1024  # statements whose history one connection remembers
_MAX_PENALTY = 4096  # most worker runs between two inline tries


class Learning:
    """A new statement's run in the worker that other requests for it wait for."""

    __slots__ = ("done", "retry")

    def __init__(self, done: Any) -> None:
        self.done = done
        """The framework event set when the run has ended (the learner sets it)."""
        self.retry = False
        """Set by the learner: its run only read, so another run may still learn it tiny."""


class InlinePolicy:
    """One connection's record of its statements: learned, on probation, or never inline."""

    __slots__ = ("_overran", "_penalties", "_seen", "_skips", "learning")

    def __init__(self) -> None:
        self._skips: dict[str, int] = {}  # SQL -> worker runs left before the next inline try
        self._penalties: dict[str, int] = {}  # SQL -> the length of its last probation
        self._overran: set[str] = set()  # SQL whose last inline run took longer than the budget
        self._seen: set[str] = set()  # SQL the worker has run, tiny read or not
        self.learning: dict[str, Learning] = {}
        """SQL not yet learned that is running in the worker now, and who waits for it
        (the caller who sent it adds and removes the entry)."""

    def known(self, sql: str) -> bool:
        """True once the worker has shown ``sql`` a tiny read (on probation or not)."""
        return sql in self._skips

    def seen(self, sql: str) -> bool:
        """True once the worker has run ``sql``, whatever it showed."""
        return sql in self._seen

    def should_try(self, sql: str) -> bool:
        """True if ``sql`` is a proven tiny read not on probation (counts a probation run)."""
        skips = self._skips.get(sql)
        if skips is None:
            return False
        if skips:
            self._skips[sql] = skips - 1
            return False
        return True

    def learned(self, sql: str, readonly: bool, seconds: float) -> None:
        """The worker ran ``sql``: remember it as a tiny read if it was one."""
        if sql not in self._seen:
            if len(self._seen) >= _KEPT:
                self._seen.clear()
                self._skips.clear()
                self._penalties.clear()
                self._overran.clear()
            self._seen.add(sql)
        if readonly and seconds < LEARN_BELOW_SECONDS and sql not in self._skips:
            self._skips[sql] = 0

    def ran_inline(self, sql: str, seconds: float) -> None:
        """An inline run finished; two in a row that overran the budget mean probation.

        One overrun alone may be the thread being preempted, which says
        nothing about the statement. A run within budget halves the
        statement's next probation, so flukes do not add up over a
        long-lived connection.
        """
        if seconds > INLINE_BUDGET_SECONDS:
            if sql in self._overran:
                self._overran.discard(sql)
                self.abandoned(sql)
            else:
                self._overran.add(sql)
            return
        if self._overran:
            self._overran.discard(sql)
        if self._penalties and sql in self._penalties:
            self._penalties[sql] //= 2

    def abandoned(self, sql: str) -> None:
        """An inline run was stopped unfinished: probation, twice as long as the last."""
        penalty = min(self._penalties.get(sql, 0) * 2 + 1, _MAX_PENALTY)
        self._penalties[sql] = penalty
        self._skips[sql] = penalty

    def probation(self, sql: str) -> int:
        """How many times ``sql`` has been sent back to the worker so far (0: never)."""
        return self._penalties.get(sql, 0)
