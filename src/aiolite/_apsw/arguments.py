"""Argument checks the connection's methods make on the loop, before anything is sent.

A wrong argument found here fails at the call, with the argument's name,
instead of later in the worker with APSW's less specific message (or, for a
callback, only when SQLite first calls it).
"""

from __future__ import annotations

from typing import Any


def require_callable_or_none(value: Any, what: str) -> None:
    """Refuse a callback that is neither callable nor None, before anything runs."""
    if value is not None and not callable(value):
        raise TypeError(f"{what} must be callable or None, not {type(value).__name__}")


def require_str(value: Any, what: str = "name") -> None:
    """Refuse a name (of a function, table, schema...) that is not a str."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
