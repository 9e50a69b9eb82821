"""Sessions record changes as changesets; changesets are applied, inverted, combined.

An ``apsw.Session`` belongs to its connection, so every call that reads or
changes it runs in that connection's worker thread. The conflict handler and
filters of :meth:`Connection.apply_changeset` may be ``async def``.
Changeset operations that need no connection (``invert``, ``concat``,
``iter``) are plain functions of bytes: call them directly.
:class:`Changeset` is ``apsw.Changeset`` whose ``apply`` also takes an
aiolite connection, as APSW's async mode documents it:
``await Changeset.apply(changes, db)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, overload

import apsw

from ..arguments import require_callable_or_none, require_str
from ..closing import AsyncClosing
from ..core import CoreFront
from .callbacks import bridge

if TYPE_CHECKING:
    from ..connection import Connection
    from ..core import ConnectionCore


def _new(conn: apsw.Connection, schema: str) -> apsw.Session:
    return apsw.Session(conn, schema)


def _method(conn: apsw.Connection, session: apsw.Session, name: str, *args: Any) -> Any:
    return getattr(session, name)(*args)


def _get(conn: apsw.Connection, session: apsw.Session, name: str) -> Any:
    return getattr(session, name)


def _set(conn: apsw.Connection, session: apsw.Session, name: str, value: Any) -> None:
    setattr(session, name, value)


class Session(AsyncClosing):
    """Records the changes made through one connection to one database schema.

    Made by ``await db.session()`` (or :func:`aiolite.make_session`).

    >>> import asyncio, aiolite
    >>> async def main():
    ...     async with aiolite.connect(":memory:") as db:
    ...         await db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, name)")
    ...         async with await db.session() as session:
    ...             await session.attach()
    ...             await db.execute("INSERT INTO t VALUES (1, 'Ada'), (2, 'Alan')")
    ...             changes = await session.changeset()
    ...         undo = aiolite.Changeset.invert(changes)        # plain bytes in, bytes out
    ...         await db.apply_changeset(undo)
    ...         return await (await db.execute("SELECT count(*) FROM t")).get
    >>> asyncio.run(main())
    0
    """

    def __init__(self, core: ConnectionCore, raw: apsw.Session) -> None:
        self._core = core
        self._raw = raw

    async def _run(self, name: str, *args: Any) -> Any:
        return await self._core.call(_method, self._raw, name, *args)

    async def attach(self, table: str | None = None) -> None:
        """Record changes to ``table`` (every table when None)."""
        if table is not None:
            require_str(table, "table")
        await self._run("attach", table)

    async def changeset(self) -> bytes:
        """The changes recorded so far, with old values (can be inverted)."""
        result: bytes = await self._run("changeset")
        return result

    async def patchset(self) -> bytes:
        """The changes recorded so far, more compact, without old values."""
        result: bytes = await self._run("patchset")
        return result

    async def diff(self, from_schema: str, table: str) -> None:
        """Record the differences between ``table`` here and in ``from_schema``."""
        await self._run("diff", from_schema, table)

    async def config(self, op: int, *args: Any) -> Any:
        """``sqlite3session_object_config`` (``apsw.SQLITE_SESSION_OBJCONFIG_*``)."""
        return await self._run("config", op, *args)

    async def table_filter(self, callback: Callable[[str], Any]) -> None:
        """``callback(table)`` says whether changes to ``table`` are recorded; may be async."""
        require_callable_or_none(callback, "callback")
        await self._run("table_filter", bridge(self._core.engine, callback))

    async def set_enabled(self, enabled: bool) -> None:
        """Pause (False) or resume (True) recording."""
        await self._core.call(_set, self._raw, "enabled", enabled)

    async def set_indirect(self, indirect: bool) -> None:
        """Mark the changes recorded from now on as indirect (or not)."""
        await self._core.call(_set, self._raw, "indirect", indirect)

    async def is_empty(self) -> bool:
        """True if no change has been recorded."""
        result: bool = await self._core.call(_get, self._raw, "is_empty")
        return result

    async def changeset_size(self) -> int:
        """An estimate of the changeset's size in bytes (needs
        ``SQLITE_SESSION_OBJCONFIG_SIZE`` configured on)."""
        result: int = await self._core.call(_get, self._raw, "changeset_size")
        return result

    async def memory_used(self) -> int:
        result: int = await self._core.call(_get, self._raw, "memory_used")
        return result

    async def aclose(self) -> None:
        """Stop recording and free the session (idempotent)."""
        if not self._core.engine.closed:
            await self._run("close")

    close = aclose

    def __repr__(self) -> str:
        return f"<aiolite.Session on {self._core.describe()}>"


def _apply(conn: apsw.Connection, changeset: Any, options: dict[str, Any]) -> bytes | None:
    return apsw.Changeset.apply(changeset, conn, **options)


class SessionMethods(CoreFront):
    async def session(self, schema: str = "main") -> Session:
        """A :class:`aiolite.Session` recording changes to ``schema``."""
        require_str(schema, "schema")
        raw = await self._core.call(_new, schema)
        return Session(self._core, raw)

    async def apply_changeset(
        self,
        changeset: bytes,
        *,
        filter: Callable[[str], Any] | None = None,
        filter_change: Callable[[apsw.TableChange], Any] | None = None,
        conflict: Callable[[int, apsw.TableChange], Any] | None = None,
        flags: int = 0,
        rebase: bool = False,
    ) -> bytes | None:
        """``apsw.Changeset.apply`` on this connection; every callback may be async.

        ``conflict(reason, change)`` returns an ``apsw.SQLITE_CHANGESET_*``
        action (OMIT, REPLACE or ABORT); without one, a conflict aborts.
        """
        if not isinstance(changeset, bytes | bytearray | memoryview):
            raise TypeError(f"changeset must be bytes, not {type(changeset).__name__}")
        engine = self._core.engine
        options: dict[str, Any] = {"flags": flags, "rebase": rebase}
        for key, callback in (("filter", filter), ("filter_change", filter_change)):
            require_callable_or_none(callback, key)
            if callback is not None:
                options[key] = bridge(engine, callback)
        require_callable_or_none(conflict, "conflict")
        if conflict is not None:
            options["conflict"] = bridge(engine, conflict)
        else:
            options["conflict"] = _abort_on_conflict
        return await self._core.call(_apply, changeset, options)


def _abort_on_conflict(reason: int, change: apsw.TableChange) -> int:
    return apsw.SQLITE_CHANGESET_ABORT


async def make_session(db: Connection[Any], schema: str = "main") -> Session:
    """``await db.session(schema)``, by the name APSW's async mode uses."""
    return await db.session(schema)


class Changeset:
    """``apsw.Changeset``, whose ``apply`` takes an aiolite connection too (and is then awaited).

    ``invert``, ``concat``, ``iter`` and the ``_stream`` forms need no
    connection: they are APSW's own, plain functions of bytes.

    >>> import asyncio, aiolite
    >>> async def main():
    ...     async with aiolite.connect(":memory:") as db:
    ...         await db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, name)")
    ...         async with await aiolite.make_session(db, "main") as session:
    ...             await session.attach()
    ...             await db.execute("INSERT INTO t VALUES (1, 'Ada')")
    ...             changes = await session.changeset()
    ...         await aiolite.Changeset.apply(aiolite.Changeset.invert(changes), db)
    ...         return await (await db.execute("SELECT count(*) FROM t")).get
    >>> asyncio.run(main())
    0
    """

    @staticmethod
    def invert(changeset: bytes | bytearray | memoryview) -> bytes:
        """The changeset that undoes ``changeset``."""
        return apsw.Changeset.invert(changeset)

    @staticmethod
    def invert_stream(changeset: apsw.SessionStreamInput, output: apsw.SessionStreamOutput) -> None:
        apsw.Changeset.invert_stream(changeset, output)

    @staticmethod
    def concat(a: bytes | bytearray | memoryview, b: bytes | bytearray | memoryview) -> bytes:
        """``a`` then ``b`` as one changeset."""
        return apsw.Changeset.concat(a, b)

    @staticmethod
    def concat_stream(
        a: apsw.SessionStreamInput, b: apsw.SessionStreamInput, output: apsw.SessionStreamOutput
    ) -> None:
        apsw.Changeset.concat_stream(a, b, output)

    @staticmethod
    def iter(changeset: apsw.ChangesetInput, *, flags: int = 0) -> Iterator[apsw.TableChange]:
        """Each change of ``changeset``, as an ``apsw.TableChange``."""
        return apsw.Changeset.iter(changeset, flags=flags)

    @overload
    @staticmethod
    def apply(
        changeset: bytes | bytearray | memoryview,
        db: SessionMethods,
        *,
        filter: Callable[[str], Any] | None = None,
        filter_change: Callable[[apsw.TableChange], Any] | None = None,
        conflict: Callable[[int, apsw.TableChange], Any] | None = None,
        flags: int = 0,
        rebase: bool = False,
    ) -> Awaitable[bytes | None]: ...

    @overload
    @staticmethod
    def apply(
        changeset: apsw.ChangesetInput,
        db: apsw.Connection,
        *,
        filter: Callable[[str], bool] | None = None,
        filter_change: Callable[[apsw.TableChange], bool] | None = None,
        conflict: Callable[[int, apsw.TableChange], int] | None = None,
        flags: int = 0,
        rebase: bool = False,
    ) -> bytes | None: ...

    @staticmethod
    def apply(
        changeset: Any,
        db: SessionMethods | apsw.Connection,
        *,
        filter: Callable[..., Any] | None = None,
        filter_change: Callable[..., Any] | None = None,
        conflict: Callable[..., Any] | None = None,
        flags: int = 0,
        rebase: bool = False,
    ) -> Awaitable[bytes | None] | bytes | None:
        """Apply ``changeset`` to ``db``: awaitable for an aiolite connection, where it is
        :meth:`Connection.apply_changeset` (callbacks may be ``async def``); APSW's own
        call for a plain ``apsw.Connection``.

        ``conflict(reason, change)`` returns an ``apsw.SQLITE_CHANGESET_*``
        action; without one, a conflict aborts (``apsw.AbortError``) and
        nothing of the changeset is applied.
        """
        if isinstance(db, SessionMethods):
            return db.apply_changeset(
                changeset,
                filter=filter,
                filter_change=filter_change,
                conflict=conflict,
                flags=flags,
                rebase=rebase,
            )
        if isinstance(db, apsw.Connection):
            return apsw.Changeset.apply(
                changeset,
                db,
                filter=filter,
                filter_change=filter_change,
                conflict=conflict,
                flags=flags,
                rebase=rebase,
            )
        raise TypeError(
            f"db must be an aiolite Connection (or an apsw.Connection), not {type(db).__name__}"
        )
