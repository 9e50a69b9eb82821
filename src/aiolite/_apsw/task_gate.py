"""Task isolation on a shared connection: while a block is open, other tasks wait.

A connection has one transaction, and tasks sharing the connection would
otherwise run their statements inside whichever transaction happens to be
open. So a transaction block holds the connection's :class:`TransactionGate`
while it is open, and every request of another task waits at the gate until
the block ends. "Inside the block" is carried by a context variable: the
task that opened the block, and tasks it starts from inside it (which copy
its context), pass; everyone else waits.

The gate lives on the loop thread only: it decides when a request may be
*sent* to the worker, never what the worker does.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._frameworks import Event, FrameworkAdapter

held_transactions: ContextVar[frozenset[object]] = ContextVar(
    "aiolite transactions held", default=frozenset()
)
"""Ownership tokens of the transaction blocks this context is inside."""

_open_blocks: ContextVar[tuple[tuple[TransactionGate, Any], ...]] = ContextVar(
    "aiolite open 'async with db' blocks", default=()
)
"""The ``async with db:`` blocks this context has open, innermost last, by gate."""


class Hold:
    """One block's hold on a gate: its ownership token and how to undo its context change."""

    __slots__ = ("owner", "reset")

    def __init__(self, owner: object, reset: Token[frozenset[object]]) -> None:
        self.owner = owner
        self.reset = reset


class TransactionGate:
    """Which task (and its children) may use a connection while a transaction block is open."""

    __slots__ = ("_adapter", "_owner", "_released")

    def __init__(self, adapter: FrameworkAdapter) -> None:
        self._adapter = adapter
        self._owner: object | None = None
        self._released: Event | None = None

    def other_task_inside(self) -> bool:
        """True while a task other than this one (and its children) holds a block open."""
        owner = self._owner
        return owner is not None and owner not in held_transactions.get()

    def inside(self) -> bool:
        """True if this task (or the task that started it) holds the open block."""
        owner = self._owner
        return owner is not None and owner in held_transactions.get()

    async def enter(self) -> Hold | None:
        """Hold the gate for a new outermost block; None if this task already holds it.

        A nested block (a savepoint) runs inside the hold of the block around it.
        """
        if self.inside():
            return None
        self._adapter.check_loop()
        while self._owner is not None:
            await self.wait_for_release()
        owner = object()
        self._owner = owner
        self._released = self._adapter.event()
        return Hold(owner, held_transactions.set(held_transactions.get() | {owner}))

    def leave(self, hold: Hold) -> None:
        """Let the next task in: the block of ``hold`` has ended."""
        held_transactions.reset(hold.reset)
        if self._owner is hold.owner:
            released = self._released
            self._owner = self._released = None
            if released is not None:
                released.set()

    async def wait_for_release(self) -> None:
        """Wait until the open block ends (then check again: another task may be first)."""
        self._adapter.check_loop()
        released = self._released
        if released is not None:
            await released.wait()

    # ``async with db:`` has no object of its own to remember its block in, so the
    # blocks it opened are kept per context, innermost last.

    def push_block(self, block: Any) -> None:
        """Remember ``block``, opened by ``async with db`` in this context."""
        _open_blocks.set((*_open_blocks.get(), (self, block)))

    def pop_block(self) -> Any:
        """The innermost block ``async with db`` opened on this gate in this context."""
        blocks = _open_blocks.get()
        for position in range(len(blocks) - 1, -1, -1):
            if blocks[position][0] is self:
                _open_blocks.set(blocks[:position] + blocks[position + 1 :])
                return blocks[position][1]
        raise RuntimeError("'async with db' exited without a matching enter in this task")
