"""``async with`` for the objects that only need closing at the end (cursors, blobs)."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class AsyncClosing:
    """``async with obj:`` returns ``obj`` and awaits ``obj.close()`` at the end."""

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
