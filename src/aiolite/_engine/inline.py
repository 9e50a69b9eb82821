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
"""

from __future__ import annotations

from .inline_runs import INLINE_BUDGET_SECONDS

LEARN_BELOW_SECONDS = INLINE_BUDGET_SECONDS / 4
"""A read that took less than this in the worker is tried inline from then on."""

_KEPT = 1024  # statements whose history one connection remembers
_MAX_PENALTY = 4096  # most worker runs between two inline tries


class InlinePolicy:
    """One connection's record of its statements: learned, on probation, or never inline."""

    __slots__ = ("_overran", "_penalties", "_skips")

    def __init__(self) -> None:
        self._skips: dict[str, int] = {}  # SQL -> worker runs left before the next inline try
        self._penalties: dict[str, int] = {}  # SQL -> the length of its last probation
        self._overran: set[str] = set()  # SQL whose last inline run took longer than the budget

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
        if readonly and seconds < LEARN_BELOW_SECONDS and sql not in self._skips:
            if len(self._skips) >= _KEPT:
                self._skips.clear()
                self._penalties.clear()
                self._overran.clear()
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
