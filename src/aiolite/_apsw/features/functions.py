"""Aggregate and window functions and collations whose callbacks may be async.

APSW's protocols are kept as they are: a factory makes one object per group
(or window) with ``step``/``final`` (and ``value``/``inverse`` for windows),
or returns the older ``(context, step, final, ...)`` tuple. Any of them, the
factory included, may be ``async def``; those run in the event loop while
the statement waits, the rest run in the worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import apsw

from ..arguments import require_callable_or_none, require_str
from ..core import CoreFront
from .callbacks import AsyncMethods, bridge, has_async_method

if TYPE_CHECKING:
    from ..._engine import Engine

_AGGREGATE_METHODS = ("step", "final")
_WINDOW_METHODS = ("step", "final", "value", "inverse")


def bridge_factory(
    engine: Engine, factory: Callable[[], Any] | None, methods: tuple[str, ...]
) -> Callable[[], Any] | None:
    """``factory`` as APSW can call it, making objects whose async methods are bridged."""
    if factory is None:
        return None
    make = bridge(engine, factory)
    assert make is not None

    def start() -> Any:
        made = make()
        if isinstance(made, tuple | list):  # (context, step, final, ...) as APSW allows
            context, *functions = made
            return (context, *(bridge(engine, function) for function in functions))
        if has_async_method(made, methods):
            return AsyncMethods(made, engine)
        return made

    start.__name__ = getattr(factory, "__name__", "factory")
    return start


class FunctionMethods(CoreFront):
    """Registration of aggregate and window functions and of collations."""

    async def _register(
        self,
        create: Callable[..., None],
        name: str,
        factory: Callable[[], Any] | None,
        numargs: int,
        flags: int,
        methods: tuple[str, ...],
    ) -> None:
        require_str(name)
        require_callable_or_none(factory, "factory")
        bridged = bridge_factory(self._core.engine, factory, methods)
        await self._core.call(create, name, bridged, numargs, flags=flags)

    async def create_aggregate_function(
        self,
        name: str,
        factory: Callable[[], Any] | None,
        numargs: int = -1,
        *,
        flags: int = 0,
    ) -> None:
        """Register an aggregate: ``factory()`` makes an object with ``step`` and ``final``.

        Each may be ``async def``. None removes the function.

        >>> import asyncio, aiolite
        >>> class Total:
        ...     def __init__(self):
        ...         self.total = 0
        ...     async def step(self, value):       # async: runs in the event loop
        ...         self.total += value
        ...     def final(self):                   # sync: runs in the worker thread
        ...         return self.total
        >>> async def main():
        ...     async with aiolite.connect(":memory:") as db:
        ...         await db.create_aggregate_function("add_up", Total, 1)
        ...         sql = "SELECT add_up(column1) FROM (VALUES (1), (2), (3), (4))"
        ...         return await (await db.execute(sql)).get
        >>> asyncio.run(main())
        10
        """
        await self._register(
            apsw.Connection.create_aggregate_function,
            name,
            factory,
            numargs,
            flags,
            _AGGREGATE_METHODS,
        )

    async def create_window_function(
        self,
        name: str,
        factory: Callable[[], Any] | None,
        numargs: int = -1,
        *,
        flags: int = 0,
    ) -> None:
        """Register a window function: ``factory()`` makes an object with ``step``,
        ``final``, ``value`` and ``inverse``; each may be ``async def``.

        >>> import asyncio, aiolite
        >>> class Sum:
        ...     def __init__(self): self.total = 0
        ...     def step(self, value): self.total += value
        ...     async def inverse(self, value): self.total -= value
        ...     def value(self): return self.total
        ...     def final(self): return self.total
        >>> async def main():
        ...     async with aiolite.connect(":memory:") as db:
        ...         await db.create_window_function("wsum", Sum, 1)
        ...         sql = ("SELECT wsum(column1) OVER (ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) "
        ...                "FROM (VALUES (1), (2), (3), (4))")
        ...         return [s async for (s,) in db.execute(sql)]
        >>> asyncio.run(main())
        [1, 3, 5, 7]
        """
        await self._register(
            apsw.Connection.create_window_function, name, factory, numargs, flags, _WINDOW_METHODS
        )

    async def create_collation(self, name: str, callback: Callable[[str, str], Any] | None) -> None:
        """Register a collation: ``callback(a, b)`` returns <0, 0 or >0; may be async.

        >>> import asyncio, aiolite
        >>> def by_length(a, b):
        ...     return len(a) - len(b)
        >>> async def main():
        ...     async with aiolite.connect(":memory:") as db:
        ...         await db.create_collation("length", by_length)
        ...         sql = "SELECT column1 FROM (VALUES ('ccc'), ('a'), ('bb'))"
        ...         return [v async for (v,) in db.execute(sql + " ORDER BY 1 COLLATE length")]
        >>> asyncio.run(main())
        ['a', 'bb', 'ccc']
        """
        require_str(name)
        require_callable_or_none(callback, "callback")
        await self._core.call(
            apsw.Connection.create_collation, name, bridge(self._core.engine, callback)
        )
