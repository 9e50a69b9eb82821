"""A Python VFS whose methods may be ``async def``.

A VFS is process-wide: SQLite calls it from whichever thread is using a
database opened with it. For an aiolite connection that is the connection's
worker thread, and an async method runs in the event loop of *that*
connection (found from the thread: each worker serves one connection for
life) while the worker waits, in the context of the request being served.
Called from anywhere else (a plain ``apsw.Connection``, another thread) an
async method has no loop to run in and fails with
:class:`aiolite.NoEventLoopError`, which SQLite reports as an I/O error.

Subclass :class:`VFS` and :class:`VFSFile` exactly as ``apsw.VFS`` and
``apsw.VFSFile``; the base classes pass everything through to another VFS
(``base=""`` is the default one), so override only what you need.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import apsw

from .callbacks import call_here, is_async_callable


def _bridge_x_methods(cls: type) -> None:
    """Replace each ``async def x...`` the class defines with a plain method."""
    for name, value in list(vars(cls).items()):
        if name.startswith("x") and is_async_callable(value):
            setattr(cls, name, _sync_method(value))


def _sync_method(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def run_in_event_loop(self: Any, *args: Any) -> Any:
        return call_here(method, self, *args)

    return run_in_event_loop


class VFS(apsw.VFS):
    """``apsw.VFS`` whose ``x...`` methods may be ``async def``.

    >>> import asyncio, aiolite, tempfile, os
    >>> class CountingFile(aiolite.VFSFile):
    ...     reads = 0
    ...     async def xRead(self, amount, offset):        # runs in the event loop
    ...         CountingFile.reads += 1
    ...         return super().xRead(amount, offset)
    >>> class CountingVFS(aiolite.VFS):
    ...     def __init__(self):
    ...         super().__init__("doctest-counting", "")   # pass-through to the default VFS
    ...     def xOpen(self, name, flags):
    ...         return CountingFile("", name, flags)
    >>> vfs = CountingVFS()
    >>> async def main(path):
    ...     async with aiolite.connect(path) as db:
    ...         await db.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1)")
    ...     async with aiolite.connect(path, vfs="doctest-counting", best_practice=False) as db:
    ...         return await (await db.execute("SELECT x FROM t")).get, CountingFile.reads > 0
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     asyncio.run(main(os.path.join(folder, "counted.db")))
    (1, True)
    >>> vfs.unregister()
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _bridge_x_methods(cls)


class VFSFile(apsw.VFSFile):
    """``apsw.VFSFile`` whose ``x...`` methods may be ``async def``."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _bridge_x_methods(cls)
