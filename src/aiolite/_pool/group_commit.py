"""Group commit: many callers' single-statement writes, one transaction, one commit.

A commit is the expensive part of a small write (a WAL append and, at
``synchronous=FULL``, an fsync), and every write sent to a worker thread on
its own also pays a round trip. So the pool gathers the writes that arrive
while the writer is busy and runs them as one batch, in one request to the
writer's worker:

``BEGIN IMMEDIATE``; for each write ``SAVEPOINT``, the statement, ``RELEASE``
(or ``ROLLBACK TO`` if it failed); ``COMMIT``.

Each write's savepoint keeps a failing statement (a constraint violation,
say) from touching anybody else's. Every caller is told its outcome only
after the ``COMMIT`` that holds its write, so a write that returned is
durable. A write cancelled before its turn in the batch is skipped; one
cancelled while its statement runs is rolled back to its savepoint; one
cancelled after its savepoint was released is committed with the batch (its
caller has gone, cancelled: the README's "Cancellation and deadlines").

The batch runs as a posted request (nobody awaits it, so no caller's
cancellation can stop it half way) and reports back to the event loop with
one ``call_soon_threadsafe`` when it is done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import apsw

from .._apsw import fetch_shaped, refuse_transaction_control

if TYPE_CHECKING:
    from .._apsw import CompiledFactory
    from .._frameworks import Event

QUEUED = 0
RUNNING = 1
DONE = 2

_SAVEPOINT = "aiolite_group_write"
_SAVEPOINT_SQL = f"SAVEPOINT {_SAVEPOINT}"
_RELEASE_SQL = f"RELEASE {_SAVEPOINT}"
_UNDO_SQL = f"ROLLBACK TO {_SAVEPOINT}; RELEASE {_SAVEPOINT}"


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a pool write did, known once its transaction committed.

    ``rows`` are what the statement returned (``INSERT ... RETURNING``), shaped
    by the pool's row factory; ``changes`` counts the rows it inserted,
    updated or deleted (``executemany``: all executions together);
    ``lastrowid`` is the connection's ``last_insert_rowid()`` right after it.
    """

    rows: list[Any]
    changes: int
    lastrowid: int


class WriteJob:
    """One caller's write, from its queueing to the commit that holds it."""

    __slots__ = (
        "bindings",
        "cancelled",
        "deadline",
        "done",
        "error",
        "many",
        "on_commit",
        "result",
        "sql",
        "state",
    )

    def __init__(
        self,
        sql: str,
        bindings: Any,
        many: bool,
        done: Event,
        on_commit: Callable[[], None] | None,
    ) -> None:
        self.sql = sql
        self.bindings = bindings
        self.many = many
        self.done = done
        self.on_commit = on_commit
        self.state = QUEUED
        self.cancelled = False  # set on the loop thread; the worker reads it
        self.deadline = 0.0  # loop clock: when it stops waiting to be queued into a batch
        self.error: BaseException | None = None
        self.result: WriteResult | None = None


class Batch:
    """The jobs run in one transaction, and how the transaction ended."""

    __slots__ = ("factory", "finished", "jobs")

    def __init__(self, jobs: list[WriteJob], factory: CompiledFactory) -> None:
        self.jobs = jobs
        self.factory = factory
        self.finished = False


def run_batch(conn: apsw.Connection, batch: Batch, report: Callable[[], Any]) -> None:
    """Worker side: run every job of ``batch`` in one transaction, then ``report()``."""
    try:
        _run_jobs(conn, batch)
    finally:
        report()


def _run_jobs(conn: apsw.Connection, batch: Batch) -> None:
    pending = [job for job in batch.jobs if not job.cancelled]
    if not pending:
        return
    try:
        conn.execute("BEGIN IMMEDIATE")
    except BaseException as exc:
        for job in pending:
            job.error = exc
        return
    succeeded: list[WriteJob] = []
    for job in pending:
        if job.cancelled:
            continue
        if _run_one(conn, batch.factory, job):
            succeeded.append(job)
        elif not conn.in_transaction:
            # The failure took the whole transaction with it (an I/O error, a
            # full disk, close() interrupting): the writes before it are gone too.
            for earlier in succeeded:
                earlier.error, earlier.result = job.error, None
            succeeded.clear()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except BaseException as exc:
                for later in pending[pending.index(job) + 1 :]:
                    later.error = exc
                return
    try:
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        for job in succeeded:
            job.error, job.result = exc, None


def _run_one(conn: apsw.Connection, factory: CompiledFactory, job: WriteJob) -> bool:
    conn.execute(_SAVEPOINT_SQL)
    before = conn.total_changes()
    cursor = conn.cursor()
    try:
        if ";" in job.sql:  # more than one statement: each is checked as it starts
            cursor.exec_trace = _guard
        if job.many:
            cursor.executemany(job.sql, job.bindings)
        else:
            cursor.execute(job.sql, job.bindings)
        rows = _shaped(cursor, factory)
        changes = conn.total_changes() - before
        lastrowid = conn.last_insert_rowid()
    except BaseException as exc:
        cursor.close(True)
        job.error = exc
        if conn.in_transaction:
            conn.execute(_UNDO_SQL)
        return False
    if job.cancelled:  # cancelled while it ran: leave nothing behind
        conn.execute(_UNDO_SQL)
        return False
    conn.execute(_RELEASE_SQL)
    job.result = WriteResult(rows, changes, lastrowid)
    return True


def _shaped(cursor: apsw.Cursor, factory: CompiledFactory) -> list[Any]:
    """The rows a write returned (``RETURNING``), in the pool's row shape."""
    return fetch_shaped(cursor, factory)


_checked: set[str] = set()
"""SQL texts already known not to start with transaction control (bounded)."""


def check_statement(sql: str) -> None:
    """TransactionControlError if ``sql`` begins, commits or rolls back a transaction."""
    if sql in _checked:
        return
    _check_first_word(sql)
    if len(_checked) >= 512:
        _checked.clear()
    _checked.add(sql)


def _guard(cursor: apsw.Cursor, sql: str, bindings: Any) -> bool:
    _check_first_word(sql)
    return True


def _check_first_word(sql: str) -> None:
    refuse_transaction_control(
        sql,
        "pool.execute or pool.fetch* (they share their connection with other callers); "
        "use 'async with pool.writer()' for a transaction of your own",
    )


def finish_batch(batch: Batch, leftover_error: Callable[[], BaseException]) -> Iterable[WriteJob]:
    """Loop side: mark every job of ``batch`` done, in batch order, and wake its caller.

    A job the worker never reached (the connection closed first) gets
    ``leftover_error()``. Idempotent: a batch is finished once.
    """
    if batch.finished:
        return ()
    batch.finished = True
    for job in batch.jobs:
        if job.state == DONE:
            continue
        if job.result is None and job.error is None and not job.cancelled:
            job.error = leftover_error()
        job.state = DONE
        if job.result is not None and job.on_commit is not None:
            job.on_commit()
        job.done.set()
    return batch.jobs
