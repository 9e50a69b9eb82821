"""Tracing and resource usage for a block of code: ``apsw.ext.Trace`` and
``apsw.ext.ShowResourceUsage`` as ``async with`` blocks.

Both install SQLite callbacks and read connection status, so they are
entered and exited in the worker thread, where they then run as plain
callbacks. The resource usage of ``scope="thread"`` is therefore the
worker's: the thread that does the SQLite work, not the event loop's.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal, TextIO

import apsw

from ..core import CoreFront

if TYPE_CHECKING:
    import apsw.ext


def _ext() -> Any:
    """``apsw.ext``, imported when a block first asks for it: it pulls in json,
    importlib.resources, tempfile and more (about a fifth of ``import aiolite``'s
    time), which programs that never trace should not pay for."""
    import apsw.ext

    return apsw.ext


def _enter(conn: apsw.Connection, manager: Any) -> Any:
    return manager.__enter__()


def _exit(conn: apsw.Connection, manager: Any) -> None:
    manager.__exit__(None, None, None)


class TracingMethods(CoreFront):
    @asynccontextmanager
    async def _in_worker(self, manager: Any) -> AsyncIterator[None]:
        """Enter and exit the sync context manager ``manager`` in the worker thread.

        Its tracers must see every statement, and resource usage is measured
        on the worker thread, so nothing runs inline from here on.
        """
        self._core.engine.keep_in_worker()
        await self._core.call(_enter, manager)
        try:
            yield
        finally:
            if not self._core.engine.closed:
                await self._core.call_cleanup(_exit, manager)

    @asynccontextmanager
    async def trace(
        self,
        file: TextIO | None = sys.stdout,
        *,
        trigger: bool = False,
        vtable: bool = False,
        updates: bool = False,
        transaction: bool = False,
        truncate: int = 75,
        indent: str = "",
    ) -> AsyncIterator[apsw.ext.Trace]:
        """Print each statement of the block, with its time, rows and changes
        (``apsw.ext.Trace``; the options are its options).

        Each statement's time is the clock's (``0.000`` on a quiet machine,
        more under load), so the example shows it as ``<seconds>``:

        >>> import asyncio, io, re, aiolite
        >>> async def main():
        ...     out = io.StringIO()
        ...     async with aiolite.connect(":memory:") as db:
        ...         async with db.trace(out, updates=True):
        ...             await db.execute("CREATE TABLE t(x); INSERT INTO t VALUES (42)")
        ...     print(re.sub(r"Time: [0-9.]+", "Time: <seconds>", out.getvalue()), end="")
        >>> asyncio.run(main())
         > CREATE TABLE t(x);
             Time: <seconds>
         > INSERT INTO t VALUES (42)
           INS 1 (42)
             Time: <seconds>  Changes: 1
        """
        conn = await self._core.apsw_connection()
        tracer = _ext().Trace(
            file,
            db=conn,
            trigger=trigger,
            vtable=vtable,
            updates=updates,
            transaction=transaction,
            truncate=truncate,
            indent=indent,
        )
        async with self._in_worker(tracer):
            yield tracer

    @asynccontextmanager
    async def resource_usage(
        self,
        file: TextIO | None = sys.stdout,
        *,
        scope: Literal["thread", "process"] | None = "thread",
        indent: str = "",
    ) -> AsyncIterator[apsw.ext.ShowResourceUsage]:
        """Print the CPU, wall clock and SQLite work of the block at its end
        (``apsw.ext.ShowResourceUsage``). ``scope="thread"`` measures the
        worker thread (where SQLite runs), ``"process"`` the whole process.

        >>> import asyncio, io, aiolite
        >>> async def main():
        ...     out = io.StringIO()
        ...     async with aiolite.connect(":memory:") as db:
        ...         async with db.resource_usage(out):
        ...             await db.execute("SELECT count(*) FROM pragma_function_list")
        ...     return "SQLite vm operations" in out.getvalue()
        >>> asyncio.run(main())
        True
        """
        conn = await self._core.apsw_connection()
        usage = _ext().ShowResourceUsage(file, db=conn, scope=scope, indent=indent)
        async with self._in_worker(usage):
            yield usage
