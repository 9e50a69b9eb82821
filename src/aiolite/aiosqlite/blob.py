"""Incremental blob I/O (``sqlite3.Blob``'s API) with awaitable methods.

aiosqlite has no ``blobopen``; this is an aiolite addition. The blob belongs
to the connection's worker thread, so each call is a request to the worker.
"""

from __future__ import annotations

from .._apsw import AsyncClosing
from . import _dbapi
from ._worker import Worker


class Blob(AsyncClosing):
    """An open blob: ``read``, ``write``, ``seek``, ``tell``, ``close``, ``async with``.

    >>> import asyncio
    >>> from aiolite import aiosqlite
    >>> async def main():
    ...     async with aiosqlite.connect(":memory:") as db:
    ...         await db.execute("CREATE TABLE t(b BLOB)")
    ...         await db.execute("INSERT INTO t VALUES (zeroblob(5))")
    ...         async with await db.blobopen("t", "b", 1) as blob:
    ...             await blob.write(b"hello")
    ...             await blob.seek(0)
    ...             return await blob.read()
    >>> asyncio.run(main())
    b'hello'
    """

    def __init__(self, worker: Worker, blob: _dbapi.Blob) -> None:
        self._worker = worker  # the connection's core: its requests run there
        self._blob = blob

    async def read(self, length: int = -1) -> bytes:
        """Read ``length`` bytes (the rest by default) from the current offset."""
        return await self._worker.run(self._blob.read, length)  # type: ignore[no-any-return]

    async def write(self, data: bytes) -> None:
        """Write ``data`` at the current offset (a blob never changes size)."""
        await self._worker.run(self._blob.write, data)

    async def seek(self, offset: int, origin: int = 0) -> None:
        """Move to ``offset`` from ``origin`` (``os.SEEK_SET``, ``SEEK_CUR`` or ``SEEK_END``)."""
        await self._worker.run(self._blob.seek, offset, origin)

    async def tell(self) -> int:
        """The current offset."""
        return await self._worker.run(self._blob.tell)  # type: ignore[no-any-return]

    async def length(self) -> int:
        """The blob's size in bytes (``len()`` of a ``sqlite3.Blob``)."""
        return await self._worker.run(self._blob.__len__)  # type: ignore[no-any-return]

    async def close(self) -> None:
        """Close the blob."""
        await self._worker.run(self._blob.close)

    aclose = close  # what ``async with`` awaits (AsyncClosing)
