"""``async with`` for the objects that hold something open, and for what opens them.

Blobs, backups, sessions and cursors (aiolite's and ``aiolite.aiosqlite``'s)
each hold an APSW object that only the worker may close; their ``aclose()``
sends that close, and ``async with`` makes sure it is sent. ``connect()``
and ``open_pool()`` return an :class:`Opener`: awaited, it gives the opened
object; used with ``async with``, it also closes that object at the end.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from .misuse import AsyncOnly

if TYPE_CHECKING:
    from types import TracebackType

T = TypeVar("T")


class AsyncClosing(AsyncOnly):
    """``async with obj:`` gives ``obj`` and awaits ``obj.aclose()`` at the end."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class Opener(AsyncOnly, Generic[T]):
    """Await it for the opened object, or ``async with`` it to have that object closed at the end.

    Subclasses say how to open (``_open``) and how to close what they
    opened (``_close``, shielded from cancellation, so that a cancelled
    block still closes it). Each subclass is also given, with
    :func:`~aiolite._apsw.misuse.hint_forgotten_await`, the names of what it
    opens, so that using one as the opened object (a forgotten ``await``)
    says so.
    """

    __slots__ = ("_database", "_opened")

    def __init__(self, database: str) -> None:
        self._database = database
        """What it opens: a file name, a ``file:`` URI or ``":memory:"``."""
        self._opened: T | None = None

    def __repr__(self) -> str:
        state = "opened" if self._opened is not None else "not awaited yet"
        return f"<aiolite.{type(self).__name__} for {self._database!r} ({state})>"

    async def _open(self) -> T:
        raise NotImplementedError

    async def _close(self, opened: T) -> None:
        raise NotImplementedError

    def __await__(self) -> Generator[Any, None, T]:
        return self._open().__await__()

    async def __aenter__(self) -> T:
        self._opened = await self._open()
        return self._opened

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._opened is not None:
            await self._close(self._opened)
