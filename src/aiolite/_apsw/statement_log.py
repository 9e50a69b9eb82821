"""Timing and logging statements, for connections whose ``aiolite.sql`` logging is on.

A connection gets a :class:`StatementLog` only when it opens with
``aiolite.sql`` enabled for DEBUG or with a ``slow_query`` threshold;
otherwise its statements never come here (one attribute read decides).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from time import perf_counter
from typing import TYPE_CHECKING, Any

from .. import _logging

if TYPE_CHECKING:
    from .core import Bindings, ConnectionCore
    from .execution import Execution

_DEBUG = logging.DEBUG


class StatementLog:
    """Times each statement of one connection and logs it (see :mod:`aiolite._logging`)."""

    __slots__ = ("_name", "slow_query")

    def __init__(self, name: str, slow_query: float | None) -> None:
        self._name = name or ":memory:"
        self.slow_query = slow_query

    @classmethod
    def for_connection(cls, name: str, slow_query: float | None) -> StatementLog | None:
        """A log if statements of this connection are to be timed at all, else None."""
        if slow_query is None and not _logging.sql.isEnabledFor(_DEBUG):
            return None
        return cls(name, slow_query)

    async def execute(
        self,
        core: ConnectionCore,
        sql: str,
        bindings: Bindings | Iterable[Bindings],
        many: bool,
        size: int,
        first_only: bool = False,
    ) -> tuple[Execution, list[Any], bool]:
        """``core.execute(...)``, timed and logged."""
        started = perf_counter()
        try:
            result = await core.execute(sql, bindings, many, size, first_only=first_only)
        except BaseException as exc:
            self._failed(sql, perf_counter() - started, exc)
            raise
        elapsed = perf_counter() - started
        slow = self.slow_query
        logger = _logging.sql
        if slow is not None and elapsed >= slow:
            logger.warning(
                "slow statement on %s: %.3f s (slow_query=%s s): %s",
                self._name,
                elapsed,
                slow,
                short(sql),
            )
        elif logger.isEnabledFor(_DEBUG):
            logger.debug("%.6f s on %s: %s", elapsed, self._name, short(sql))
        return result

    def _failed(self, sql: str, elapsed: float, exc: BaseException) -> None:
        logger = _logging.sql
        if not logger.isEnabledFor(_DEBUG):
            return
        if not isinstance(exc, Exception):
            what = "cancelled"
        elif isinstance(exc, TimeoutError):
            what = "stopped by its deadline"
        else:
            what = f"failed ({type(exc).__name__}: {exc})"
        logger.debug("%s after %.6f s on %s: %s", what, elapsed, self._name, short(sql))


def short(sql: str, limit: int = 200) -> str:
    """``sql`` on one line, cut to ``limit`` characters: for log lines and reprs."""
    text = " ".join(sql.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
