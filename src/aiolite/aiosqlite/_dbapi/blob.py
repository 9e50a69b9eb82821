"""``sqlite3.Blob``'s semantics on an APSW blob: a fixed-size window onto one value."""

from __future__ import annotations

import os
import sqlite3
from typing import TYPE_CHECKING, Any

import apsw

from ..._apsw import BlobHandle, close_blob
from .errors import translate

if TYPE_CHECKING:
    from .connection import Connection

CLOSED_BLOB = "Cannot operate on a closed blob."


class Blob:
    """``read``/``write``/``seek``/``tell``/``close``, ``len()`` and indexing, as sqlite3's."""

    def __init__(self, connection: Connection, handle: BlobHandle) -> None:
        self._connection = connection
        self._handle: BlobHandle | None = handle

    def _open(self) -> apsw.Blob:
        self._connection.check_open()
        if self._handle is None:
            raise sqlite3.ProgrammingError(CLOSED_BLOB)
        return self._handle.raw

    def __len__(self) -> int:
        return self._open().length()

    def read(self, length: int = -1, /) -> bytes:
        blob = self._open()
        left = blob.length() - blob.tell()
        if length < 0 or length > left:
            length = left
        try:
            return blob.read(length)
        except apsw.Error as exc:
            raise translate(exc) from exc

    def write(self, data: Any, /) -> None:
        blob = self._open()
        data = memoryview(data).cast("B")
        if len(data) > blob.length() - blob.tell():
            raise ValueError("data longer than blob length")
        try:
            blob.write(data)
        except apsw.Error as exc:
            raise translate(exc) from exc

    def seek(self, offset: int, origin: int = os.SEEK_SET, /) -> None:
        blob = self._open()
        if origin == os.SEEK_CUR:
            offset += blob.tell()
        elif origin == os.SEEK_END:
            offset += blob.length()
        elif origin != os.SEEK_SET:
            raise ValueError("'origin' should be os.SEEK_SET, os.SEEK_CUR, or os.SEEK_END")
        if not 0 <= offset <= blob.length():
            raise ValueError("offset out of blob range")
        blob.seek(offset)

    def tell(self) -> int:
        return self._open().tell()

    def close(self) -> None:
        """Close; in autocommit, commit what was written, without holding the GIL meanwhile."""
        handle, self._handle = self._handle, None
        if handle is not None:
            conn = self._connection.apsw
            try:
                if conn is None:  # the connection's close closed the blob
                    handle.raw.close()
                else:
                    close_blob(conn, handle, True, False)
            except apsw.Error as exc:
                raise translate(exc) from exc

    def __getitem__(self, index: int | slice) -> Any:
        blob = self._open()
        here = blob.tell()
        try:
            if isinstance(index, int):  # one byte: read just that one
                size = blob.length()
                at = index + size if index < 0 else index
                if not 0 <= at < size:
                    raise IndexError("Blob index out of range")
                blob.seek(at)
                return blob.read(1)[0]
            blob.seek(0)
            return blob.read(blob.length())[index]
        finally:
            blob.seek(here)

    def __setitem__(self, index: int | slice, value: Any) -> None:
        blob = self._open()
        here = blob.tell()
        try:
            blob.seek(0)
            content = bytearray(blob.read(blob.length()))
            content[index] = value
            if len(content) != blob.length():
                raise IndexError("Blob slice assignment is wrong size")
            blob.seek(0)
            blob.write(bytes(content))
        finally:
            blob.seek(here)

    def __enter__(self) -> Blob:
        self._open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
