"""Group commit, loop half: where a pool write waits, and how batches reach the writer.

A write queues here; whenever the writer is free (no writer block, no batch
running) everything queued, up to ``_MAX_BATCH``, leaves as one batch: one
request to the writer's worker, which runs it in one transaction
(:mod:`aiolite._pool.group_commit`, the worker half) and reports back with
one ``call_soon_threadsafe``. Batches and writer blocks take turns on the
writer through one :class:`~aiolite._pool.turns.TurnQueue`, first come
first served.

A write still queued ``acquire_timeout`` after it arrived fails with
:class:`PoolTimeout`; one already in a running batch waits for its outcome,
which is near. One timer serves every queued write (they time out in the
order they were queued), because a timer per write costs more than the
write itself when thousands are queued at once.
"""

from __future__ import annotations

import weakref
from functools import partial
from math import inf
from typing import TYPE_CHECKING, Any

import apsw

from .._apsw import core_of
from .._errors import ConnectionClosedError, PoolTimeout
from .group_commit import (
    DONE,
    QUEUED,
    RUNNING,
    Batch,
    WriteJob,
    WriteResult,
    finish_batch,
    run_batch,
)
from .turns import Turn, TurnQueue

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._apsw import Connection
    from .._frameworks import Timer

_MAX_BATCH = 1024
"""Most writes in one group commit; more wait for the next (keeps each batch's latency bounded)."""

LOCK_HELD = "another connection held the database's write lock past busy_timeout"
"""Why a write or writer block failed with :class:`PoolTimeout` on another process's lock."""


class WriteQueue:
    """The writes waiting for the writer, the batches running on it, and their counters."""

    __slots__ = (
        "__weakref__",
        "_adapter",
        "_batch_turn",
        "_gate",
        "_in_flight",
        "_sweeper",
        "_writer",
        "commits",
        "failed",
        "pending",
        "timeout",
        "timeouts",
        "writes",
    )

    def __init__(self, writer: Connection[Any], gate: TurnQueue, timeout: float) -> None:
        self._writer = writer
        self._adapter = core_of(writer).adapter
        self._gate = gate  # the writer: shared with writer blocks
        self.timeout = timeout
        """Seconds a write may stay queued (the pool's ``acquire_timeout``)."""
        self.pending: list[WriteJob] = []
        """The writes waiting for the next batch, in arrival order."""
        self._batch_turn: Turn | None = None  # queued or running
        self._in_flight: list[Batch] = []
        self._sweeper: Timer | None = None
        self.commits = self.writes = self.failed = self.timeouts = 0

    async def write(
        self, sql: str, bindings: Any, many: bool, on_commit: Callable[[], None] | None
    ) -> WriteResult:
        """Queue one write and return its result once the commit holding it is done.

        ``on_commit`` runs on the loop thread right after that commit, before
        any later write's caller hears of its own (the KV's cache relies on
        that order). Cancelled while queued, the write never runs; cancelled
        while its batch runs, see :mod:`aiolite._pool.group_commit`.
        """
        job = WriteJob(sql, bindings, many, self._adapter.one_shot_event(), on_commit)
        self.pending.append(job)
        self.schedule()
        try:
            if job.state != DONE:
                if self.timeout != inf:
                    self._arm(job)
                await job.done.wait()
        except BaseException:
            if job.state == QUEUED:
                self.pending.remove(job)
            elif job.state == RUNNING:
                job.cancelled = True
            raise
        if job.error is not None:
            self.failed += 1
            raise _public_error(job.error)
        assert job.result is not None
        self.writes += 1
        return job.result

    def _arm(self, job: WriteJob) -> None:
        """Give ``job`` its deadline; make sure the timer will look at the queue by then."""
        job.deadline = self._adapter.now() + self.timeout
        if self._sweeper is None:
            self._sweeper = self._adapter.call_at(
                job.deadline, partial(_sweep_weakly, weakref.ref(self))
            )

    def sweep(self) -> None:
        """The timer fired: fail the queued writes whose time is up; re-arm for the next one."""
        self._sweeper = None
        now = self._adapter.now()
        pending = self.pending
        expired = 0
        while expired < len(pending) and pending[expired].deadline <= now:
            expired += 1
        for job in pending[:expired]:
            job.state = DONE
            job.error = PoolTimeout(
                f"the write waited more than acquire_timeout={self.timeout} s for the writer"
            )
            self.timeouts += 1
            job.done.set()
        del pending[:expired]
        if pending:
            self._sweeper = self._adapter.call_at(
                pending[0].deadline, partial(_sweep_weakly, weakref.ref(self))
            )

    def schedule(self) -> None:
        """Ask for the writer's next turn if writes are queued and no batch has asked yet."""
        if self._batch_turn is None and self.pending:
            turn = Turn(lambda: self._start_batch(turn))
            self._batch_turn = turn
            self._gate.request(turn)

    def _start_batch(self, turn: Turn) -> None:
        """The writer is ours: run everything queued (up to a limit) as one batch."""
        jobs, self.pending = self.pending[:_MAX_BATCH], self.pending[_MAX_BATCH:]
        if not jobs:
            self._end_batch(turn, None)
            return
        for job in jobs:
            job.state = RUNNING
        core = core_of(self._writer)
        batch = Batch(jobs, core.row_factory)
        self._in_flight.append(batch)
        report = partial(self._adapter.call_soon_threadsafe, partial(self._end_batch, turn, batch))
        core.engine.post(run_batch, batch, report)
        if self._writer.closed:  # post() refused it: the pool is closing
            self._end_batch(turn, batch)

    def _end_batch(self, turn: Turn, batch: Batch | None) -> None:
        if batch is not None:
            if batch.finished:
                return
            self._in_flight.remove(batch)
            finish_batch(batch, _closed_error)
            if any(job.result is not None for job in batch.jobs):
                self.commits += 1
        self._batch_turn = None
        self._gate.withdraw(turn)
        self.schedule()

    def closer_for_writer(self) -> Callable[[], None]:
        """What the writer's worker calls last, in its thread: have the loop run ``close()``.

        A batch that closing skipped in the worker never reports back, and a
        write queued behind a writer block that never ends never gets a turn:
        without this, their callers would wait until some ``pool.close()`` ran
        to its end, which a cancelled one does not. Holds the queue weakly: a
        pool dropped unclosed must not be kept alive by its own writer.
        """
        call_soon_threadsafe = self._adapter.call_soon_threadsafe
        close = partial(_close_weakly, weakref.ref(self))

        def writer_gone() -> None:
            call_soon_threadsafe(close)  # False if the loop has finished: nobody is left

        return writer_gone

    def close(self) -> None:
        """The writer has closed: every write still in a batch or queued fails. Idempotent."""
        for batch in list(self._in_flight):
            self._in_flight.remove(batch)
            finish_batch(batch, _closed_error)
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for job in self.pending:
            job.error, job.state = _closed_error(), DONE
            job.done.set()
        self.pending.clear()


def _sweep_weakly(queue: weakref.ref[WriteQueue]) -> None:
    """The sweep timer's callback: it stays armed after the writes it watched are
    done, and must not keep a pool that was dropped unclosed (and so its worker
    threads) alive until it fires."""
    alive = queue()
    if alive is not None:
        alive.sweep()


def _close_weakly(queue: weakref.ref[WriteQueue]) -> None:
    alive = queue()
    if alive is not None:
        alive.close()


def _closed_error() -> BaseException:
    return ConnectionClosedError("the pool closed before this write was committed")


def _public_error(error: BaseException) -> BaseException:
    if isinstance(error, apsw.BusyError):
        return PoolTimeout(LOCK_HELD).with_traceback(error.__traceback__)
    return error
