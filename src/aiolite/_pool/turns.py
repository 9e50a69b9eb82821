"""First-come-first-served turns on a limited resource: the writer, or the readers.

A pure state machine, used on the event-loop thread only: it knows nothing
of tasks, frameworks or timeouts. A holder is granted by calling its
``on_grant`` (set an event the waiting task sleeps on, or start a
group-commit batch), so a place in the queue needs no task of its own, and
the waiting (bounded by ``acquire_timeout``) is the pool's business.

>>> order = []
>>> queue = TurnQueue(1)
>>> first, second = Turn(lambda: order.append("first")), Turn(lambda: order.append("second"))
>>> queue.request(first)
>>> queue.request(second)       # the writer is held: second waits
>>> order, queue.held, queue.waiting
(['first'], 1, 1)
>>> queue.withdraw(first)       # first is done: second's turn
>>> order, queue.held, queue.waiting
(['first', 'second'], 1, 0)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


class Turn:
    """One place in a :class:`TurnQueue`: granted at most once, or withdrawn."""

    __slots__ = ("granted", "on_grant", "withdrawn")

    def __init__(self, on_grant: Callable[[], None]) -> None:
        self.on_grant = on_grant
        self.granted = False
        self.withdrawn = False


class TurnQueue:
    """``capacity`` holders at a time, the rest served in arrival order.

    A withdrawn waiter keeps its slot in the deque (removing it from the
    middle would cost a scan) and is skipped when its turn comes.
    """

    __slots__ = ("_waiting", "capacity", "held")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.held = 0
        self._waiting: deque[Turn] = deque()

    @property
    def waiting(self) -> int:
        """How many turns wait, not counting withdrawn ones."""
        return sum(not turn.withdrawn for turn in self._waiting)

    def request(self, turn: Turn) -> None:
        """Grant ``turn`` now if there is room and nobody is ahead, else queue it."""
        if self.held < self.capacity and not self._waiting:
            self._grant(turn)
        else:
            self._waiting.append(turn)

    def withdraw(self, turn: Turn) -> None:
        """The holder of ``turn`` gives up: its place if waiting, its hold if granted."""
        if turn.granted:
            turn.granted = False
            self.release()
        else:
            turn.withdrawn = True

    def release(self) -> None:
        """One hold ends: grant the waiting turns, in order, while there is room."""
        self.held -= 1
        while self._waiting and self.held < self.capacity:
            turn = self._waiting.popleft()
            if not turn.withdrawn:
                self._grant(turn)

    def _grant(self, turn: Turn) -> None:
        self.held += 1
        turn.granted = True
        turn.on_grant()
