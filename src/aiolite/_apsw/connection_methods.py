"""The awaitable counterparts of ``apsw.Connection`` methods.

Each runs the APSW method of the same name in the worker thread, with the
same arguments and result; the APSW documentation of each applies as is.
``in_transaction`` is a plain bool, as in ``sqlite3`` and APSW: the worker
notes it at the end of every request. ``system_errno`` needs the database:
``await db.system_errno`` (APSW's spelling) and ``await db.system_errno()``
both work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import apsw

from .arguments import require_str
from .awaitables import Deferred
from .core import CoreFront
from .features.callbacks import bridge
from .features.image import in_memory_image

if TYPE_CHECKING:
    pass

P = ParamSpec("P")
R = TypeVar("R")

_system_errno: Callable[[apsw.Connection], int] = attrgetter("system_errno")


class SQLiteMethods(CoreFront):
    """Mixed into :class:`aiolite.Connection`; relies on its ``_call``."""

    async def pragma(self, name: str, value: Any = None, *, schema: str | None = None) -> Any:
        """Run ``PRAGMA name`` (``= value`` if given) and return its simplest result.

        >>> import asyncio, aiolite
        >>> async def main():
        ...     async with aiolite.connect(":memory:") as db:
        ...         await db.pragma("user_version", 3)
        ...         return await db.pragma("user_version"), await db.pragma("journal_mode")
        >>> asyncio.run(main())
        (3, 'memory')
        """
        if value is None:  # APSW tells "no value" from None by the argument's absence
            return await self._core.call(apsw.Connection.pragma, name, schema=schema)
        return await self._core.call(apsw.Connection.pragma, name, value, schema=schema)

    async def changes(self) -> int:
        """Rows changed by the most recent INSERT, UPDATE or DELETE."""
        return await self._core.call(apsw.Connection.changes)

    async def total_changes(self) -> int:
        """Rows changed since the connection opened."""
        return await self._core.call(apsw.Connection.total_changes)

    async def last_insert_rowid(self) -> int:
        """The rowid of the most recent successful INSERT on this connection."""
        return await self._core.call(apsw.Connection.last_insert_rowid)

    async def set_last_insert_rowid(self, rowid: int) -> None:
        await self._core.call(apsw.Connection.set_last_insert_rowid, rowid)

    @property
    def in_transaction(self) -> bool:
        """True while a transaction is open: a plain bool, no ``await`` (as in ``sqlite3``).

        It is the state the last request left: the worker notes it before the
        request's caller hears back, so it is exact after every awaited call,
        inside and after ``async with db.transaction()``, after a failed
        statement, and once a cancelled request has stopped in the worker
        (which may be just after its task saw the cancellation). False once
        the connection is closed.
        """
        core = self._core
        return core.guard.in_transaction and not core.engine.closing

    async def get_autocommit(self) -> bool:
        """True when no transaction is open (the opposite of ``in_transaction``)."""
        return await self._core.call(apsw.Connection.get_autocommit)

    async def txn_state(self, schema: str | None = None) -> int:
        """``apsw.SQLITE_TXN_NONE``, ``_READ`` or ``_WRITE`` for ``schema`` (or the highest)."""
        return await self._core.call(apsw.Connection.txn_state, schema)

    async def table_exists(self, dbname: str | None, table_name: str) -> bool:
        return await self._core.call(apsw.Connection.table_exists, dbname, table_name)

    async def db_names(self) -> list[str]:
        """The names of the attached databases: ``main``, ``temp``, then attached ones."""
        return await self._core.call(apsw.Connection.db_names)

    async def db_filename(self, name: str) -> str:
        return await self._core.call(apsw.Connection.db_filename, name)

    async def readonly(self, name: str) -> bool:
        """True if the attached database ``name`` is read-only."""
        return await self._core.call(apsw.Connection.readonly, name)

    async def wal_checkpoint(
        self, dbname: str | None = None, mode: int = apsw.SQLITE_CHECKPOINT_PASSIVE
    ) -> tuple[int, int]:
        """Checkpoint the WAL; returns (frames in the WAL, frames checkpointed)."""
        return await self._core.call(apsw.Connection.wal_checkpoint, dbname, mode)

    async def wal_autocheckpoint(self, n: int) -> None:
        await self._core.call(apsw.Connection.wal_autocheckpoint, n)

    async def serialize(self, name: str) -> bytes:
        """The database ``name`` as the bytes of a database file.

        A consistent snapshot (one read transaction), what the WAL holds
        included. The image of a WAL database says WAL in its header:
        written to a file, it opens as a WAL database; :meth:`deserialize`
        takes it as it is.
        """
        return await self._core.call(apsw.Connection.serialize, name)

    async def deserialize(self, name: str, contents: bytes | bytearray | memoryview) -> None:
        """Replace the database ``name`` with an in-memory copy of ``contents``.

        ``contents`` is the bytes of a database file: what :meth:`serialize`
        gives, or a file read from disk. An in-memory database cannot be in
        WAL mode, so the image of a WAL database (aiolite's default for
        files) is taken as the same database in rollback-journal mode.

        >>> import asyncio, aiolite, tempfile, os
        >>> async def main(folder):
        ...     async with aiolite.connect(os.path.join(folder, "app.db")) as db:
        ...         await db.execute("CREATE TABLE t(x); INSERT INTO t VALUES ('kept')")
        ...         image = await db.serialize("main")
        ...     async with aiolite.connect(":memory:") as snapshot:
        ...         await snapshot.deserialize("main", image)
        ...         return await (await snapshot.execute("SELECT x FROM t")).get
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     asyncio.run(main(folder))
        'kept'
        """
        require_str(name, "name")
        image = in_memory_image(contents)
        if not len(image):
            raise ValueError("an empty image: deserialize needs the bytes of a database file")
        await self._core.call(apsw.Connection.deserialize, name, image)

    async def data_version(self, schema: str | None = None) -> int:
        """A number that changes when another connection commits to the database."""
        return await self._core.call(apsw.Connection.data_version, schema)

    async def cache_flush(self) -> None:
        await self._core.call(apsw.Connection.cache_flush)

    async def cache_stats(self, include_entries: bool = False) -> dict[str, int]:
        return await self._core.call(apsw.Connection.cache_stats, include_entries)

    async def release_memory(self) -> None:
        await self._core.call(apsw.Connection.release_memory)

    async def status(self, op: int, reset: bool = False) -> tuple[int, int]:
        """``sqlite3_db_status``: (current, highwater) for ``apsw.SQLITE_DBSTATUS_*``."""
        return await self._core.call(apsw.Connection.status, op, reset)

    async def limit(self, id: int, newval: int = -1) -> int:
        """Read (and with ``newval`` set) an ``apsw.SQLITE_LIMIT_*`` limit."""
        return await self._core.call(apsw.Connection.limit, id, newval)

    async def config(self, op: int, *args: int) -> int:
        """``sqlite3_db_config`` with an ``apsw.SQLITE_DBCONFIG_*`` option."""
        return await self._core.call(apsw.Connection.config, op, *args)

    async def column_metadata(
        self, dbname: str | None, table_name: str, column_name: str
    ) -> tuple[str, str, bool, bool, bool]:
        """(declared type, collation, not null, primary key, autoincrement)."""
        return await self._core.call(
            apsw.Connection.column_metadata, dbname, table_name, column_name
        )

    async def vfsname(self, dbname: str) -> str | None:
        return await self._core.call(apsw.Connection.vfsname, dbname)

    async def file_control(self, dbname: str, op: int, pointer: int) -> bool:
        return await self._core.call(apsw.Connection.file_control, dbname, op, pointer)

    @property
    def system_errno(self) -> Deferred[int]:
        """The OS error number behind the most recent failed call.

        Needs the database: ``await db.system_errno`` or ``await db.system_errno()``.
        """
        return Deferred(partial(self._core.call, _system_errno), "db.system_errno")

    async def set_busy_timeout(self, milliseconds: int) -> None:
        """Use SQLite's own busy timeout instead of aiolite's.

        aiolite's (the ``busy_timeout`` option) can be cut short by a
        cancellation or deadline; SQLite's waits in C where neither is seen.
        """
        await self._core.call(apsw.Connection.set_busy_timeout, milliseconds)

    async def enable_load_extension(self, enable: bool) -> None:
        await self._core.call(apsw.Connection.enable_load_extension, enable)

    async def load_extension(self, filename: str, entrypoint: str | None = None) -> None:
        await self._core.call(apsw.Connection.load_extension, filename, entrypoint)

    async def drop_modules(self, keep: Iterable[str] | None) -> None:
        await self._core.call(apsw.Connection.drop_modules, keep)

    async def create_scalar_function(
        self,
        name: str,
        callable: Callable[..., Any] | None,
        numargs: int = -1,
        *,
        deterministic: bool = False,
        flags: int = 0,
    ) -> None:
        """Register an SQL function; ``callable`` may be a plain function or an ``async def``.

        A plain function runs in the worker thread; an ``async def`` runs in
        the event loop while the statement waits for it. Pass None to remove.

        >>> import asyncio, aiolite
        >>> async def lookup(key):
        ...     await asyncio.sleep(0)          # any async I/O: a cache, an HTTP call...
        ...     return key.upper()
        >>> async def main():
        ...     async with aiolite.connect(":memory:") as db:
        ...         await db.create_scalar_function("lookup", lookup, 1)
        ...         return await (await db.execute("SELECT lookup('ada')")).get
        >>> asyncio.run(main())
        'ADA'
        """
        await self._core.call(
            apsw.Connection.create_scalar_function,
            name,
            bridge(self._core.engine, callable),
            numargs,
            deterministic=deterministic,
            flags=flags,
        )
