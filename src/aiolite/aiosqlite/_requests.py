"""Worker-side bodies of the aiosqlite-style connection's requests.

Each runs in the connection's worker thread, called by the engine with the
sqlite3-style connection (:mod:`._dbapi`) as its first argument; the async
:class:`~.core.Connection` only queues them. The cursor's bodies are in
:mod:`._fetching`.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from itertools import islice
from typing import Any

from . import _dbapi
from ._worker import Worker

LOG = logging.getLogger("aiosqlite")


def noop() -> None:
    """The last request before closing: everything queued before it has run."""


NO_AUTOCOMMIT = object()
"""sqlite3 before Python 3.12 has no ``autocommit`` attribute."""


def opened(conn: Any) -> tuple[_dbapi.Connection, Any]:
    """The connection, and its ``autocommit`` (sqlite3 has it from Python 3.12)."""
    if not isinstance(conn, _dbapi.Connection):
        close = getattr(conn, "close", None)
        if close is not None:
            close()
        raise TypeError(
            "an aiolite.aiosqlite connector must return an aiolite.aiosqlite dbapi connection "
            f"(got {type(conn).__name__}): aiolite runs every connection on APSW's SQLite, "
            "because two SQLite libraries in one process corrupt a file they share"
        )
    return conn, getattr(conn, "autocommit", NO_AUTOCOMMIT)


def set_attribute(
    conn: _dbapi.Connection, name: str, value: Any, worker: Worker | None, pending: Any
) -> None:
    """Set ``conn.<name>`` in the worker; then clear ``worker.isolation_pending`` if ours."""
    try:
        setattr(conn, name, value)
    except Exception:
        LOG.warning("setting %s to %r failed", name, value, exc_info=True)
    finally:
        if worker is not None and worker.isolation_pending is pending:
            worker.isolation_pending = None


def commit(conn: _dbapi.Connection) -> None:
    """``conn.commit()`` as a bound request body (see ``Worker.run_bound``)."""
    try:
        conn.commit()
    finally:
        conn.remember_state()


def execute_insert(conn: _dbapi.Connection, sql: str, parameters: Any) -> Any:
    """A bound request body (see ``Worker.run_bound``): records the state itself."""
    try:
        cursor = conn.execute(sql, parameters)
        if cursor.row_factory is None:  # the row aiosqlite's SELECT would give, without it
            return (cursor.lastrowid,)
        cursor.execute("SELECT last_insert_rowid()")
        return cursor.fetchone()
    finally:
        conn.remember_state()


def executemany(conn: _dbapi.Connection, sql: str, parameters: Any) -> _dbapi.Cursor:
    """``conn.executemany`` as a bound request body (see ``Worker.run_bound``)."""
    try:
        return conn.executemany(sql, parameters)
    finally:
        conn.remember_state()


def create_function(
    conn: _dbapi.Connection,
    name: str,
    num_params: int,
    func: Any,
    deterministic: bool,
) -> None:
    conn.create_function(name, num_params, func, deterministic=deterministic)


def backup(
    conn: _dbapi.Connection,
    target: _dbapi.Connection | sqlite3.Connection,
    pages: int,
    progress: Any,
    name: str,
    sleep: float,
) -> None:
    conn.backup(target, pages=pages, progress=progress, name=name, sleep=sleep)


def blobopen(
    conn: _dbapi.Connection, table: str, column: str, row: int, readonly: bool, name: str
) -> Any:
    return conn.blobopen(table, column, row, readonly=readonly, name=name)


def take(lines: Iterable[str], count: int) -> list[str]:
    return list(islice(lines, count))
