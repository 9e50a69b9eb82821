"""User callbacks with sqlite3's contract: SQL functions, aggregates, windows, authorizer, trace.

What differs from APSW's own contract is what happens when a callback
fails: sqlite3 fails the statement with one fixed ``OperationalError``
message ("user-defined function raised exception", "user-defined
aggregate's 'step' method raised error", ...) and an authorizer that raises
denies; APSW would re-raise the callback's own exception. The wrappers here
turn one into the other, keeping the user's exception as ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import apsw

from .errors import FUNCTION_RAISED, UserCallbackError
from .parameters import adapt


def _result(value: Any) -> Any:
    """A function's return value as sqlite3 accepts it (adapted like a parameter)."""
    if value is None or isinstance(value, (int, float, str, bytes)):
        return value
    try:
        return bytes(memoryview(value))
    except TypeError:
        adapted = adapt(value)
        if adapted is value:
            raise UserCallbackError(FUNCTION_RAISED) from None
        return _result(adapted)


def scalar(function: Callable[..., Any]) -> Callable[..., Any]:
    """``create_function``'s callable, failing as sqlite3 fails."""

    def call(*args: Any) -> Any:
        try:
            value = function(*args)
        except Exception as exc:
            raise UserCallbackError(FUNCTION_RAISED) from exc
        return _result(value)

    return call


def _method_error(kind: str, method: str) -> UserCallbackError:
    return UserCallbackError(f"user-defined {kind}'s '{method}' method raised error")


class _Instance:
    """One aggregate or window run: the user's instance behind APSW's method names."""

    __slots__ = ("_inner", "_kind")

    def __init__(self, cls: Callable[[], Any], kind: str) -> None:
        self._kind = kind
        try:
            self._inner = cls()
        except Exception as exc:
            raise _method_error(kind, "__init__") from exc

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self._inner, method)(*args)
        except Exception as exc:
            raise _method_error(self._kind, method) from exc

    def step(self, *args: Any) -> None:
        self._call("step", *args)

    def inverse(self, *args: Any) -> None:
        self._call("inverse", *args)

    def value(self) -> Any:
        return _result(self._call("value"))

    def final(self) -> Any:
        return _result(self._call("finalize"))


def aggregate(cls: Callable[[], Any]) -> Callable[[], _Instance]:
    """An APSW aggregate factory for a sqlite3 aggregate class (``step``/``finalize``)."""
    return lambda: _Instance(cls, "aggregate")


def window(cls: Callable[[], Any]) -> Callable[[], _Instance]:
    """An APSW window factory for a sqlite3 window class (``step``/``inverse``/``value``/...)."""
    return lambda: _Instance(cls, "aggregate")


def authorizer(callback: Callable[..., Any]) -> Callable[..., int]:
    """sqlite3's authorizer rule: an exception or a non-int answer denies."""

    def authorize(*args: Any) -> int:
        try:
            verdict = callback(*args)
        except Exception:
            return apsw.SQLITE_DENY
        return verdict if isinstance(verdict, int) else apsw.SQLITE_DENY

    return authorize
