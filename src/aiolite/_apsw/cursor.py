"""Cursors: the rows of one ``execute``, fetched from the worker in growing batches.

``execute`` runs the statement *and* fetches the first batch in one request,
so a small query costs one round trip to the worker, however it is read
afterwards. Larger results come in batches that grow (so long scans pay few
round trips) while rows already fetched are handed out with no trip at all.

Only the worker thread ever touches the APSW cursor: it is closed there when
the rows run out, and a cursor dropped before that is closed there too.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable
from itertools import islice
from operator import itemgetter
from time import monotonic, perf_counter
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import apsw

from .._errors import ConnectionClosedError
from .part import AsyncClosing
from .rows import CompiledFactory, RowConverter, _keep_tuples
from .transaction import refuse_transaction_control

if TYPE_CHECKING:
    from types import TracebackType

    from .connection import Bindings, Connection

RowT = TypeVar("RowT")

_INLINE_CHUNK = 64  # rows read between two looks at the clock when reading ahead inline

Description = tuple[tuple[Any, ...], ...]
_first = itemgetter(0)


class Statement:
    """Worker-side state of one execution: the APSW cursor and how to shape its rows."""

    __slots__ = (
        "abandon_inline",
        "convert",
        "description",
        "elapsed",
        "factory",
        "held_error",
        "raw",
        "readonly",
        "refuses",
    )

    def __init__(
        self,
        factory: CompiledFactory,
        abandon_inline: Callable[[], bool],
        refuses: str | None = None,
    ) -> None:
        self.factory = factory
        self.abandon_inline = abandon_inline  # Engine.abandon_inline
        self.refuses = refuses
        """Where transaction control is refused (for its error message), or None to allow it."""
        self.raw: apsw.Cursor | None = None
        self.held_error: Exception | None = None  # raised by the fetch after the rows before it
        self.convert: RowConverter | None = None
        self.description: Description | None = None
        self.readonly = True  # every statement run so far only reads
        self.elapsed = 0.0  # seconds the execute and its first batch took in the worker

    def on_statement(self, cursor: apsw.Cursor, sql: str, bindings: Any) -> bool:
        """APSW exec tracer: a new statement of this execution is about to run.

        The columns are known before the first step, so zero-row queries
        still have a description, and each statement of a multi-statement
        script gets rows shaped by its own column names. A tracer set on the
        connection by the user is still called.
        """
        if not cursor.is_readonly:
            self.readonly = False
            if self.abandon_inline():
                return False  # never write from the loop thread: SQLite stops before it starts
        elif self.refuses is not None:  # (SQLite counts BEGIN, COMMIT... as read-only)
            refuse_transaction_control(sql, self.refuses)
        description = cursor.description
        self.description = description or None
        if self.factory is not _keep_tuples:
            self.convert = self.factory(tuple(column[0] for column in description))
        user_tracer = cursor.connection.exec_trace
        return True if user_tracer is None else bool(user_tracer(cursor, sql, bindings))

    def recheck_columns(self, cursor: apsw.Cursor) -> None:
        """After the first step: take the columns again if SQLite re-prepared the statement.

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
        seen = self.description or ()
        if len(columns) == len(seen) and list(map(_first, columns)) == list(map(_first, seen)):
            return
        self.description = tuple(
            (name, kind, None, None, None, None, None) for name, kind in columns
        )
        if self.factory is not _keep_tuples:
            self.convert = self.factory(tuple(map(_first, columns)))

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
    statement: Statement,
    sql: str,
    bindings: Bindings | Iterable[Bindings],
    many: bool,
    first_batch: int | None,
) -> tuple[list[Any], bool]:
    """Run ``sql`` and fetch up to ``first_batch`` rows (all when None)."""
    started = perf_counter()
    raw = conn.cursor()
    statement.raw = raw
    try:
        if many:
            # A script's later statements are checked too when transaction
            # control is refused: any of them could end the transaction.
            script = statement.refuses is not None and ";" in sql
            # Held here while it runs: APSW calls the tracer through the cursor's
            # reference only, and when the bound method, freed by its own
            # ``exec_trace = None``, then raised an apsw.Error, APSW crashed.
            tracer = statement.on_statement if script else statement.on_first_of_many
            raw.exec_trace = tracer
            raw.executemany(sql, bindings)  # type: ignore[arg-type]
        else:
            raw.exec_trace = statement.on_statement
            raw.execute(sql, bindings)  # type: ignore[arg-type]
        statement.recheck_columns(raw)
    except BaseException:
        statement.close()
        raise
    batch = fetch_in_worker(conn, statement, first_batch)
    statement.elapsed = perf_counter() - started
    return batch


def execute_inline(
    conn: apsw.Connection,
    statement: Statement,
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
    rows, done = execute_in_worker(conn, statement, sql, bindings, False, first_batch)
    while not done and statement.held_error is None and len(rows) < max_rows:
        if monotonic() >= until:
            break
        more, done = fetch_in_worker(conn, statement, _INLINE_CHUNK)
        rows += more
    return rows, done


def fetch_in_worker(
    conn: apsw.Connection, statement: Statement, size: int | None
) -> tuple[list[Any], bool]:
    """Up to ``size`` rows (all when None) and whether the statement is finished.

    One row past ``size`` is read ahead, so a result that fits the batch is
    known to be complete without another round trip. If producing a row
    fails part way through a batch, the rows before it are still delivered
    and the error is raised by the next fetch, as iterating the statement
    directly would; ``fetchall`` (``size`` None) raises at once.
    """
    error, statement.held_error = statement.held_error, None
    if error is not None:
        raise error
    raw = statement.raw
    if raw is None:
        raise apsw.CursorClosedError("the cursor was closed, cancelled or failed")
    source: Iterable[Any] = raw if size is None else islice(raw, size + 1)
    if statement.factory is not _keep_tuples:
        source = (statement.convert(row) for row in source)  # type: ignore[misc]
    rows: list[Any] = []
    try:
        rows.extend(source)  # keeps the rows read before an error
    except Exception as exc:
        statement.close()
        if size is None or not rows or isinstance(exc, apsw.InterruptError):
            raise  # nothing to hand over first, or stopped by cancellation or a deadline
        statement.held_error = exc
        return rows, False
    except BaseException:
        statement.close()
        raise
    done = size is None or len(rows) <= size
    if done:
        statement.close()
    return rows, done


def close_in_worker(conn: apsw.Connection, statement: Statement) -> None:
    statement.close()


def _closing(run: Callable[..., tuple[list[Any], bool]]) -> Callable[..., tuple[list[Any], bool]]:
    """``run`` for a caller that wants only the first rows: close the statement in the same run.

    An unfinished statement holds its connection's read snapshot. Closed by
    a later request, it left a gap in which the worker ran other requests
    queued on that connection (other tasks' reads on a shared pool reader),
    and they saw the database as it was when the statement started: writes
    their own tasks had been told were committed were missing.
    """

    def run_and_close(
        conn: apsw.Connection, statement: Statement, *args: Any
    ) -> tuple[list[Any], bool]:
        rows, done = run(conn, statement, *args)
        if not done:
            statement.close()
        return rows, True

    return run_and_close


execute_first_in_worker = _closing(execute_in_worker)
execute_first_inline = _closing(execute_inline)


class Cursor(AsyncClosing, Generic[RowT]):
    """The rows of one ``execute``: iterate with ``async for`` or fetch them.

    >>> import asyncio, aiolite
    >>> async def main():
    ...     async with aiolite.connect(":memory:") as db:
    ...         await db.execute("CREATE TABLE people(name); INSERT INTO people VALUES ('Ada')")
    ...         async with db.execute("SELECT name FROM people") as cursor:
    ...             return cursor.description[0][0], [name async for (name,) in cursor]
    >>> asyncio.run(main())
    ('name', ['Ada'])
    """

    arraysize: int = 1
    """How many rows ``fetchmany()`` returns when no size is given (DB-API)."""

    def __init__(
        self,
        connection: Connection[RowT],
        statement: Statement,
        rows: list[RowT],
        done: bool,
        next_batch: int,
        max_batch: int,
    ) -> None:
        self._connection = connection
        self._engine = connection._engine
        self._statement = statement
        self._rows: deque[RowT] = deque(rows)
        self._done = done
        self._next_batch = next_batch
        self._max_batch = max_batch
        self._closed = False

    @property
    def connection(self) -> Connection[RowT]:
        return self._connection

    @property
    def description(self) -> Description | None:
        """One DB-API 7-tuple per column of the current statement (name first, then
        declared type); None for a statement without result columns.

        Known before the first row, so a query that returns nothing still has one.
        """
        return self._statement.description

    def __aiter__(self) -> Cursor[RowT]:
        return self

    async def __anext__(self) -> RowT:
        # The hot loop of every scan: plain attribute reads only, no calls.
        rows = self._rows
        if rows and not self._engine._closing:
            return rows.popleft()
        if await self._fill(self._next_batch):
            return self._rows.popleft()
        raise StopAsyncIteration

    async def fetchone(self) -> RowT | None:
        """The next row, or None when there are no more."""
        if (self._rows and not self._engine.closed) or await self._fill(self._next_batch):
            return self._rows.popleft()
        return None

    async def fetchmany(self, size: int | None = None) -> list[RowT]:
        """Up to ``size`` more rows (``arraysize`` by default); fewer only at the end."""
        wanted = self.arraysize if size is None else size
        self._check_open()
        while len(self._rows) < wanted and await self._fill(max(wanted - len(self._rows), 1)):
            pass
        return [self._rows.popleft() for _ in range(min(wanted, len(self._rows)))]

    async def fetchall(self) -> list[RowT]:
        """Every remaining row, in one round trip at most.

        If fetching fails, rows fetched earlier stay in the cursor.
        """
        self._check_open()
        rows = list(self._rows)
        if not self._done:
            rows.extend(await self._fetch(None))
        self._rows.clear()
        return rows

    def _check_open(self) -> None:
        if self._closed:
            raise apsw.CursorClosedError("the cursor is closed")
        if self._engine.closed:
            raise ConnectionClosedError("the connection is closed")

    @property
    def get(self) -> Awaitable[Any]:
        """The result with the least structure, as APSW's ``Cursor.get``.

        None for no rows; for one row, the row, or its only value if it is a
        one-column tuple; for several rows, a list of those.
        """
        return self._get()

    async def _get(self) -> Any:
        rows = await self.fetchall()
        if not rows:
            return None
        single = self.description is not None and len(self.description) == 1
        if single and isinstance(rows[0], tuple):
            values = [row[0] for row in rows]  # type: ignore[index]
            return values[0] if len(values) == 1 else values
        return rows[0] if len(rows) == 1 else rows

    async def aclose(self) -> None:
        """Finish the statement now rather than when the cursor is collected. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._rows.clear()
        self._done = True
        if self._statement.raw is not None and not self._connection.closed:
            await self._connection._call_cleanup(close_in_worker, self._statement)

    async def _fill(self, size: int) -> bool:
        """Fetch the next batch into the buffer; False if there were no more rows."""
        self._check_open()
        if self._done:
            return False
        self._rows.extend(await self._fetch(size))
        self._next_batch = min(self._next_batch * 4, self._max_batch)
        return bool(self._rows)

    async def _fetch(self, size: int | None) -> list[RowT]:
        try:
            rows, done = await self._connection._call(fetch_in_worker, self._statement, size)
        except BaseException:
            statement = self._statement
            if statement.raw is None and statement.held_error is None:
                self._done = True  # the worker gave up on the statement; nothing more will come
            raise
        self._done = done
        return rows

    def __del__(self) -> None:
        if self._statement.raw is not None:
            # Hand the APSW cursor to the worker to close: it must never be
            # finalized here while the worker is using the connection.
            self._connection._post(close_in_worker, self._statement)


class PendingCursor(Coroutine[Any, Any, "Cursor[RowT]"]):
    """What ``execute`` returns: await it, iterate it, or use it with ``async with``.

    * ``cursor = await db.execute(sql)`` runs the statement and gives the cursor;
    * ``async for row in db.execute(sql)`` runs it and iterates the rows;
    * ``async with db.execute(sql) as cursor`` also closes the cursor at the end.

    It is also a coroutine, so ``asyncio.create_task(db.execute(sql))`` and
    ``TaskGroup.create_task`` take it as they take any other call. The
    statement runs once, however many of these are used.
    """

    __slots__ = ("_bindings", "_connection", "_cursor", "_driver", "_many", "_sql", "_started")

    def __init__(
        self,
        connection: Connection[RowT],
        sql: str,
        bindings: Bindings | Iterable[Bindings],
        many: bool,
    ) -> None:
        self._connection = connection
        self._sql = sql
        self._bindings = bindings
        self._many = many
        self._cursor: Cursor[RowT] | None = None
        self._driver: Coroutine[Any, Any, Cursor[RowT]] | None = None
        self._started = False

    def __await__(self) -> Generator[Any, None, Cursor[RowT]]:
        return self._start().__await__()

    async def _start(self) -> Cursor[RowT]:
        self._started = True
        if self._cursor is None:
            self._cursor = await self._connection._open_cursor(
                self._sql, self._bindings, self._many
            )
        return self._cursor

    # The coroutine protocol, for task runners that drive coroutines by hand.

    def _drive(self) -> Coroutine[Any, Any, Cursor[RowT]]:
        self._started = True  # handed to a task: whatever happens next was asked for
        if self._driver is None:
            self._driver = self._start()
        return self._driver

    def send(self, value: Any) -> Any:
        return self._drive().send(value)

    def throw(self, *exc_info: Any) -> Any:
        return self._drive().throw(*exc_info)

    def close(self) -> None:
        if self._driver is not None:
            self._driver.close()

    def __aiter__(self) -> PendingCursor[RowT]:
        return self

    async def __anext__(self) -> RowT:
        cursor = self._cursor
        if cursor is None:
            cursor = await self._start()
        return await cursor.__anext__()

    async def __aenter__(self) -> Cursor[RowT]:
        return await self._start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._cursor is not None:
            await self._cursor.aclose()

    def __del__(self) -> None:
        if not self._started:
            warnings.warn(
                f"the statement {self._sql[:60]!r} never ran: await db.execute(...), "
                "or use it with 'async for' or 'async with'",
                RuntimeWarning,
                stacklevel=2,
            )
