"""Worker-side bodies of the cursor requests: run a statement and read rows ahead.

A sqlite3 cursor steps its first row inside ``execute``; these read a
batch of rows in that same request, so a small query costs one round trip to
the worker however it is fetched afterwards, and long results come in
batches that grow. Rows are read as plain tuples (converters and
``text_factory`` applied, no row factory) and the async cursor applies the
row factory when it hands each row out, so, as with sqlite3, the factory in
force at fetch time is the one used.

If producing a row fails part way through a batch, the rows before it are
delivered and the error is raised by the fetch that reaches it, as sqlite3
would when fetching row by row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._dbapi import Connection, Cursor

FIRST_BATCH = 128
"""Rows read by ``execute`` itself: most results fit, so ``fetchall`` costs no extra trip."""

MAX_BATCH = 4096
"""Batches double up to this many rows."""

RowFactory = Callable[[Cursor, tuple[Any, ...]], Any] | None
Batch = tuple[list[tuple[Any, ...]], bool, Exception | None]
"""Rows, whether the statement is finished, and an error to raise after those rows."""

_NOTHING: Batch = ([], True, None)


def fetch(conn: Connection, cursor: Cursor, size: int | None) -> Batch:
    """Up to ``size`` rows (all when None) as tuples.

    Like every body here, a request of its own: the engine passes the
    connection first, and the body records the state the loop reads.
    """
    try:
        rows, error = cursor.fetch_rows(size)
        if error is not None:
            if not rows:
                raise error
            return rows, True, error
        return rows, cursor.finished, None
    finally:
        conn.remember_state()


def _run(conn: Connection, cursor: Cursor, sql: str, parameters: Any, size: int) -> Batch:
    cursor.execute(sql, parameters)
    if cursor.finished:
        return _NOTHING
    rows, error = cursor.fetch_rows(size)
    if error is not None:
        if not rows:
            raise error
        return rows, True, error
    return rows, cursor.finished, None


def execute(conn: Connection, cursor: Cursor, sql: str, parameters: Any, size: int) -> Batch:
    """``cursor.execute`` and the first ``size`` rows, in one request."""
    try:
        return _run(conn, cursor, sql, parameters, size)
    finally:
        conn.remember_state()


def execute_new(
    conn: Connection, sql: str, parameters: Any, size: int
) -> tuple[Cursor, RowFactory, Batch]:
    """``conn.execute``: a new cursor (its row factory is the connection's), run, first rows."""
    try:
        cursor = Cursor(conn)
        return cursor, cursor.row_factory, _run(conn, cursor, sql, parameters, size)
    finally:
        conn.remember_state()


def close(conn: Connection, cursor: Cursor) -> None:
    """``cursor.close()``: it changes nothing the loop reads, so no state to record."""
    cursor.close()
