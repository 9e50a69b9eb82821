"""Opening and closing the APSW connection, in the worker thread.

``connect()`` options are checked here before any thread starts, then turned
into the three callables the engine runs: create the connection, configure it
(best practice, busy handling, pragmas) and finally close it.
"""

from __future__ import annotations

import contextlib
import os
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from time import monotonic
from typing import TYPE_CHECKING, Any

import apsw

if TYPE_CHECKING:
    from .._engine.engine import Engine

# SQLite's own busy-retry delays (sqliteDefaultBusyCallback), capped so that a
# cancelled request waiting on a lock notices within 50 ms.
_BUSY_DELAYS = (0.001, 0.002, 0.005, 0.010, 0.015, 0.020, 0.025, 0.025, 0.025, 0.050)

default_busy_handlers: weakref.WeakKeyDictionary[apsw.Connection, BusyWaiter] = (
    weakref.WeakKeyDictionary()
)
"""aiolite's busy wait per connection, so ``set_busy_handler(None)`` can put it back."""


@dataclass(frozen=True, slots=True)
class OpenOptions:
    """What ``aiolite.connect()`` was asked for, validated."""

    database: str
    flags: int | None = None
    vfs: str | None = None
    readonly: bool = False
    pragmas: Mapping[str, Any] = field(default_factory=dict)
    best_practice: bool = True
    busy_timeout: float | None = 5.0
    statement_cache_size: int = 100

    def __post_init__(self) -> None:
        if self.busy_timeout is not None and self.busy_timeout < 0:
            raise ValueError(f"busy_timeout must be >= 0 seconds or None, not {self.busy_timeout}")
        if self.statement_cache_size < 0:
            raise ValueError("statement_cache_size must be >= 0")
        for name in self.pragmas:
            if not isinstance(name, str) or not name.replace("_", "").isalnum():
                raise ValueError(f"not a pragma name: {name!r}")

    @property
    def open_flags(self) -> int:
        if self.flags is not None:
            return self.flags
        flags = (
            apsw.SQLITE_OPEN_READONLY
            if self.readonly
            else (apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE)
        )
        if self.database.startswith("file:"):
            flags |= apsw.SQLITE_OPEN_URI
        return flags


def database_name(database: str | os.PathLike[str]) -> str:
    if isinstance(database, str | os.PathLike):
        return os.fspath(database)
    raise TypeError(f"database must be a str or path, not {type(database).__name__}")


@dataclass(frozen=True, slots=True)
class OpenedDatabase:
    """Plain facts about the open connection, read once in the worker.

    They never change, so the async connection serves them as attributes
    with no round trip.
    """

    filename: str
    filename_journal: str
    filename_wal: str
    open_flags: int
    open_vfs: str


def create(options: OpenOptions) -> apsw.Connection:
    return apsw.Connection(
        options.database,
        flags=options.open_flags,
        vfs=options.vfs,
        statementcachesize=options.statement_cache_size,
    )


def configure(options: OpenOptions, engine: Engine, conn: apsw.Connection) -> OpenedDatabase:
    if options.busy_timeout:
        waiter = default_busy_handlers[conn] = BusyWaiter(engine, options.busy_timeout)
        conn.set_busy_handler(waiter)
    if options.best_practice:
        apply_best_practice(conn)
    for name, value in options.pragmas.items():
        conn.pragma(name, value)
    if options.vfs is not None:
        conn.set_wal_hook(AutoCheckpoint(int(conn.pragma("wal_autocheckpoint"))))
    return OpenedDatabase(
        filename=conn.filename,
        filename_journal=conn.filename_journal,
        filename_wal=conn.filename_wal,
        open_flags=conn.open_flags,
        open_vfs=conn.open_vfs,
    )


def apply_best_practice(conn: apsw.Connection) -> None:
    """WAL for files, foreign keys enforced, no double-quoted string literals.

    WAL lets readers and the writer work at once; foreign keys are off in
    SQLite unless asked for; and a double-quoted "string" silently becoming a
    literal when no column has that name hides typos.
    """
    conn.config(apsw.SQLITE_DBCONFIG_DQS_DML, 0)
    conn.config(apsw.SQLITE_DBCONFIG_DQS_DDL, 0)
    conn.pragma("foreign_keys", "ON")
    if conn.filename and not conn.readonly("main"):
        try:
            conn.pragma("journal_mode", "wal")
        except apsw.ReadOnlyError:  # the -wal or -shm file may still be read-only
            return
        except apsw.BusyError:
            # Another connection holds a lock; fine if it already made the file WAL.
            if conn.pragma("journal_mode") != "wal":
                raise
        # Only statistics: skipped while another connection writes (the next
        # open or the close will do it). Without a busy handler, so that SQLite
        # refuses at once: with aiolite's, this open waited out busy_timeout.
        conn.set_busy_handler(None)
        try:
            with contextlib.suppress(apsw.BusyError, apsw.ReadOnlyError):
                conn.pragma("optimize", 0x10002)
        finally:
            conn.set_busy_handler(default_busy_handlers.get(conn))


def close(best_practice: bool, conn: apsw.Connection) -> None:
    try:
        if best_practice and conn.filename and not conn.readonly("main"):
            # Keeps the query planner's statistics fresh; cheap when nothing changed.
            conn.pragma("optimize")
    except apsw.Error:
        pass
    finally:
        conn.close(True)


class AutoCheckpoint:
    """SQLite's WAL auto-checkpoint, for connections opened with a ``vfs``.

    SQLite checkpoints after a commit once the WAL holds ``frames`` pages and
    ignores a failed checkpoint (the data is safe in the WAL; the next commit
    tries again). But APSW raises whatever a Python VFS method raised when
    control returns to Python, even where SQLite ignored the error, so with
    a Python VFS (``aiolite.VFS``) a checkpoint's I/O error would reach the
    caller of a ``COMMIT`` that succeeded, and a write reported as failed
    would be in the database. This hook does the same checkpoint and drops
    its error the way SQLite does, so an exception from a commit means that
    nothing was committed. Setting a WAL hook or ``PRAGMA wal_autocheckpoint``
    replaces it, as it replaces SQLite's own.
    """

    __slots__ = ("frames",)

    def __init__(self, frames: int) -> None:
        self.frames = frames

    def __call__(self, conn: apsw.Connection, name: str, pages: int) -> int:
        if 0 < self.frames <= pages:
            with contextlib.suppress(Exception):
                conn.wal_checkpoint(name)
        return apsw.SQLITE_OK


class BusyWaiter:
    """SQLite's busy timeout, but one that cancellation and deadlines cut short.

    SQLite's built-in wait sleeps in C where no progress handler runs, so a
    cancelled request stuck on another writer's lock would wait out the whole
    timeout. This waits in short sleeps and asks the engine between them.
    """

    __slots__ = ("_engine", "_started", "_timeout")

    def __init__(self, engine: Engine, timeout: float) -> None:
        self._engine = engine
        self._timeout = timeout
        self._started = 0.0

    def __call__(self, prior_calls: int) -> bool:
        now = monotonic()
        if prior_calls == 0:
            self._started = now
        if self._engine.should_abort():
            return False
        left = self._timeout - (now - self._started)
        if left <= 0:
            return False
        time.sleep(min(_BUSY_DELAYS[min(prior_calls, len(_BUSY_DELAYS) - 1)], left))
        return True
