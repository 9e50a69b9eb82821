"""The async cursor: a ``sqlite3.Cursor`` whose calls run in the connection's worker.

Rows are whatever the row factory makes (tuples by default, ``sqlite3.Row``,
or your own), so they are typed ``Any`` rather than claiming ``sqlite3.Row``
as aiosqlite's annotations do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import Connection


class Cursor:
    """An async proxy for ``sqlite3.Cursor``; ``async for`` fetches ``iter_chunk_size`` rows
    per round trip.

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

    def __init__(self, conn: Connection, cursor: sqlite3.Cursor) -> None:
        self.iter_chunk_size = conn._iter_chunk_size
        self._conn = conn
        self._cursor = cursor

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._fetch_chunked()

    async def _fetch_chunked(self) -> AsyncIterator[Any]:
        while True:
            rows = await self.fetchmany(self.iter_chunk_size)
            if not rows:
                return
            for row in rows:
                yield row

    async def _execute(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` in the connection's worker thread."""
        return await self._conn._execute(fn, *args)

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> Cursor:
        """Execute one statement; returns the cursor itself."""
        await self._execute(self._cursor.execute, sql, () if parameters is None else parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> Cursor:
        """Execute one statement for each parameter set."""
        await self._execute(self._cursor.executemany, sql, parameters)
        return self

    async def executescript(self, sql_script: str) -> Cursor:
        """Execute several statements (commits a pending transaction first, as sqlite3 does)."""
        await self._execute(self._cursor.executescript, sql_script)
        return self

    async def fetchone(self) -> Any:
        """The next row, or None."""
        return await self._execute(self._cursor.fetchone)

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        """Up to ``size`` rows (default ``arraysize``)."""
        if size is None:
            return await self._execute(self._cursor.fetchmany)  # type: ignore[no-any-return]
        return await self._execute(self._cursor.fetchmany, size)  # type: ignore[no-any-return]

    async def fetchall(self) -> list[Any]:
        """All remaining rows."""
        return await self._execute(self._cursor.fetchall)  # type: ignore[no-any-return]

    async def close(self) -> None:
        """Close the cursor."""
        await self._execute(self._cursor.close)

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
    def row_factory(self) -> Callable[[sqlite3.Cursor, tuple[Any, ...]], Any] | None:
        return self._cursor.row_factory

    @row_factory.setter
    def row_factory(self, factory: Callable[[sqlite3.Cursor, tuple[Any, ...]], Any] | None) -> None:
        self._cursor.row_factory = factory

    @property
    def connection(self) -> sqlite3.Connection:
        """The underlying ``sqlite3.Connection`` (as in aiosqlite)."""
        return self._cursor.connection

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
