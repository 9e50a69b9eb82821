"""What the connection's method mixins may rely on: its engine, ``_call`` and ``_call_cleanup``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Self, TypeVar

import apsw

if TYPE_CHECKING:
    from types import TracebackType

    from .._engine.engine import Engine

P = ParamSpec("P")
R = TypeVar("R")


class ConnectionPart:
    """Base of the mixins that make up :class:`aiolite.Connection`."""

    _engine: Engine

    if TYPE_CHECKING:

        async def _call(
            self,
            fn: Callable[Concatenate[apsw.Connection, P], R],
            *args: P.args,
            **kwargs: P.kwargs,
        ) -> R: ...

        async def _call_cleanup(self, fn: Callable[..., Any], *args: Any) -> Any: ...


def check_callback(value: Any, what: str) -> None:
    """Refuse a callback that is neither callable nor None, before anything runs."""
    if value is not None and not callable(value):
        raise TypeError(f"{what} must be callable or None, not {type(value).__name__}")


def check_name(value: Any, what: str = "name") -> None:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")


def sync_connection(conn: apsw.Connection) -> apsw.Connection:
    """Run in the worker: the plain connection, for objects that must be built on it."""
    return conn


class AsyncClosing:
    """``async with obj:`` gives ``obj`` and awaits ``obj.aclose()`` at the end (blobs,
    backups, sessions, aiosqlite-style cursors)."""

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
