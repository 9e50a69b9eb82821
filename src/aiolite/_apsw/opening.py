"""Opening, setting up and closing an APSW connection: the one set-up path.

Every connection aiolite opens is set up here, by :func:`set_up` from a
:class:`SetUp`: ``connect()``'s (best practice, or bare with
``best_practice=False``), the pool's writer and readers, and the KV store's
loop-thread writer. So aiolite's best practice is written once, and each
caller only says which parts it wants.

For ``connect()`` and the pool, the options are checked here before any
thread starts, then turned into the three callables the engine runs in its
worker: create the connection, configure it (busy handling, set-up) and
finally close it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from time import monotonic, sleep
from typing import TYPE_CHECKING, Any, Literal

import apsw

from .busy import BusyWaiter

if TYPE_CHECKING:
    from .._engine import Engine

Journal = Literal["keep", "prefer_wal", "require_wal"]
Authorizer = Callable[[int, str | None, str | None, str | None, str | None], int]

_WAL_RETRY_SECONDS = 0.01


@dataclass(frozen=True, slots=True)
class SetUp:
    """What :func:`set_up` does to a connection just opened, in this order.

    strict_strings
        No double-quoted string literals: a double-quoted "string" silently
        becoming a literal when no column has that name hides typos.
    foreign_keys
        Enforce foreign keys (off in SQLite unless asked for).
    journal
        ``"prefer_wal"``: WAL for database files, which lets readers and the
        writer work at once (best practice; the pragmas that follow may
        override it). ``"require_wal"``: WAL or fail (the pool, whose readers
        depend on it), set after the pragmas so none can undo it, and
        retried for up to ``wal_timeout`` seconds while another process
        holds the file. ``"keep"``: leave the journal mode alone.
    optimize
        ``PRAGMA optimize`` at open (with ``"prefer_wal"``) and at close,
        which keeps the query planner's statistics fresh.
    pragmas
        ``{name: value}`` set in order, after the best practice above.
    wal_timeout
        Seconds ``"require_wal"`` keeps retrying (the pool's ``busy_timeout``).
    authorizer
        Makes the connection's authorizer, installed last (after the
        pragmas, which it may refuse) for the connection's whole life: the
        pool's readers refuse writes with it. See :class:`ChainedAuthorizer`.
    """

    strict_strings: bool = True
    foreign_keys: bool = True
    journal: Journal = "prefer_wal"
    optimize: bool = True
    pragmas: Mapping[str, Any] = field(default_factory=dict)
    wal_timeout: float = 0.0
    authorizer: Callable[[], ChainedAuthorizer] | None = None

    @classmethod
    def for_connect(cls, best_practice: bool, pragmas: Mapping[str, Any]) -> SetUp:
        """``connect(best_practice=..., pragmas=...)``: all of the best practice, or none."""
        if best_practice:
            return cls(pragmas=pragmas)
        return cls(
            strict_strings=False,
            foreign_keys=False,
            journal="keep",
            optimize=False,
            pragmas=pragmas,
        )


@dataclass(frozen=True, slots=True)
class OpenOptions:
    """What a connection is opened with, validated: ``connect()``'s options, the pool's...

    ``setup`` defaults to best practice with no pragmas.
    """

    database: str
    flags: int | None = None
    vfs: str | None = None
    readonly: bool = False
    setup: SetUp = field(default_factory=SetUp)
    busy_timeout: float | None = 5.0
    statement_cache_size: int = 100

    @classmethod
    def from_connect(
        cls, database: str, options: dict[str, Any], setup: SetUp | None = None
    ) -> OpenOptions:
        """From ``connect()``'s keyword options (``best_practice`` and ``pragmas`` make the
        set-up, unless ``setup`` is given); raises TypeError or ValueError for bad ones."""
        best_practice = options.pop("best_practice", True)
        pragmas = options.pop("pragmas", {})
        if setup is None:
            setup = SetUp.for_connect(bool(best_practice), pragmas)
        return cls(database=database, setup=setup, **options)

    def __post_init__(self) -> None:
        if self.busy_timeout is not None and self.busy_timeout < 0:
            raise ValueError(f"busy_timeout must be >= 0 seconds or None, not {self.busy_timeout}")
        if self.statement_cache_size < 0:
            raise ValueError("statement_cache_size must be >= 0")
        for name in self.setup.pragmas:
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


def configure(
    options: OpenOptions, busy: BusyWaiter | None, conn: apsw.Connection
) -> OpenedDatabase:
    """Worker side, right after ``create``: busy handling, the set-up, and the facts."""
    conn.set_busy_handler(busy)
    set_up(conn, options.setup, busy)
    if options.vfs is not None:
        conn.set_wal_hook(AutoCheckpoint(int(conn.pragma("wal_autocheckpoint"))))
    return OpenedDatabase(
        filename=conn.filename,
        filename_journal=conn.filename_journal,
        filename_wal=conn.filename_wal,
        open_flags=conn.open_flags,
        open_vfs=conn.open_vfs,
    )


def busy_waiter(options: OpenOptions, engine: Engine) -> BusyWaiter | None:
    """aiolite's busy wait for a connection opened with ``options`` (None: fail at once)."""
    return BusyWaiter(engine, options.busy_timeout) if options.busy_timeout else None


def open_here(options: OpenOptions) -> apsw.Connection:
    """Open and set up a connection on this thread, for a caller with no worker.

    The KV store's loop-thread writer: no busy handler (``busy_timeout``
    None), so that a lock held elsewhere fails at once.
    """
    conn = create(options)
    try:
        configure(options, None, conn)
    except BaseException:
        conn.close()
        raise
    return conn


def set_up(conn: apsw.Connection, setup: SetUp, busy: BusyWaiter | None) -> None:
    """Apply ``setup`` to ``conn``, just opened (``busy``: its busy handler, or None)."""
    if setup.strict_strings:
        conn.config(apsw.SQLITE_DBCONFIG_DQS_DML, 0)
        conn.config(apsw.SQLITE_DBCONFIG_DQS_DDL, 0)
    if setup.foreign_keys:
        conn.pragma("foreign_keys", "ON")
    if setup.journal == "prefer_wal":
        _prefer_wal(conn, setup.optimize, busy)
    for name, value in setup.pragmas.items():
        conn.pragma(name, value)
    if setup.journal == "require_wal":
        mode = _require_wal(conn, setup.wal_timeout)
        if mode.lower() != "wal":
            raise apsw.CantOpenError(f"WAL could not be turned on (journal_mode={mode})")
    if setup.authorizer is not None:
        conn.authorizer = setup.authorizer()


class ChainedAuthorizer:
    """Base of an authorizer a set-up installs for the connection's whole life.

    ``set_authorizer`` does not replace it (the pool's readers refuse
    writes with theirs): it sets :attr:`user`, which the subclass's
    ``__call__`` calls for each action it allowed itself.
    ``set_authorizer(None)`` removes only the user's. One object per
    connection, and one Python call per action when the user has none:
    SQLite asks about every column a statement reads while preparing it.
    """

    __slots__ = ("user",)

    def __init__(self) -> None:
        self.user: Authorizer | None = None

    def __call__(
        self,
        action: int,
        arg1: str | None,
        arg2: str | None,
        schema: str | None,
        trigger: str | None,
    ) -> int:
        raise NotImplementedError


def set_authorizer(conn: apsw.Connection, authorizer: Authorizer | None) -> None:
    """Worker side: ``authorizer`` replaces the user's, after a set-up's if there is one."""
    installed = conn.authorizer
    if isinstance(installed, ChainedAuthorizer):
        installed.user = authorizer
        authorizer = installed  # set again: SQLite prepares its statements again
    conn.set_authorizer(authorizer)


def _prefer_wal(conn: apsw.Connection, optimize: bool, busy: BusyWaiter | None) -> None:
    """WAL for database files one may write to; then, if asked, ``PRAGMA optimize``."""
    if not conn.filename or conn.readonly("main"):
        return
    try:
        conn.pragma("journal_mode", "wal")
    except apsw.ReadOnlyError:  # the -wal or -shm file may still be read-only
        return
    except apsw.BusyError:
        # Another connection holds a lock; fine if it already made the file WAL.
        if conn.pragma("journal_mode") != "wal":
            raise
    if not optimize:
        return
    # Only statistics: skipped while another connection writes (the next
    # open or the close will do it). Without a busy handler, so that SQLite
    # refuses at once: with aiolite's, this open waited out busy_timeout.
    conn.set_busy_handler(None)
    try:
        with contextlib.suppress(apsw.BusyError, apsw.ReadOnlyError):
            conn.pragma("optimize", 0x10002)
    finally:
        conn.set_busy_handler(busy)


def _require_wal(conn: apsw.Connection, timeout: float) -> str:
    """Turn WAL on; retried, since another process opening the file at once can hold it.

    SQLite may refuse the change with ``BusyError`` without calling the busy
    handler, so this retries on its own, within the same time limit.
    """
    deadline = monotonic() + timeout
    while True:
        try:
            return str(conn.pragma("journal_mode", "wal"))
        except apsw.BusyError:
            if monotonic() > deadline:
                raise
            sleep(_WAL_RETRY_SECONDS)


def close(setup: SetUp, conn: apsw.Connection) -> None:
    """Worker side, last: ``PRAGMA optimize`` if the set-up asks for it, then close."""
    try:
        if setup.optimize and conn.filename and not conn.readonly("main"):
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
