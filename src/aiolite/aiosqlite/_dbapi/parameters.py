"""Query parameters as sqlite3 binds them: its adapters, its checks, its errors.

sqlite3 passes every value that is not exactly ``int``, ``float``, ``str``
(or ``bytearray``) through its adapter registry (``sqlite3.register_adapter``
fills ``sqlite3.adapters``) and then the value's ``__conform__``; the result
must be ``None``, an int, a float, a str or a buffer, or binding fails with
``ProgrammingError``. Code that registers adapters keeps working because the
standard library's own registry is the one consulted.

Plain values go to APSW untouched (the common case costs one pass over the
parameters); the rest are adapted and checked here, so APSW only ever sees
values it binds the way sqlite3 would.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from itertools import chain
from typing import Any

from .errors import UNSUPPORTED_PARAMETERS

_PROTOCOL = sqlite3.PrepareProtocol
_ADAPTERS: dict[tuple[type, type], Any] = sqlite3.adapters
_PLAIN = (int, float, str, type(None), bytes)
_BUFFERS = (bytes, bytearray, memoryview)


_PLAIN_SET: frozenset[type] = frozenset(_PLAIN)
_PLAIN_KEYS = frozenset((kind, _PROTOCOL) for kind in _PLAIN)
_ROW_TYPES: frozenset[type] = frozenset((tuple, list))


def _plain_types() -> frozenset[type]:
    """The exact types bound as they are: those nobody registered an adapter for."""
    adapted = _PLAIN_KEYS & _ADAPTERS.keys()
    if not adapted:
        return _PLAIN_SET
    return _PLAIN_SET - {kind for kind, _ in adapted}


def plain_values(values: Sequence[Any]) -> bool:
    """True when ``bindings(values)`` would be ``values`` itself: every value binds as it is.

    Checked in C (no per-value Python), for the fast path of a repeated query.

    >>> plain_values((1, "a", None, 2.5, b"x")), plain_values((True,))
    (True, False)
    """
    return _PLAIN_SET.issuperset(map(type, values)) and _PLAIN_KEYS.isdisjoint(_ADAPTERS)


def plain_rows(rows: Sequence[Any]) -> bool:
    """True when every row is a tuple or list of plain values (see :func:`plain_values`).

    >>> plain_rows([(1, "a"), [2, None]]), plain_rows([{"x": 1}]), plain_rows([(1, True)])
    (True, False, False)
    """
    return (
        _ROW_TYPES.issuperset(map(type, rows))
        and _PLAIN_SET.issuperset(map(type, chain.from_iterable(rows)))
        and _PLAIN_KEYS.isdisjoint(_ADAPTERS)
    )


def adapt(value: Any) -> Any:
    """``value`` after sqlite3's adaptation (registry first, then ``__conform__``)."""
    adapter = _ADAPTERS.get((type(value), _PROTOCOL))
    if adapter is not None:
        return adapter(value)
    conform = getattr(value, "__conform__", None)
    if conform is not None:
        adapted = conform(_PROTOCOL)
        if adapted is not None:
            return adapted
    return value


def _check(value: Any, where: str) -> Any:
    if value is None or isinstance(value, (int, float, str, *_BUFFERS)):
        return value
    try:
        memoryview(value)
    except TypeError:
        raise sqlite3.ProgrammingError(
            f"Error binding parameter {where}: type '{type(value).__name__}' is not supported"
        ) from None
    return value


class NamedValues(Mapping[str, Any]):
    """A dict of named parameters, adapted as APSW asks for each name.

    sqlite3 looks up only the names the statement uses, so adapters run (and
    unsupported values fail) only for those.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values

    def __getitem__(self, name: str) -> Any:
        try:
            value = self._values[name]
        except KeyError:
            raise sqlite3.ProgrammingError(
                f"You did not supply a value for binding parameter :{name}."
            ) from None
        return _check(adapt(value), f":{name}")

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def bindings(parameters: Any) -> Sequence[Any] | Mapping[str, Any]:
    """``parameters`` ready for APSW, or a sqlite3 error for what sqlite3 would refuse.

    >>> bindings((1, "a", None))
    (1, 'a', None)
    >>> bindings([b"x", 2.5])
    [b'x', 2.5]
    """
    if isinstance(parameters, dict):
        return NamedValues(parameters)
    if isinstance(parameters, (tuple, list)):
        values: Sequence[Any] = parameters
    elif isinstance(parameters, Sequence) or (
        hasattr(parameters, "__getitem__") and hasattr(parameters, "__len__")
    ):
        values = [parameters[i] for i in range(len(parameters))]
    else:
        raise sqlite3.ProgrammingError(UNSUPPORTED_PARAMETERS)
    if not values:
        return values
    plain = _plain_types()
    for value in values:
        if type(value) not in plain:
            return [_check(adapt(value), str(i)) for i, value in enumerate(values, 1)]
    return values
