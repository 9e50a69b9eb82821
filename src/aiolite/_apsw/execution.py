"""The worker side of a statement: one execution, its APSW cursor, and its rows.

Everything here runs in the connection's worker thread (or on the loop
thread for an inline run, while the engine's lock keeps the worker out):
the APSW cursor is only ever touched here. The loop side, which hands the
rows out, is :mod:`aiolite._apsw.cursor`.

An execution runs the statement *and* fetches the first batch in one
request, so a small query costs one round trip to the worker; an
unfinished one keeps its APSW cursor for the next fetches, and is closed
here when the rows run out (or when the loop side drops it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import islice
from operator import itemgetter
from time import monotonic
from typing import TYPE_CHECKING, Any

import apsw

from .rows import CompiledFactory, RowShaper
from .transaction_control import refuse_transaction_control

if TYPE_CHECKING:
    from .core import Bindings

_INLINE_CHUNK = 64  # rows read between two looks at the clock when reading ahead inline

_first = itemgetter(0)


class Execution:
    """Worker-side state of one execution: the APSW cursor and how to shape its rows."""

    # Fields a point query never changes are class-level defaults (no
    # ``__slots__``): an execution is made for every statement.
    raw: apsw.Cursor | None = None
    held_error: Exception | None = None  # raised by the fetch after the rows before it
    readonly = True  # every statement run so far only reads
    elapsed = 0.0
    """Seconds the execution and its first batch took in the worker, preparing aside.

    APSW keeps prepared statements for the next execution of the same SQL,
    which is what an inline run of it will be; so the clock starts when the
    first statement has been prepared, at the tracer's first call.
    """
    clock: Callable[[], float] | None = None
    """What ``elapsed`` is measured with; None (most runs: nobody reads it) skips timing."""
    stepped = 0.0  # ``clock()`` at the tracer's first call (0: not called yet)
    refuses: str | None = None
    """Where transaction control is refused (for its error message), or None to allow it."""

    def __init__(
        self,
        factory: CompiledFactory,
        abandon_inline: Callable[[], bool],
        refuses: str | None = None,
    ) -> None:
        self.shape = RowShaper(factory)
        self.abandon_inline = abandon_inline  # Engine.abandon_inline
        if refuses is not None:
            self.refuses = refuses

    def on_statement(self, cursor: apsw.Cursor, sql: str, bindings: Any) -> bool:
        """APSW exec tracer: a new statement of this execution is about to run.

        The columns are known before the first step, so zero-row queries
        still have a description, and each statement of a multi-statement
        script gets rows shaped by its own column names. A tracer set on the
        connection by the user is still called.
        """
        clock = self.clock
        if clock is not None and not self.stepped:
            self.stepped = clock()
        if not cursor.is_readonly:
            self.readonly = False
            if self.abandon_inline():
                return False  # never write from the loop thread: SQLite stops before it starts
        elif self.refuses is not None:  # (SQLite counts BEGIN, COMMIT... as read-only)
            refuse_transaction_control(sql, self.refuses)
        self.shape.learn(cursor.description)
        user_tracer = cursor.connection.exec_trace
        return True if user_tracer is None else bool(user_tracer(cursor, sql, bindings))

    def recheck_columns(self, cursor: apsw.Cursor) -> None:
        """After the first step: take the columns again if SQLite re-prepared the execution.

        The tracer runs before the first step, and a statement from APSW's
        cache that was prepared before a schema change (a table dropped and
        made again, a column added) still shows its old columns until that
        step re-prepares it: rows were shaped, and ``description`` named, by
        the old columns. APSW keeps the first answer of ``description`` for
        the execution, but ``get_description`` (not asked before) answers
        afresh. (A result with no rows has finished by now and cannot be
        asked: its description may stay the old one, with no row to mislabel.)
        """
        try:
            columns = cursor.get_description()
        except apsw.ExecutionCompleteError:
            return
        seen = self.shape.description
        if seen is not None and list(map(_first, columns)) == list(map(_first, seen)):
            return
        self.shape.learn(
            tuple((name, kind, None, None, None, None, None) for name, kind in columns)
        )

    def on_first_of_many(self, cursor: apsw.Cursor, sql: str, bindings: Any) -> bool:
        """The tracer for ``executemany``: learn the columns once, then step aside.

        Every set of bindings re-runs the same statement, so the columns
        cannot change; tracing each one would cost a Python call per row.
        """
        proceed = self.on_statement(cursor, sql, bindings)
        cursor.exec_trace = None  # the connection's tracer, if any, takes over
        return proceed

    def close(self) -> None:
        raw, self.raw = self.raw, None
        if raw is not None:
            raw.close(True)


def execute_in_worker(
    conn: apsw.Connection,
    execution: Execution,
    sql: str,
    bindings: Bindings | Iterable[Bindings],
    many: bool,
    first_batch: int | None,
) -> tuple[list[Any], bool]:
    """Run ``sql`` and fetch up to ``first_batch`` rows (all when None)."""
    clock = execution.clock
    started = 0.0 if clock is None else clock()
    raw = conn.cursor()
    execution.raw = raw
    try:
        if many:
            # A script's later statements are checked too when transaction
            # control is refused: any of them could end the transaction.
            script = execution.refuses is not None and ";" in sql
            # Held here while it runs: APSW calls the tracer through the cursor's
            # reference only, and when the bound method, freed by its own
            # ``exec_trace = None``, then raised an apsw.Error, APSW crashed.
            tracer = execution.on_statement if script else execution.on_first_of_many
            raw.exec_trace = tracer
            raw.executemany(sql, bindings)  # type: ignore[arg-type]
        else:
            raw.exec_trace = execution.on_statement
            raw.execute(sql, bindings)  # type: ignore[arg-type]
        execution.recheck_columns(raw)
    except BaseException:
        execution.close()
        raise
    batch = _read(execution, raw, first_batch)
    if clock is not None:
        execution.elapsed = clock() - (execution.stepped or started)
    return batch


def execute_inline(
    conn: apsw.Connection,
    execution: Execution,
    sql: str,
    bindings: Bindings,
    first_batch: int,
    max_rows: int,
    until: float,
) -> tuple[list[Any], bool]:
    """``execute_in_worker`` on the loop thread, then more rows while time allows.

    Rows read now cost no trip later; the time limit (``monotonic()``) keeps
    the loop's pause short, and SQLite's budget check abandons the whole run
    (statement included, so the worker re-runs it from the start) if one
    chunk runs long.
    """
    rows, done = execute_in_worker(conn, execution, sql, bindings, False, first_batch)
    while not done and execution.held_error is None and len(rows) < max_rows:
        if monotonic() >= until:
            break
        more, done = fetch_in_worker(conn, execution, _INLINE_CHUNK)
        rows += more
    return rows, done


def fetch_in_worker(
    conn: apsw.Connection, execution: Execution, size: int | None
) -> tuple[list[Any], bool]:
    """Up to ``size`` rows (all when None) and whether the statement is finished.

    One row past ``size`` is read ahead, so a result that fits the batch is
    known to be complete without another round trip. If producing a row
    fails part way through a batch, the rows before it are still delivered
    and the error is raised by the next fetch, as iterating the statement
    directly would; ``fetchall`` (``size`` None) raises at once.
    """
    error, execution.held_error = execution.held_error, None
    if error is not None:
        raise error
    raw = execution.raw
    if raw is None:
        raise apsw.CursorClosedError("the cursor was closed, cancelled or failed")
    return _read(execution, raw, size)


def _read(execution: Execution, raw: apsw.Cursor, size: int | None) -> tuple[list[Any], bool]:
    """``fetch_in_worker`` once its checks have passed (as they have right after the execute)."""
    source: Iterable[Any] = raw if size is None else islice(raw, size + 1)
    shape = execution.shape
    if shape.convert is not None:
        # Read for each row: in a script, the tracer swaps it when the next
        # statement, with columns of its own, starts part way through a batch.
        source = (shape.convert(row) for row in source)
    rows: list[Any] = []
    try:
        rows.extend(source)  # keeps the rows read before an error
    except Exception as exc:
        execution.close()
        if size is None or not rows or isinstance(exc, apsw.InterruptError):
            raise  # nothing to hand over first, or stopped by cancellation or a deadline
        execution.held_error = exc
        return rows, False
    except BaseException:
        execution.close()
        raise
    done = size is None or len(rows) <= size
    if done:
        execution.raw = None  # (close, without its call: ``raw`` is known to be open)
        raw.close(True)
    return rows, done


def close_in_worker(conn: apsw.Connection, execution: Execution) -> None:
    """Close an execution the loop side is done with (only the worker may)."""
    execution.close()


def _closing(run: Callable[..., tuple[list[Any], bool]]) -> Callable[..., tuple[list[Any], bool]]:
    """``run`` for a caller that wants only the first rows: close the statement in the same run.

    An unfinished statement holds its connection's read snapshot. Closed by
    a later request, it left a gap in which the worker ran other requests
    queued on that connection (other tasks' reads on a shared pool reader),
    and they saw the database as it was when the statement started: writes
    their own tasks had been told were committed were missing.
    """

    def run_and_close(
        conn: apsw.Connection, execution: Execution, *args: Any
    ) -> tuple[list[Any], bool]:
        rows, done = run(conn, execution, *args)
        if not done:
            execution.close()
        return rows, True

    return run_and_close


execute_first_in_worker = _closing(execute_in_worker)
execute_first_inline = _closing(execute_inline)
