"""What ``db.execute(...)`` and friends return: awaitable *and* an ``async with``.

aiosqlite lets callers either ``await db.execute(sql)`` or write ``async with
db.execute(sql) as cursor:`` (which closes the cursor at the end), and code
passes these objects to ``asyncio.gather``/``create_task``, so they must also
be real coroutines. :class:`Result` is all three; it also supports
``async for row in db.execute(sql)``, aiolite's native style.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Generator
from functools import wraps
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from .cursor import Cursor

_T = TypeVar("_T")
_S = TypeVar("_S")
_P = ParamSpec("_P")


class Result(Coroutine[Any, Any, _T], Generic[_T]):
    """A coroutine that can also be used with ``async with`` (and ``async for``)."""

    __slots__ = ("_coro", "_obj")

    def __init__(self, coro: Coroutine[Any, Any, _T]) -> None:
        self._coro = coro
        self._obj: _T | None = None

    def send(self, value: Any) -> Any:
        return self._coro.send(value)

    def throw(self, *args: Any) -> Any:
        return self._coro.throw(*args)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, _T]:
        return self._coro.__await__()

    async def __aenter__(self) -> _T:
        self._obj = await self._coro
        return self._obj

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(self._obj, Cursor):
            await self._obj.close()

    async def __aiter__(self) -> AsyncIterator[Any]:
        """``async for row in db.execute(sql)``: run it, yield its rows, close the cursor."""
        async with self as cursor:
            async for row in cursor:  # type: ignore[attr-defined]
                yield row


def contextmanager(
    method: Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]],
) -> Callable[Concatenate[_S, _P], Result[_T]]:
    """Make an ``async def`` method return a :class:`Result` (aiosqlite's decorator name)."""

    @wraps(method)
    def wrapper(self: _S, *args: _P.args, **kwargs: _P.kwargs) -> Result[_T]:
        return Result(method(self, *args, **kwargs))

    return wrapper  # type: ignore[return-value]
