"""``async with`` for the objects that hold something open in the worker.

Blobs, backups, sessions and cursors (aiolite's and ``aiolite.aiosqlite``'s)
each hold an APSW object that only the worker may close; their ``aclose()``
sends that close, and ``async with`` makes sure it is sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from types import TracebackType


class AsyncClosing:
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
