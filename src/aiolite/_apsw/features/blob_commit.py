"""Worker side of a blob: closing a written blob without freezing the event loop.

A writable blob opened outside a transaction runs in SQLite's autocommit
mode: its transaction commits when ``sqlite3_blob_close`` finalizes it. APSW
makes that call holding the GIL, so the whole commit (writing the pages,
``fsync``) stops every other Python thread, the event loop's included: half
a second for 200 MiB. A ``COMMIT`` statement does the same work with the GIL
released. So the last writable blob of a connection in autocommit closes as
``BEGIN`` (which only turns autocommit off: the blob's writes are already in
the open transaction), the close (which then commits nothing), and
``COMMIT`` (or ``ROLLBACK``, for a blob whose writer failed).

Only the *last* writable blob may do this: SQLite refuses to ``COMMIT``
while another write statement (another blob) is in progress, and in
autocommit it commits nothing until the last one has finished anyway. Inside
a transaction a blob's close commits nothing, so it stays a plain close.

Shared by :class:`aiolite.Blob` and the aiosqlite module's blob.
"""

from __future__ import annotations

import threading
import weakref

import apsw

_writers: weakref.WeakKeyDictionary[apsw.Connection, weakref.WeakSet[BlobHandle]] = (
    weakref.WeakKeyDictionary()
)
"""Per connection, its writable blobs not yet closed through :func:`close_blob`.

Weak, so a handle lost on the way (its ``blob_open`` cancelled after it ran)
stops counting once collected: APSW closes its blob then.
"""
_writers_lock = threading.Lock()  # each connection's worker updates its own entry


class BlobHandle:
    """An open ``apsw.Blob`` and what its close needs to know; used in the worker only."""

    __slots__ = ("__weakref__", "closed", "raw", "writer")

    def __init__(self, raw: apsw.Blob, writer: bool) -> None:
        self.raw = raw
        self.writer = bool(writer)
        """Counted among its connection's writable blobs."""
        self.closed = False


def open_blob(
    conn: apsw.Connection, database: str, table: str, column: str, rowid: int, writeable: bool
) -> BlobHandle:
    """``conn.blob_open``, counting the writable blobs each connection has open."""
    handle = BlobHandle(conn.blob_open(database, table, column, rowid, writeable), writeable)
    if writeable:
        with _writers_lock:
            _writers.setdefault(conn, weakref.WeakSet()).add(handle)
    return handle


def close_blob(conn: apsw.Connection, handle: BlobHandle, commit: bool, force: bool) -> None:
    """Close the blob; if that would commit, commit with ``COMMIT`` (``ROLLBACK`` if not
    ``commit``) so the GIL is free meanwhile. Idempotent.

    ``commit=False`` undoes the blob's writes only where its close would
    have committed them (autocommit, last writer); inside a transaction the
    transaction's owner decides. A failed ``COMMIT`` rolls back before it
    raises, so no transaction is left open behind the blob.
    """
    if handle.closed:
        return
    handle.closed = True  # sqlite3_blob_close frees the blob even when it reports an error
    last = handle.writer and _last_writer(conn, handle)
    if not last or not conn.get_autocommit():
        handle.raw.close(force)
        return
    try:
        conn.execute("BEGIN")
    except apsw.Error:  # (an authorizer may refuse it): close the old way, committing
        handle.raw.close(force)
        return
    try:
        handle.raw.close(force)
        if commit:
            conn.execute("COMMIT")
    except BaseException:
        if not conn.get_autocommit():
            conn.execute("ROLLBACK")
        raise
    if not commit:
        conn.execute("ROLLBACK")


def _last_writer(conn: apsw.Connection, handle: BlobHandle) -> bool:
    """Count ``handle`` closed; True if no other writable blob of ``conn`` is open."""
    with _writers_lock:
        writers = _writers.get(conn)
        if writers is None:
            return True
        writers.discard(handle)
        if writers:
            return False
        del _writers[conn]
        return True
