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
from typing import TYPE_CHECKING


def missing_attribute(
    obj: object, name: str, target: type, how: str, also: Iterable[str] = ()
) -> AttributeError:
    """The AttributeError for ``obj.name``, with a hint when ``name`` belongs to ``target``.

    ``target`` is what awaiting ``obj`` gives; ``how`` is the call to await
    (``"aiolite.connect(...)"``). Only public names of ``target`` get the
    hint (``also``: its instance attributes), so ``hasattr`` probes of
    private and dunder names (``__aenter__``, ``__getstate__``, copy and
    pickle) see a plain AttributeError, as they would without the hint.
    """
    message = f"{type(obj).__name__!r} object has no attribute {name!r}"
    if not name.startswith("_") and (hasattr(target, name) or name in also):
        message += f": did you forget to await {how}?"
    return AttributeError(message, name=name, obj=obj)


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
