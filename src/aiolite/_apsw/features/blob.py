"""Incremental blob I/O: an ``apsw.Blob`` used from async code.

Reads, writes and reopening touch the database, so each is one request to
the worker thread. ``seek``, ``tell`` and ``length`` only move or read the
blob's own cursor and size, so they are plain calls, as in APSW's async mode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import apsw

from ..arguments import require_str
from ..closing import AsyncClosing
from ..core import CoreFront

if TYPE_CHECKING:
    from ..core import ConnectionCore


def _open(
    conn: apsw.Connection, database: str, table: str, column: str, rowid: int, writeable: bool
) -> apsw.Blob:
    return conn.blob_open(database, table, column, rowid, writeable)


def _read(conn: apsw.Connection, blob: apsw.Blob, length: int) -> bytes:
    return blob.read(length)


def _read_into(
    conn: apsw.Connection, blob: apsw.Blob, buffer: Any, offset: int, length: int
) -> None:
    blob.read_into(buffer, offset, length)


def _write(conn: apsw.Connection, blob: apsw.Blob, data: Any) -> None:
    blob.write(data)


def _reopen(conn: apsw.Connection, blob: apsw.Blob, rowid: int) -> None:
    blob.reopen(rowid)


def _close(conn: apsw.Connection, blob: apsw.Blob, force: bool) -> None:
    blob.close(force)


class Blob(AsyncClosing):
    """An open blob: ``read``/``write`` are awaitable, ``seek``/``tell``/``length`` are not.

    Made by :meth:`Connection.blob_open`; close it with ``aclose()`` or ``async with``.

    >>> import asyncio, aiolite
    >>> async def main():
    ...     async with aiolite.connect(":memory:") as db:
    ...         await db.execute("CREATE TABLE files(data)")
    ...         await db.execute("INSERT INTO files VALUES (zeroblob(16))")
    ...         async with await db.blob_open("main", "files", "data", 1, True) as blob:
    ...             await blob.write(b"hello")
    ...             blob.seek(0)
    ...             return await blob.read(5), blob.tell(), blob.length()
    >>> asyncio.run(main())
    (b'hello', 5, 16)
    """

    def __init__(self, core: ConnectionCore, raw: apsw.Blob) -> None:
        self._core = core
        self._raw = raw

    async def read(self, length: int = -1) -> bytes:
        """Up to ``length`` bytes from the current position (all that is left if -1)."""
        return await self._core.call(_read, self._raw, length)

    async def read_into(self, buffer: Any, offset: int = 0, length: int = -1) -> None:
        """Fill ``buffer`` (a writable buffer) from ``offset`` with up to ``length`` bytes."""
        await self._core.call(_read_into, self._raw, buffer, offset, length)

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        """Write ``data`` at the current position; a blob never grows
        (``ValueError`` past its end)."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
        await self._core.call(_write, self._raw, data)

    def seek(self, offset: int, whence: int = 0) -> None:
        """Move the position (``whence`` 0: from the start, 1: from here, 2: from the end)."""
        self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def length(self) -> int:
        """The blob's size in bytes."""
        return self._raw.length()

    async def reopen(self, rowid: int) -> None:
        """Point at the same column of another row, position back at 0."""
        await self._core.call(_reopen, self._raw, rowid)

    async def aclose(self, force: bool = False) -> None:
        """Close the blob (idempotent). Closing chooses when its writes are committed."""
        if not self._core.engine.closed:
            await self._core.call_cleanup(_close, self._raw, force)

    close = aclose

    def __repr__(self) -> str:
        try:
            where = f"{self._raw.tell()} of {self._raw.length()} bytes"
        except Exception:  # closed, or its connection is
            where = "closed"
        return f"<aiolite.Blob on {self._core.describe()} {where}>"


class BlobMethods(CoreFront):
    async def blob_open(
        self, database: str, table: str, column: str, rowid: int, writeable: bool
    ) -> Blob:
        """Open one value for incremental I/O: see :class:`aiolite.Blob`."""
        for value, what in ((database, "database"), (table, "table"), (column, "column")):
            require_str(value, what)
        if not isinstance(rowid, int):
            raise TypeError(f"rowid must be an int, not {type(rowid).__name__}")
        raw = await self._core.call(_open, database, table, column, rowid, writeable)
        return Blob(self._core, raw)
