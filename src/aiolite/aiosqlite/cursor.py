"""The async cursor: a sqlite3-style cursor whose calls run in the connection's worker.

Rows are read ahead in batches (see ``_fetching``) and handed out from a
buffer, so ``fetchone``/``fetchmany``/``async for`` usually cost no round
trip at all; ``close()`` is queued without waiting for it. Rows are
whatever the row factory makes (tuples by default, ``sqlite3.Row``, or your
own), so they are typed ``Any`` rather than claiming ``sqlite3.Row`` as
aiosqlite's annotations do.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .._apsw import AsyncClosing
from . import _dbapi, _fetching
from ._dbapi.rows import resolve_factory
from ._fetching import Batch, RowFactory
from ._worker import Worker

if TYPE_CHECKING:
    from .core import Connection


class Cursor(AsyncClosing):
    """An async proxy for ``sqlite3.Cursor``.

    >>> import asyncio
    >>> from aiolite import aiosqlite
    >>> async def main():
    ...     async with aiosqlite.connect(":memory:") as db:
    ...         async with db.cursor() as cursor:
    ...             await cursor.execute("SELECT 1 UNION SELECT 2")
    ...             return [row async for row in cursor], cursor.description[0][0]
    >>> asyncio.run(main())
    ([(1,), (2,)], '1')
    """

    def __init__(
        self,
        conn: Connection,
        cursor: _dbapi.Cursor,
        row_factory: RowFactory = None,
        first: Batch | None = None,
        *,
        worker: Worker | None = None,
    ) -> None:
        """Made by ``conn``, which passes the interface its cursors use as ``worker``.

        ``Cursor(conn, cursor)`` alone, aiosqlite's signature, works too.
        """
        if worker is None:
            from .core import worker_of  # only here: core.py imports this module

            worker = worker_of(conn)
        self.iter_chunk_size = worker.iter_chunk_size
        self._worker = worker
        self._conn = conn  # aiosqlite's name for the cursor's connection
        self._cursor = cursor
        self._row_factory_set: RowFactory
        if first is None:
            self._row_factory_set = cursor.row_factory
            self._rows: deque[tuple[Any, ...]] = deque()
        else:
            self._row_factory_set = row_factory
            rows, self._done, self._error = first
            self._rows = deque(rows)
        factory = self._row_factory_set
        self._row_factory: RowFactory = factory if factory is None else resolve_factory(factory)

    # Defaults at class level: a cursor is made for every execute.
    _done = True
    _error: Exception | None = None
    _batch = _fetching.FIRST_BATCH
    _closed = False

    def _take(self, batch: Batch) -> None:
        rows, self._done, self._error = batch
        self._rows.extend(rows)

    def _check(self) -> None:
        worker = self._worker  # Worker.check_open, inlined: this runs for every fetchone
        if not worker.running or worker.connection is None:
            raise ValueError("Connection closed")
        if self._closed:
            raise sqlite3.ProgrammingError("Cannot operate on a closed cursor.")

    def _shape(self, rows: Iterable[tuple[Any, ...]]) -> list[Any]:
        factory = self._row_factory
        if factory is None:
            return list(rows)
        cursor = self._cursor
        return [factory(cursor, row) for row in rows]

    async def _refill(self, size: int | None) -> None:
        """One trip to the worker for more rows (all when ``size`` is None)."""
        if size is not None:
            size = max(size, self._batch)
            self._batch = min(self._batch * 2, _fetching.MAX_BATCH)
        self._take(await self._worker.run_bound(_fetching.fetch, self._cursor, size))

    def _raise_held(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    # ------------------------------------------------------------------ running

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> Cursor:
        """Execute one statement; returns the cursor itself."""
        self._check()
        self._rows.clear()
        self._batch = _fetching.FIRST_BATCH
        batch = await self._worker.run_bound(
            _fetching.execute,
            self._cursor,
            sql,
            () if parameters is None else parameters,
            _fetching.FIRST_BATCH,
        )
        self._take(batch)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> Cursor:
        """Execute one statement for each parameter set."""
        self._check()
        self._rows.clear()
        self._done, self._error = True, None
        await self._worker.run(self._cursor.executemany, sql, parameters)
        return self

    async def executescript(self, sql_script: str) -> Cursor:
        """Execute several statements (commits a pending transaction first, as sqlite3 does)."""
        self._check()
        self._rows.clear()
        self._done, self._error = True, None
        await self._worker.run(self._cursor.executescript, sql_script)
        return self

    # ----------------------------------------------------------------- fetching

    async def fetchone(self) -> Any:
        """The next row, or None."""
        self._check()
        rows = self._rows
        if not rows:
            self._raise_held()
            if self._done:
                return None
            await self._refill(1)
            if not rows:
                return None
        row = rows.popleft()
        factory = self._row_factory
        return row if factory is None else factory(self._cursor, row)

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        """Up to ``size`` rows (default ``arraysize``)."""
        self._check()
        if size is None:
            size = self._cursor.arraysize
        rows = self._rows
        if len(rows) < size:
            if not rows:
                self._raise_held()
            if not self._done:
                await self._refill(size - len(rows))
        count = min(size, len(rows))
        if count == len(rows):
            taken = self._shape(rows)
            rows.clear()
            return taken
        return self._shape(rows.popleft() for _ in range(count))

    async def fetchall(self) -> list[Any]:
        """All remaining rows."""
        self._check()
        rows = self._rows
        if not self._done:
            await self._refill(None)
        if self._error is not None:  # sqlite3's fetchall raises, dropping the rows before
            rows.clear()
            self._raise_held()
        taken = self._shape(rows)
        rows.clear()
        return taken

    def __aiter__(self) -> AsyncIterator[Any]:
        """Rows one by one; a trip to the worker only when the buffer is empty.

        Each trip reads at least ``iter_chunk_size`` rows, more as a long
        result goes on (batches double up to ``_fetching.MAX_BATCH``).
        """
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        self._check()
        rows = self._rows
        cursor = self._cursor
        while True:
            if not rows:
                self._check()
                self._raise_held()
                if self._done:
                    return
                await self._refill(self.iter_chunk_size)
                continue
            factory = self._row_factory
            if factory is None:
                while rows:
                    yield rows.popleft()
            else:
                while rows:
                    yield factory(cursor, rows.popleft())

    async def close(self) -> None:
        """Close the cursor (queued in the worker; no need to wait for it)."""
        self._worker.check_open()
        if self._closed:
            return
        self._closed = True
        self._rows.clear()
        if not self._done:
            # A statement with rows left holds SQLite resources: release them in order.
            # A finished one holds none, and nothing can reach it once this cursor
            # refuses every call: no request is needed (``async with db.execute()``).
            self._worker.post_bound(_fetching.close, self._cursor)

    # --------------------------------------------------------------- attributes

    aclose = close  # what ``async with`` awaits (AsyncClosing)

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    @property
    def description(self) -> Sequence[tuple[str, None, None, None, None, None, None]] | None:
        return self._cursor.description

    @property
    def row_factory(self) -> RowFactory:
        """Shapes each row as it is fetched (``sqlite3.Row``, a function, or None for tuples)."""
        return self._row_factory_set

    @row_factory.setter
    def row_factory(self, factory: RowFactory) -> None:
        self._row_factory_set = factory
        self._row_factory = resolve_factory(factory)

    @property
    def connection(self) -> _dbapi.Connection:
        """The underlying sqlite3-style connection (as in aiosqlite)."""
        return self._cursor.connection
