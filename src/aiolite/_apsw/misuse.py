"""Errors that name the fix for the two commonest slips: a missing ``await``, a plain ``with``.

``db = aiolite.connect(path)`` without ``await`` makes the first
``db.execute`` fail with "'Connector' object has no attribute 'execute'",
and ``with db.transaction():`` with Python's generic "does not support the
context manager protocol": true, but neither says what to write instead.
These helpers are only seen at run time (hidden from type checkers under
``TYPE_CHECKING``), so a checker still reports both slips as errors.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any


def hint_forgotten_await(cls: type, target: type, how: str, also: Iterable[str] = ()) -> None:
    """Make ``cls().name`` ask "did you forget to await?" for each public name of ``target``.

    ``cls`` is what ``how`` returns unawaited; ``target`` is what awaiting it
    gives. Each name ``target`` has and ``cls`` has not becomes a descriptor
    of ``cls`` whose AttributeError says so. Descriptors, not
    ``__getattr__``: a class with ``__getattr__`` pays for it on *every*
    attribute read, and these objects are on the hot path of every query.
    ``hasattr`` still answers False for them, and nothing else changes.
    """
    names = {name for name in dir(target) if not name.startswith("_")} | set(also)
    for name in sorted(names):
        if not hasattr(cls, name):
            setattr(cls, name, _ForgottenAwait(name, how))


class _ForgottenAwait:
    """A name of what ``how`` gives, looked up on what it returns before being awaited.

    Only public names get one, so ``hasattr`` probes of private and dunder
    names (``__aenter__``, ``__getstate__``, copy and pickle) still see
    Python's own AttributeError.
    """

    __slots__ = ("_how", "_name")

    def __init__(self, name: str, how: str) -> None:
        self._name = name
        self._how = how

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self  # (the class itself: documentation tools, dir())
        name = self._name
        raise AttributeError(
            f"{type(obj).__name__!r} object has no attribute {name!r}:"
            f" did you forget to await {self._how}?",
            name=name,
            obj=obj,
        )


class AsyncOnly:
    """For async-only context managers: a plain ``with`` says to use ``async with``."""

    __slots__ = ()

    if not TYPE_CHECKING:  # a checker must go on rejecting ``with`` on these

        def __enter__(self) -> None:
            kind = type(self).__name__
            raise TypeError(
                f"{kind!r} object is an async context manager: use `async with`, not `with`"
            )

        def __exit__(self, *exc_info: object) -> None:
            return None
