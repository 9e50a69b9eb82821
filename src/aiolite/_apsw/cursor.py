"""Cursors, the loop side of a statement: its rows, handed out from growing batches.

``execute`` runs the statement *and* fetches the first batch in one request
(see :mod:`aiolite._apsw.execution`, the worker side), so a small query
costs one round trip to the worker, however it is read afterwards. Larger
results come in batches that grow (so long scans pay few round trips) while
rows already fetched are handed out with no trip at all.

Only the worker thread ever touches the APSW cursor: it is closed there when
the rows run out, and a cursor dropped before that is closed there too.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Coroutine, Generator, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import apsw

from .._errors import ConnectionClosedError
from .awaitables import Deferred
from .closing import AsyncClosing
from .execution import Execution, close_in_worker, fetch_in_worker
from .misuse import AsyncOnly, hint_forgotten_await
from .rows import Description as Description
from .statement_log import short

if TYPE_CHECKING:
    from types import TracebackType

    from .connection import Connection
    from .core import Bindings, ConnectionCore

RowT = TypeVar("RowT")


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

    _closed = False
    _next_batch = 0  # rows the next fill asks for (0: not grown yet, the connection's start)

    def __init__(
        self,
        connection: Connection[RowT],
        core: ConnectionCore,
        execution: Execution,
        rows: list[RowT],
        done: bool,
    ) -> None:
        self._connection = connection
        self._core = core
        self._engine = core.engine
        self._execution = execution
        self._rows: deque[RowT] = deque(rows)
        self._done = done

    @property
    def connection(self) -> Connection[RowT]:
        return self._connection

    @property
    def description(self) -> Description | None:
        """One DB-API 7-tuple per column of the current statement (name first, then
        declared type); None for a statement without result columns.

        Known before the first row, so a query that returns nothing still has one.
        """
        return self._execution.shape.description

    def __aiter__(self) -> Cursor[RowT]:
        return self

    async def __anext__(self) -> RowT:
        # The hot loop of every scan: plain attribute reads only, no calls.
        rows = self._rows
        if rows and not self._engine.closing:
            return rows.popleft()
        if await self._fill(self._next_batch or self._core.prefetch * 16):
            return self._rows.popleft()
        raise StopAsyncIteration

    async def fetchone(self) -> RowT | None:
        """The next row, or None when there are no more."""
        if (self._rows and not self._engine.closed) or await self._fill(
            self._next_batch or self._core.prefetch * 16
        ):
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
    def get(self) -> Deferred[Any]:
        """The result with the least structure, as APSW's ``Cursor.get``.

        None for no rows; for one row, the row, or its only value if it is a
        one-column tuple; for several rows, a list of those. Await it as APSW
        spells it (``await cursor.get``) or as a call (``await cursor.get()``).
        """
        return Deferred(self._get, "cursor.get")

    async def _get(self) -> Any:
        buffered = self._rows
        if self._done and not self._closed and not self._engine.closing:
            if len(buffered) == 1:  # a point query: no list, no fetchall
                row = buffered.popleft()
                if isinstance(row, tuple):
                    description = self._execution.shape.description
                    if description is not None and len(description) == 1:
                        return row[0]
                return row
            rows = list(buffered)  # (fetchall, without its coroutine and checks)
            buffered.clear()
        else:
            rows = await self.fetchall()
        if not rows:
            return None
        description = self._execution.shape.description
        if description is not None and len(description) == 1 and isinstance(rows[0], tuple):
            return rows[0][0] if len(rows) == 1 else [row[0] for row in rows]  # type: ignore[index]
        return rows[0] if len(rows) == 1 else rows

    async def aclose(self) -> None:
        """Finish the statement now rather than when the cursor is collected. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._rows.clear()
        self._done = True
        if self._execution.raw is not None and not self._engine.closed:
            await self._core.call_cleanup(close_in_worker, self._execution)

    async def _fill(self, size: int) -> bool:
        """Fetch the next batch into the buffer; False if there were no more rows."""
        self._check_open()
        if self._done:
            return False
        self._rows.extend(await self._fetch(size))
        core = self._core
        self._next_batch = min((self._next_batch or core.prefetch * 16) * 4, core.max_batch)
        return bool(self._rows)

    async def _fetch(self, size: int | None) -> list[RowT]:
        try:
            rows, done = await self._core.call(fetch_in_worker, self._execution, size)
        except BaseException:
            execution = self._execution
            if execution.raw is None and execution.held_error is None:
                self._done = True  # the worker gave up on the statement; nothing more will come
            raise
        self._done = done
        return rows

    def __repr__(self) -> str:
        if self._closed:
            state = "closed"
        else:
            more = "done" if self._done else "more to fetch"
            count = len(self._rows)
            state = f"{count} row{'' if count == 1 else 's'} buffered, {more}"
        return f"<aiolite.Cursor on {self._core.describe()} {state}>"

    def __del__(self) -> None:
        if self._execution.raw is not None:
            # Hand the APSW cursor to the worker to close: it must never be
            # finalized here while the worker is using the connection.
            self._core.post(close_in_worker, self._execution)


class PendingCursor(AsyncOnly, Coroutine[Any, Any, "Cursor[RowT]"]):
    """What ``execute`` returns: await it, iterate it, or use it with ``async with``.

    * ``cursor = await db.execute(sql)`` runs the statement and gives the cursor;
    * ``async for row in db.execute(sql)`` runs it and iterates the rows;
    * ``async with db.execute(sql) as cursor`` also closes the cursor at the end.

    It is also a coroutine, so ``asyncio.create_task(db.execute(sql))`` and
    ``TaskGroup.create_task`` take it as they take any other call. The
    statement runs once, however many of these are used.
    """

    # Fields every one starts with the same value of are class-level defaults
    # (no ``__slots__``): one is made for every statement.
    _cursor: Cursor[RowT] | None = None
    _driver: Coroutine[Any, Any, Cursor[RowT]] | None = None
    _started = False

    def __init__(
        self,
        connection: Connection[RowT],
        core: ConnectionCore,
        sql: str,
        bindings: Bindings | Iterable[Bindings],
        many: bool,
    ) -> None:
        self._connection = connection
        self._core = core
        self._sql = sql
        self._bindings = bindings
        self._many = many

    def __await__(self) -> Generator[Any, None, Cursor[RowT]]:
        return self._start().__await__()

    async def _start(self) -> Cursor[RowT]:
        self._started = True
        if self._cursor is None:
            core = self._core
            if core.log is None:
                execution, rows, done = await core.execute(
                    self._sql, self._bindings, self._many, core.prefetch
                )
            else:
                execution, rows, done = await core.log.execute(
                    core, self._sql, self._bindings, self._many, core.prefetch
                )
            self._cursor = Cursor(self._connection, core, execution, rows, done)
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

    @property
    def __name__(self) -> str:
        """What asyncio calls it in a task's repr (a coroutine's function name otherwise)."""
        call = "executemany" if self._many else "execute"
        return f"{call}({short(self._sql, 60)!r})"

    def __repr__(self) -> str:
        if self._cursor is not None:
            state = "done"
        else:
            state = "running" if self._started else "not run yet"
        return f"<aiolite.PendingCursor {self.__name__} {state}>"

    def __del__(self) -> None:
        if not self._started:
            warnings.warn(
                f"the statement {self._sql[:60]!r} never ran: await db.execute(...), "
                "or use it with 'async for' or 'async with'",
                RuntimeWarning,
                stacklevel=2,
            )


hint_forgotten_await(PendingCursor, Cursor, "db.execute(...)")
