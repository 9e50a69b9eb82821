"""Incremental blob I/O: an ``apsw.Blob`` used from async code.

Reads, writes and reopening touch the database, so each is one request to
the worker thread. ``seek``, ``tell`` and ``length`` only move or read the
blob's own cursor and size, so they are plain calls, as in APSW's async mode.
Closing may commit, and commits so that the event loop keeps running
meanwhile (see :mod:`.blob_commit`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import apsw

from ..arguments import require_str
from ..closing import AsyncClosing
from ..core import CoreFront
from .blob_commit import BlobHandle, close_blob, open_blob

if TYPE_CHECKING:
    from types import TracebackType

    from ..core import ConnectionCore


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


class Blob(AsyncClosing):
    """An open blob: ``read``/``write`` are awaitable, ``seek``/``tell``/``length`` are not.

    Made by :meth:`Connection.blob_open`; close it with ``aclose()`` or ``async with``.

    Outside a transaction, what a writable blob writes is committed when it
    closes (when the last one closes, if several are open), as in SQLite;
    if its ``async with`` block ends with an exception (a failed or
    cancelled write included) it is rolled back instead, with everything
    done on the connection since the blob opened (it was all one
    transaction). Inside a transaction, closing commits nothing: the
    transaction does. Either way the commit runs without holding the event
    loop. Collected unclosed, a blob is closed and committed, as in APSW.

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

    def __init__(self, core: ConnectionCore, handle: BlobHandle) -> None:
        self._core = core
        self._handle = handle
        self._raw = handle.raw
        self._closed = False

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
        """Close the blob (idempotent), committing its writes if it was opened outside a
        transaction. ``force``: ignore an error the close reports."""
        await self._close(True, force)

    close = aclose

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self._close(True, False)
        else:  # the block failed: what the blob wrote goes too (the error is the block's)
            await self._close(False, True)

    async def _close(self, commit: bool, force: bool) -> None:
        if self._closed:
            return
        self._closed = True
        core = self._core
        if core.engine.closed:
            return  # closing the connection closed the blob
        try:
            await core.call_cleanup(close_blob, self._handle, commit, force)
        except BaseException:
            # Cancelled before the close ran (or it failed, and rolled back): leave
            # no blob, and no transaction, open behind us. A no-op if it ran.
            core.post(close_blob, self._handle, False, True)
            raise

    def __del__(self) -> None:
        if not self._closed:
            # Close it in the worker, as APSW would on collection (committing),
            # never here while the worker may be using the connection.
            self._core.post(close_blob, self._handle, True, True)

    def __repr__(self) -> str:
        if self._closed:
            return f"<aiolite.Blob on {self._core.describe()} closed>"
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
        handle = await self._core.call(open_blob, database, table, column, rowid, writeable)
        return Blob(self._core, handle)
