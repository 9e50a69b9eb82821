"""The turn queue's state machine on its own: who holds the writer (or a reader), who waits.

The pool's writer blocks, group-commit batches and reader blocks all take
turns through :class:`TurnQueue`; these tests pin its rules without a loop
or a database: capacity, first come first served, and withdrawing.
"""

from __future__ import annotations

from aiolite._pool.turns import Turn, TurnQueue


class Log:
    """Makes turns that record, by name, the order in which they are granted."""

    def __init__(self) -> None:
        self.granted: list[str] = []

    def turn(self, name: str) -> Turn:
        return Turn(lambda: self.granted.append(name))


def test_turns_are_granted_in_arrival_order() -> None:
    log, queue = Log(), TurnQueue(1)
    a, b, c = log.turn("a"), log.turn("b"), log.turn("c")
    for turn in (a, b, c):
        queue.request(turn)
    assert log.granted == ["a"]
    assert (a.granted, b.granted, c.granted) == (True, False, False)
    assert (queue.held, queue.waiting) == (1, 2)
    queue.withdraw(a)
    assert log.granted == ["a", "b"]
    queue.withdraw(b)
    assert log.granted == ["a", "b", "c"]
    assert (queue.held, queue.waiting) == (1, 0)


def test_capacity_holders_at_once_and_no_more() -> None:
    log, queue = Log(), TurnQueue(2)
    a, b, c, d = (log.turn(name) for name in "abcd")
    for turn in (a, b, c, d):
        queue.request(turn)
    assert log.granted == ["a", "b"]
    assert (queue.held, queue.waiting) == (2, 2)
    queue.withdraw(a)  # one place freed: one waiter granted, not both
    assert log.granted == ["a", "b", "c"]
    assert (queue.held, queue.waiting) == (2, 1)
    assert not d.granted


def test_a_withdrawn_waiter_is_never_granted_and_does_not_count() -> None:
    log, queue = Log(), TurnQueue(1)
    a, b, c = log.turn("a"), log.turn("b"), log.turn("c")
    for turn in (a, b, c):
        queue.request(turn)
    queue.withdraw(b)  # gave up waiting (a timeout, a cancellation)
    assert b.withdrawn
    assert not b.granted
    assert (queue.held, queue.waiting) == (1, 1), "a waiter leaving frees no hold"
    queue.withdraw(a)
    assert log.granted == ["a", "c"], "the withdrawn waiter was skipped"
    assert (queue.held, queue.waiting) == (1, 0)


def test_withdrawing_a_granted_turn_releases_its_hold() -> None:
    log, queue = Log(), TurnQueue(1)
    a = log.turn("a")
    queue.request(a)
    queue.withdraw(a)
    assert not a.granted
    assert not a.withdrawn
    assert queue.held == 0
    b = log.turn("b")
    queue.request(b)
    assert b.granted, "the freed place is granted at once"
    assert log.granted == ["a", "b"]


def test_withdrawing_a_turn_twice_releases_it_once() -> None:
    log, queue = Log(), TurnQueue(2)
    a, b = log.turn("a"), log.turn("b")
    queue.request(a)
    queue.request(b)
    queue.withdraw(a)
    queue.withdraw(a)
    assert queue.held == 1, "b still holds its place"
    c, d = log.turn("c"), log.turn("d")
    queue.request(c)
    queue.request(d)
    assert (c.granted, d.granted) == (True, False)


def test_release_ends_one_hold_and_grants_the_next_waiter() -> None:
    log, queue = Log(), TurnQueue(1)
    a, b = log.turn("a"), log.turn("b")
    queue.request(a)
    queue.request(b)
    queue.release()
    assert log.granted == ["a", "b"]
    assert queue.held == 1
    queue.release()
    assert (queue.held, queue.waiting) == (0, 0)


def test_a_newcomer_never_overtakes_a_waiting_turn() -> None:
    log, queue = Log(), TurnQueue(1)
    a, b = log.turn("a"), log.turn("b")
    queue.request(a)
    queue.request(b)
    queue.capacity = 2  # room now, but b was first
    c = log.turn("c")
    queue.request(c)
    assert not c.granted
    assert (queue.held, queue.waiting) == (1, 2)
    queue.withdraw(a)
    assert log.granted == ["a", "b", "c"], "both waiters granted in order once there is room"
    assert queue.held == 2


def test_a_turn_that_gives_up_when_granted_passes_it_on() -> None:
    """A group-commit batch with nothing left to run withdraws as soon as it is granted."""
    log, queue = Log(), TurnQueue(1)
    a, c = log.turn("a"), log.turn("c")

    def grant_empty_batch() -> None:
        log.granted.append("b")
        queue.withdraw(b)

    b = Turn(grant_empty_batch)
    for turn in (a, b, c):
        queue.request(turn)
    queue.withdraw(a)
    assert log.granted == ["a", "b", "c"]
    assert (queue.held, queue.waiting) == (1, 0)
    assert c.granted
    assert not b.granted
