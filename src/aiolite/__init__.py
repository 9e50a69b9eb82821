"""aiolite: async SQLite for asyncio, uvloop, trio and anyio, on APSW.

>>> import asyncio, aiolite
>>> async def main():
...     async with aiolite.connect(":memory:") as db:
...         await db.execute("CREATE TABLE IF NOT EXISTS t(x, y)")
...         async with db:                                       # a transaction
...             await db.executemany("INSERT INTO t VALUES(?, ?)", [(1, 2), (3, 4)])
...         async for x, y in db.execute("SELECT x, y FROM t"):
...             print(x, y)
>>> asyncio.run(main())
1 2
3 4

SQLite errors are APSW's exception classes, re-exported here unchanged.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from apsw import (
    AbortError,
    AuthError,
    BindingsError,
    BusyError,
    CantOpenError,
    ConnectionNotClosedError,
    ConstraintError,
    CorruptError,
    CursorClosedError,
    EmptyError,
    Error,
    ExecTraceAbort,
    ExecutionCompleteError,
    ExtensionLoadingError,
    ForkingViolationError,
    FormatError,
    FullError,
    IncompleteExecutionError,
    InternalError,
    InterruptError,
    InvalidContextError,
    LockedError,
    MismatchError,
    MisuseError,
    NoFTS5Error,
    NoLFSError,
    NoMemError,
    NotADBError,
    NotFoundError,
    PermissionsError,
    ProtocolError,
    RangeError,
    ReadOnlyError,
    SchemaChangeError,
    SQLError,
    ThreadingViolationError,
    TooBigError,
    VFSFileClosedError,
    VFSNotImplementedError,
)
from apsw import IOError as IOError

from ._apsw.connection import Connection, ConnectOptions, Connector, connect
from ._apsw.core import Bindings
from ._apsw.cursor import Cursor, Description, PendingCursor
from ._apsw.features.backup import Backup, BackupProgress
from ._apsw.features.blob import Blob
from ._apsw.features.hooks import should_stop
from ._apsw.features.session import Changeset, Session, make_session
from ._apsw.features.vfs import VFS, VFSFile
from ._apsw.rows import Row, RowFactory
from ._apsw.transaction import Transaction, TransactionMode
from ._engine.deadline import contextvar_set, deadline
from ._errors import (
    AioliteError,
    CallbackDeadlockError,
    ConnectionClosedError,
    DeadlineExceeded,
    NoEventLoopError,
    PoolTimeout,
    ReaderReadOnlyError,
    TransactionControlError,
    TransactionRolledBackError,
    WrongEventLoopError,
)
from ._frameworks import current_time
from ._version import __version__ as __version__

if TYPE_CHECKING:
    from ._kv.store import KV
    from ._pool.group_commit import WriteResult
    from ._pool.opening import PoolOpener, open_pool
    from ._pool.pool import Pool, PoolStats

_LAZY = {
    "KV": "._kv.store",
    "WriteResult": "._pool.group_commit",
    "PoolOpener": "._pool.opening",
    "open_pool": "._pool.opening",
    "Pool": "._pool.pool",
    "PoolStats": "._pool.pool",
}
"""Public names whose layers load on first use: a program that only connects
does not pay for the pool and the KV store at start-up (see :func:`__getattr__`)."""

__all__ = [
    "KV",
    "VFS",
    "AbortError",
    "AioliteError",
    "AuthError",
    "Backup",
    "BackupProgress",
    "Bindings",
    "BindingsError",
    "Blob",
    "BusyError",
    "CallbackDeadlockError",
    "CantOpenError",
    "Changeset",
    "ConnectOptions",
    "Connection",
    "ConnectionClosedError",
    "ConnectionNotClosedError",
    "Connector",
    "ConstraintError",
    "CorruptError",
    "Cursor",
    "CursorClosedError",
    "DeadlineExceeded",
    "Description",
    "EmptyError",
    "Error",
    "ExecTraceAbort",
    "ExecutionCompleteError",
    "ExtensionLoadingError",
    "ForkingViolationError",
    "FormatError",
    "FullError",
    "IOError",
    "IncompleteExecutionError",
    "InternalError",
    "InterruptError",
    "InvalidContextError",
    "LockedError",
    "MismatchError",
    "MisuseError",
    "NoEventLoopError",
    "NoFTS5Error",
    "NoLFSError",
    "NoMemError",
    "NotADBError",
    "NotFoundError",
    "PendingCursor",
    "PermissionsError",
    "Pool",
    "PoolOpener",
    "PoolStats",
    "PoolTimeout",
    "ProtocolError",
    "RangeError",
    "ReadOnlyError",
    "ReaderReadOnlyError",
    "Row",
    "RowFactory",
    "SQLError",
    "SchemaChangeError",
    "Session",
    "ThreadingViolationError",
    "TooBigError",
    "Transaction",
    "TransactionControlError",
    "TransactionMode",
    "TransactionRolledBackError",
    "VFSFile",
    "VFSFileClosedError",
    "VFSNotImplementedError",
    "WriteResult",
    "WrongEventLoopError",
    "connect",
    "contextvar_set",
    "current_time",
    "deadline",
    "make_session",
    "open_pool",
    "should_stop",
]


def _publish(names: list[str]) -> None:
    """Name ``aiolite`` as the home of every export, so reprs, tracebacks and ``help()`` say
    ``aiolite.Connection``, not the private module that happens to define it today.

    A class's own functions move with it: doctest finds a method's examples
    through the module its function claims, so they keep running (under
    ``aiolite.Connection.run`` and the like) instead of falling between the
    public and the private module.
    """
    for name in names:
        export = globals()[name]
        if not str(getattr(export, "__module__", "")).startswith(__name__ + "._"):
            continue  # APSW's own classes, typing aliases
        export.__module__ = __name__
        for member in vars(export).values() if isinstance(export, type) else ():
            function = getattr(member, "__func__", getattr(member, "fget", member))
            if callable(function) and getattr(function, "__module__", "").startswith(__name__):
                function.__module__ = __name__


_publish([name for name in __all__ if name not in _LAZY])


def __getattr__(name: str) -> Any:
    """Load the pool and KV layers when one of their names is first used (PEP 562).

    ``import aiolite`` then costs about what ``import aiosqlite`` does;
    ``aiolite.open_pool`` and ``from aiolite import KV`` work as if the
    names had been there all along.
    """
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = getattr(importlib.import_module(module, __name__), name)
    _publish([name])
    return globals()[name]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
