"""Opening a pool: check the options, open the writer (it makes the file WAL), then the readers.

One place decides how each of the pool's connections is set up (through
the connection layer's one set-up path, :class:`aiolite._apsw.SetUp`): the
writer requires WAL and gets the caller's ``synchronous``; readers are
``query_only``, keep the journal mode the writer chose, and get an
authorizer that refuses anything but reads once their set-up is done
(:mod:`aiolite._pool.read_only`). An in-memory database gets no readers
(nothing else could see it).
"""

from __future__ import annotations

import os
from math import inf
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeAlias, TypeVar, overload

from .._apsw import (
    Connection,
    Opener,
    SetUp,
    database_name,
    hint_forgotten_await,
    open_connection,
)
from .pool import Pool, core_of_pool
from .read_only import ReadOnly

if TYPE_CHECKING:
    from .._apsw import RowFactory

Synchronous: TypeAlias = Literal["OFF", "NORMAL", "FULL", "EXTRA"]
RowT = TypeVar("RowT")


def _is_memory(path: str) -> bool:
    return path in ("", ":memory:") or (path.startswith("file:") and "mode=memory" in path)


class PoolOpener(Opener[Pool[RowT]], Generic[RowT]):
    """What :func:`open_pool` returns: await it, or ``async with`` it."""

    __slots__ = ("_options",)

    def __init__(self, database: str, options: dict[str, Any]) -> None:
        super().__init__(database)
        self._options = options

    async def _close(self, pool: Pool[RowT]) -> None:
        with core_of_pool(pool).adapter.shield():
            await pool.close()

    async def _open(self) -> Pool[RowT]:
        o = self._options
        memory = _is_memory(self._database)
        common: dict[str, Any] = {
            "busy_timeout": o["busy_timeout"],
            "row_factory": o["row_factory"],
            "vfs": o["vfs"],
            "slow_query": o["slow_query"],
        }
        if o["check_progress_steps"] is not None:
            common["check_progress_steps"] = o["check_progress_steps"]
        # No PRAGMA optimize at open: it fails at once with BusyError while
        # another process writes. The writer makes the file WAL (the readers
        # depend on it), after the pragmas so that none of them undoes it.
        writer_setup = SetUp(
            journal="keep" if memory else "require_wal",
            optimize=False,
            pragmas={"synchronous": o["synchronous"], **o["pragmas"]},
            wal_timeout=o["busy_timeout"],
        )
        writer: Connection[RowT] = await open_connection(self._database, writer_setup, **common)
        readers: list[Connection[RowT]] = []
        if not memory:
            reader_setup = SetUp(
                journal="keep",
                optimize=False,
                pragmas={**o["pragmas"], "query_only": True},
                authorizer=ReadOnly,
            )
            try:
                for _ in range(o["readers"]):
                    readers.append(await open_connection(self._database, reader_setup, **common))
            except BaseException:
                for conn in (writer, *readers):
                    await conn.close()
                raise
        return Pool(writer, readers, o["acquire_timeout"], o["close_timeout"])


hint_forgotten_await(PoolOpener, Pool, "aiolite.open_pool(...)", ("path", "close_timeout"))


@overload
def open_pool(
    database: str | os.PathLike[str],
    *,
    readers: int = 4,
    acquire_timeout: float | None = 30.0,
    busy_timeout: float | None = None,
    close_timeout: float = 5.0,
    synchronous: Synchronous = "FULL",
    row_factory: None = None,
    pragmas: dict[str, Any] | None = None,
    check_progress_steps: int | None = None,
    vfs: str | None = None,
    slow_query: float | None = None,
) -> PoolOpener[tuple[Any, ...]]: ...


@overload
def open_pool(
    database: str | os.PathLike[str],
    *,
    readers: int = 4,
    acquire_timeout: float | None = 30.0,
    busy_timeout: float | None = None,
    close_timeout: float = 5.0,
    synchronous: Synchronous = "FULL",
    row_factory: type[dict[Any, Any]],
    pragmas: dict[str, Any] | None = None,
    check_progress_steps: int | None = None,
    vfs: str | None = None,
    slow_query: float | None = None,
) -> PoolOpener[dict[str, Any]]: ...


@overload
def open_pool(
    database: str | os.PathLike[str],
    *,
    readers: int = 4,
    acquire_timeout: float | None = 30.0,
    busy_timeout: float | None = None,
    close_timeout: float = 5.0,
    synchronous: Synchronous = "FULL",
    row_factory: RowFactory[RowT],
    pragmas: dict[str, Any] | None = None,
    check_progress_steps: int | None = None,
    vfs: str | None = None,
    slow_query: float | None = None,
) -> PoolOpener[RowT]: ...


def open_pool(
    database: str | os.PathLike[str],
    *,
    readers: int = 4,
    acquire_timeout: float | None = 30.0,
    busy_timeout: float | None = None,
    close_timeout: float = 5.0,
    synchronous: Synchronous = "FULL",
    row_factory: RowFactory[Any] | None = None,
    pragmas: dict[str, Any] | None = None,
    check_progress_steps: int | None = None,
    vfs: str | None = None,
    slow_query: float | None = None,
) -> PoolOpener[Any]:
    """Open a pool of one writer and ``readers`` reader connections on ``database``.

    ``database`` is a file name, a ``file:`` URI or ``":memory:"``, named as
    in :func:`aiolite.connect` (and ``sqlite3.connect``).

    Await it for the :class:`Pool`, or ``async with`` it to close at the end.
    ``row_factory`` shapes every row the pool returns, as in
    :func:`aiolite.connect`, and types them: ``Pool[User]`` for
    ``row_factory=User``, ``Pool[dict[str, Any]]`` for ``dict``, and
    ``Pool[tuple[Any, ...]]`` by default.

    acquire_timeout
        Seconds a call may wait for a connection in this process (None: no
        limit); past it, :class:`PoolTimeout`.
    busy_timeout
        Seconds to wait for another process's lock on the file (default: the
        same as ``acquire_timeout``); a write that waits it out raises
        :class:`PoolTimeout`.
    close_timeout
        Seconds ``close()`` waits for work in flight before stopping it.
    synchronous
        ``"FULL"`` (default): a write that returned survives power loss (one
        fsync per commit, shared by each group commit); ``"NORMAL"``: it
        survives the process being killed, but the last commits before a
        power cut may be lost (no fsync per commit, about 3x the rate of
        sequential single writes).
    readers
        Reader connections (threads). An in-memory database has none: reads
        and writes share its one connection.
    pragmas
        Extra ``{name: value}`` set on every connection at open.
    vfs
        The name of a registered VFS (an :class:`aiolite.VFS`, say) that
        every connection of the pool opens the file with; None: SQLite's default.
    slow_query
        Seconds: a read (or a statement run in a ``pool.writer()`` or
        ``pool.reader()`` block) that takes longer is logged at WARNING on
        ``aiolite.sql``; as in :func:`aiolite.connect`.
    """
    if not isinstance(readers, int) or isinstance(readers, bool) or readers < 0:
        raise ValueError(f"readers must be an int >= 0, not {readers!r}")
    if acquire_timeout is None:
        acquire_timeout = inf
    if not acquire_timeout > 0:
        raise ValueError(f"acquire_timeout must be > 0 seconds or None, not {acquire_timeout!r}")
    if busy_timeout is None:
        busy_timeout = acquire_timeout if acquire_timeout != inf else 24 * 3600.0
    if not close_timeout >= 0:
        raise ValueError(f"close_timeout must be >= 0 seconds, not {close_timeout!r}")
    sync = str(synchronous).upper()
    if sync not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}")
    options = {
        "readers": readers,
        "acquire_timeout": acquire_timeout,
        "busy_timeout": busy_timeout,
        "close_timeout": close_timeout,
        "synchronous": sync,
        "row_factory": row_factory,
        "pragmas": dict(pragmas or {}),
        "check_progress_steps": check_progress_steps,
        "vfs": vfs,
        "slow_query": slow_query,
    }
    return PoolOpener(database_name(database), options)
