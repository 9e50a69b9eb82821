"""Online backup into an aiolite connection, from an aiolite or a plain APSW one.

The backup runs in the destination's worker thread. When the source is an
aiolite connection its own worker could be using it at the same moment,
which APSW refuses (``ThreadingViolationError``); so every backup call first
parks the source's worker in a request of its own (queued after whatever
the source is doing) and lets it go when the call is done. The source stays
usable between steps, and SQLite restarts the copy if it changes meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import apsw

from ..._engine import current_worker_engine
from ..._errors import ConnectionClosedError
from ..arguments import require_str
from ..closing import AsyncClosing
from ..core import CoreFront, core_of

if TYPE_CHECKING:
    from ..connection import Connection
    from ..core import ConnectionCore

_PARK_POLL_SECONDS = 0.05
_PARK_LIMIT_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class BackupProgress:
    """Where a backup stands after a step: enough to drive a progress bar."""

    page_count: int
    remaining: int
    done: bool

    @property
    def copied(self) -> int:
        return self.page_count - self.remaining


class _Parking:
    """The source's worker, held in a request until the destination is done with it."""

    def __init__(self) -> None:
        self.parked = threading.Event()
        self.release = threading.Event()

    def hold(self, source_conn: apsw.Connection) -> None:  # runs in the source's worker
        self.parked.set()
        self.release.wait(_PARK_LIMIT_SECONDS)

    def wait_parked(self) -> None:  # runs in the destination's worker
        engine = current_worker_engine()
        while not self.parked.wait(_PARK_POLL_SECONDS):
            if engine is not None and engine.should_abort():
                raise apsw.InterruptError("the backup step was cancelled")


def _with_parked(
    conn: apsw.Connection, parking: _Parking | None, fn: Callable[..., Any], *args: Any
) -> Any:
    if parking is not None:
        parking.wait_parked()
    return fn(conn, *args)


def _start(conn: apsw.Connection, dbname: str, source: apsw.Connection, source_dbname: str) -> Any:
    return conn.backup(dbname, source, source_dbname)


def _step(conn: apsw.Connection, raw: apsw.Backup, pages: int) -> BackupProgress:
    done = raw.step(pages)
    return BackupProgress(raw.page_count, raw.remaining, done)


def _finish(conn: apsw.Connection, raw: apsw.Backup) -> None:
    raw.finish()


class Backup(AsyncClosing):
    """A backup in progress: ``await step(pages)`` until ``done``, then ``finish()``.

    ``async with`` finishes it at the end; ``async for progress in
    backup.steps(pages)`` steps to the end yielding a :class:`BackupProgress`
    after each step (drive a progress bar from ``copied``/``page_count``).

    >>> import asyncio, aiolite
    >>> async def main():
    ...     async with aiolite.connect(":memory:") as source, aiolite.connect(":memory:") as copy:
    ...         await source.execute("CREATE TABLE t(x); INSERT INTO t VALUES (randomblob(100000))")
    ...         async with await copy.backup("main", source, "main") as backup:
    ...             steps = [progress.remaining async for progress in backup.steps(10)]
    ...         copied = await (await copy.execute("SELECT count(*) FROM t")).get
    ...         return steps[-1], backup.done, copied
    >>> asyncio.run(main())
    (0, True, 1)
    """

    def __init__(
        self, destination: ConnectionCore, source: ConnectionCore | None, raw: Any
    ) -> None:
        self._destination = destination
        self._source = source
        self._raw = raw
        self._finished = False
        self.done = False
        """True once every page is copied."""
        self.page_count = 0
        """Pages in the source database, as of the last step."""
        self.remaining = 0
        """Pages still to copy, as of the last step."""

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        async with _parked(self._source) as parking:
            return await self._destination.call(_with_parked, parking, fn, *args)

    async def step(self, npages: int = -1) -> bool:
        """Copy up to ``npages`` pages (all if -1); True once the backup is complete."""
        if not isinstance(npages, int):
            raise TypeError(f"npages must be an int, not {type(npages).__name__}")
        progress: BackupProgress = await self._call(_step, self._raw, npages)
        self.page_count, self.remaining, self.done = (
            progress.page_count,
            progress.remaining,
            progress.done,
        )
        return progress.done

    async def steps(self, npages: int = 100) -> AsyncIterator[BackupProgress]:
        """Step ``npages`` at a time to the end, yielding the progress after each step."""
        while not self.done:
            await self.step(npages)
            yield BackupProgress(self.page_count, self.remaining, self.done)

    async def finish(self) -> None:
        """Release the backup (idempotent); required before the destination is used again."""
        if self._finished or self._destination.engine.closed:
            return
        self._finished = True
        await self._call(_finish, self._raw)

    aclose = finish
    close = finish

    def __repr__(self) -> str:
        if self._finished:
            state = "finished"
        else:
            state = f"{self.page_count - self.remaining} of {self.page_count} pages copied"
        return f"<aiolite.Backup into {self._destination.describe()} {state}>"


@asynccontextmanager
async def _parked(source: ConnectionCore | None) -> AsyncIterator[_Parking | None]:
    """Park ``source``'s worker (if it is an aiolite connection) for the block."""
    if source is None:
        yield None
        return
    if source.engine.closed:
        raise ConnectionClosedError("the backup's source connection is closed")
    parking = _Parking()
    source.engine.post(parking.hold)
    try:
        yield parking
    finally:
        parking.release.set()


class BackupMethods(CoreFront):
    async def backup(
        self,
        databasename: str,
        sourceconnection: Connection[Any] | apsw.Connection,
        sourcedatabasename: str,
    ) -> Backup:
        """Start copying ``sourcedatabasename`` of ``sourceconnection`` over ``databasename``.

        The source may be an aiolite connection (its worker is held only
        during each step) or a plain ``apsw.Connection`` (which you must not
        use from another thread during a step). See :class:`aiolite.Backup`.
        """
        require_str(databasename, "databasename")
        require_str(sourcedatabasename, "sourcedatabasename")
        destination = self._core
        source: ConnectionCore | None = None
        if isinstance(sourceconnection, CoreFront):
            source_core = source = core_of(sourceconnection)
            if source_core is destination:
                raise ValueError("a database cannot be backed up into its own connection")
            source_core.engine.keep_in_worker()  # its raw connection is used from another thread
            raw_source = await source_core.apsw_connection()
        elif isinstance(sourceconnection, apsw.Connection):
            raw_source = sourceconnection
        else:
            raise TypeError(
                "sourceconnection must be an aiolite.Connection or apsw.Connection, "
                f"not {type(sourceconnection).__name__}"
            )
        async with _parked(source) as parking:
            raw = await destination.call(
                _with_parked, parking, _start, databasename, raw_source, sourcedatabasename
            )
        return Backup(destination, source, raw)
