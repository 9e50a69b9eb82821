"""How long inline work has held the event loop: one rule for inline reads and KV writes.

Work run on the loop's own thread never suspends, so a task issuing it back
to back would starve every other task. Whoever runs inline work records each
run here; once the first run since the loop last had a turn is older than
the limit, the caller yields to the loop once before the next run.

>>> streak = InlineStreak(limit=0.0)
>>> streak.expired()          # nothing ran inline yet
False
>>> streak.ran(started=0.0)
>>> streak.expired()          # past the limit: yield once, then start afresh
True
>>> streak.expired()
False
"""

from __future__ import annotations

from time import monotonic

STREAK_SECONDS = 0.002
"""Inline work after which the caller yields to the loop once."""


class InlineStreak:
    """The start of the current run of inline work, if one is going on."""

    __slots__ = ("_limit", "started")

    def __init__(self, limit: float = STREAK_SECONDS) -> None:
        self._limit = limit
        self.started: float | None = None
        """When the current streak began (``monotonic()``), or None: read only.

        Public so that a per-request path can skip the method call when there
        is nothing to do (``if streak.started is not None: streak.reset()``).
        """

    @property
    def active(self) -> bool:
        """True while inline work has run since the loop last had a turn."""
        return self.started is not None

    def ran(self, started: float | None = None) -> None:
        """Inline work ran, beginning at ``started`` (``monotonic()``; now if not given)."""
        if self.started is None:
            self.started = monotonic() if started is None else started

    def reset(self) -> None:
        """The loop has had a turn (the caller suspended): a new streak starts from zero."""
        self.started = None

    def expired(self) -> bool:
        """True, once, when the streak has lasted past the limit: the caller should yield now."""
        started = self.started
        if started is None or monotonic() - started < self._limit:
            return False
        self.started = None
        return True
