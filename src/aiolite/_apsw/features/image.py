"""Database images: the bytes ``serialize`` gives and ``deserialize`` takes.

``serialize`` gives the database as a file would hold it, header included.
The header of a database in WAL mode says so (bytes 18 and 19, the file
format write and read versions, are 2), and that is right for a file:
written out, the image opens as the WAL database it was. ``deserialize``,
though, makes an in-memory database, and an in-memory database cannot be in
WAL mode: SQLite fails to read it ("unable to open database file"). So the
fix belongs to ``deserialize``, which also serves images that come from
elsewhere (a WAL database file read from disk): it hands SQLite a copy
whose header says rollback journal (1 and 1). The pages themselves are the
same in both modes; ``serialize`` already folded in what the WAL held.
"""

from __future__ import annotations

_HEADER = b"SQLite format 3\x00"
_VERSIONS = slice(18, 20)  # file format write version, read version
_WAL = 2
_ROLLBACK = 1


def in_memory_image(contents: bytes | bytearray | memoryview) -> bytes | bytearray | memoryview:
    """``contents`` ready for ``deserialize``: a WAL image gets a copy marked rollback journal.

    Anything else, including what is not a database at all, is passed on
    untouched for SQLite to judge. Raises ``TypeError`` for what is not bytes-like.
    """
    if isinstance(contents, str) or not isinstance(contents, bytes | bytearray | memoryview):
        raise TypeError(f"a database image must be bytes-like, not {type(contents).__name__}")
    view = memoryview(contents).cast("B")
    if view[: len(_HEADER)] != _HEADER or _WAL not in view[_VERSIONS]:
        return contents
    image = bytearray(view)
    image[_VERSIONS] = bytes(_ROLLBACK if v == _WAL else v for v in image[_VERSIONS])
    return image
