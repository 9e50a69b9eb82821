"""When a KV write commits on the loop thread, and how the loop stays fair meanwhile.

Inline writes (:mod:`aiolite._kv.inline_writes`) are for one task's writes
in sequence, where each would otherwise pay a round trip to the writer's
thread. When many tasks write in the same loop iteration (``gather``,
concurrent requests), one group commit for all of them is cheaper than a
commit each: so after an inline write, other tasks' writes go to the pool
until the loop has gone round once. And since an inline write never
suspends, a task writing in a loop yields to the loop once its inline
writes have held it for a while (the engine's rule for inline reads,
:class:`~aiolite._engine.streak.InlineStreak`): otherwise no other task
would run, and the writing task could not even be cancelled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._engine import InlineStreak

if TYPE_CHECKING:
    from .._frameworks import FrameworkAdapter
    from .._pool import PoolCore
    from .inline_writes import InlineAccess


class InlinePolicy:
    """One KV store's inline connection, and whether the next write may use it."""

    __slots__ = ("_burst_task", "_core", "access", "adapter", "streak")

    def __init__(self, access: InlineAccess, core: PoolCore) -> None:
        self.access = access
        self._core = core
        self.adapter: FrameworkAdapter = core.adapter
        self.streak = InlineStreak()
        """Since the loop last went round; past its limit the next write yields first."""
        self._burst_task: object | None = None  # the task that wrote inline in this iteration

    def allowed(self) -> bool:
        """May the calling task's write run inline now?

        Only at a synchronous level without an fsync per commit, when the
        pool's writer is idle (so it is never reordered against a write
        queued before it), and unless another task wrote inline in this
        loop iteration (then a burst is under way: the pool groups it).
        """
        if not self.access.writes or not self._core.writer_idle():
            return False
        burst = self._burst_task
        return burst is None or burst is self.adapter.current_task()

    def wrote(self) -> None:
        """An inline write committed: it counts towards the streak and opens a burst."""
        self.streak.ran()
        if self._burst_task is None:
            self._burst_task = self.adapter.current_task()
            self.adapter.call_soon(self._end_burst)

    def _end_burst(self) -> None:
        self._burst_task = None
        self.streak.reset()  # the loop has gone round: other tasks had their turn
