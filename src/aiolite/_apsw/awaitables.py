"""Results that read like attributes but need a trip to the worker: ``await cursor.get``.

APSW spells some results as attributes (``cursor.get``, ``connection.system_errno``);
its async mode, and code ported from it, awaits them as such. Others call them
(``await cursor.get()``), as most async libraries would. A :class:`Deferred`
serves both: awaiting it runs the request, calling it returns itself. The one
thing it refuses is being used as a truth value: ``if cursor.get:`` would be
true whatever the result, so it raises instead of quietly being wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Generator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Deferred(Generic[T]):
    """An awaitable result that is also callable (returning itself), never a truth value.

    Nothing runs until it is awaited, so one that is never awaited costs
    nothing and leaves no "coroutine was never awaited" warning behind.
    """

    __slots__ = ("_name", "_start")

    def __init__(self, start: Callable[[], Coroutine[Any, Any, T]], name: str) -> None:
        self._start = start
        self._name = name

    def __await__(self) -> Generator[Any, None, T]:
        return self._start().__await__()

    def __call__(self) -> Deferred[T]:
        return self

    def __bool__(self) -> bool:
        raise TypeError(
            f"{self._name} needs the database: did you forget `await`? (await {self._name})"
        )

    def __repr__(self) -> str:
        return f"<aiolite awaitable {self._name}>"
