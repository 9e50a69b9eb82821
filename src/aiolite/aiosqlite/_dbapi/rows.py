"""Rows as sqlite3 shapes them: ``Row``, converters (``detect_types``) and ``text_factory``.

``Row`` behaves as ``sqlite3.Row``: a tuple-like row that also answers to
column names, case-insensitively, with ``keys()``, equality and hashing.
``sqlite3.Row`` itself only accepts a real ``sqlite3.Cursor``, so a
connection whose ``row_factory`` is set to ``sqlite3.Row`` uses this class
instead (see :func:`resolve_factory`).

Converters come from the standard library's registry
(``sqlite3.register_converter`` fills ``sqlite3.converters``), so code that
registers them keeps working. A converter receives the value's bytes, as
SQLite's ``sqlite3_column_blob`` gives them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

_CONVERTERS: dict[str, Callable[[bytes], Any]] = sqlite3.converters
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

Description = tuple[tuple[str, None, None, None, None, None, None], ...]
Converter = Callable[[tuple[Any, ...]], tuple[Any, ...]]


class HasDescription(Protocol):
    @property
    def description(self) -> Description | None: ...


class Row:
    """A row that answers to index, slice and (case-insensitive) column name.

    >>> row = Row(None, (1, "Ada"), ("id", "name"))
    >>> row["NAME"], row[0], row.keys(), len(row), tuple(row)
    ('Ada', 1, ['id', 'name'], 2, (1, 'Ada'))
    """

    __slots__ = ("_names", "_values")

    def __init__(
        self,
        cursor: HasDescription | None,
        values: tuple[Any, ...],
        names: Sequence[str] | None = None,
    ) -> None:
        if not isinstance(values, tuple):
            raise TypeError("tuple required for second argument")
        if names is None:
            names = getattr(cursor, "column_names", None)
        if names is None:
            description = cursor.description if cursor is not None else None
            names = tuple(column[0] for column in description or ())
        self._names = tuple(names)
        self._values = values

    def keys(self) -> list[str]:
        """The column names, in order."""
        return list(self._names)

    def __getitem__(self, key: int | slice | str) -> Any:
        if isinstance(key, str):
            wanted = key.translate(_ASCII_LOWER)
            for name, value in zip(self._names, self._values, strict=False):
                if name.translate(_ASCII_LOWER) == wanted:
                    return value
            raise IndexError("No item with that key")
        if isinstance(key, int | slice):
            return self._values[key]
        raise IndexError("Index must be int or string")

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Row):
            return NotImplemented
        return self._names == other._names and self._values == other._values

    def __hash__(self) -> int:
        return hash(self._names) ^ hash(self._values)

    def __repr__(self) -> str:
        return f"<aiolite.aiosqlite.Row object at {id(self):#x}>"


def resolve_factory(factory: Any) -> Any:
    """The factory to call for rows: ``sqlite3.Row`` becomes :class:`Row`."""
    return Row if factory is sqlite3.Row else factory


def column_name(name: str, parse_colnames: bool) -> str:
    """The name ``description`` reports: with PARSE_COLNAMES, cut before ``" ["``."""
    if not parse_colnames:
        return name
    bracket = name.find("[")
    if bracket < 0:
        return name
    if bracket > 0 and name[bracket - 1] == " ":
        bracket -= 1
    return name[:bracket]


def _converter_for(name: str, decltype: str | None, detect_types: int) -> Any:
    if detect_types & sqlite3.PARSE_COLNAMES:
        start = name.find("[")
        if start >= 0:
            end = name.find("]", start + 1)
            if end >= 0:
                found = _CONVERTERS.get(name[start + 1 : end].upper())
                if found is not None:
                    return found
    if detect_types & sqlite3.PARSE_DECLTYPES and decltype:
        cut = len(decltype)
        for stop in (" ", "("):
            at = decltype.find(stop)
            if 0 <= at < cut:
                cut = at
        return _CONVERTERS.get(decltype[:cut].upper())
    return None


def _as_bytes(value: Any, float_text: Callable[[float], str]) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, float):
        return float_text(value).encode("ascii")
    return str(value).encode("ascii")


def row_converter(
    columns: Sequence[tuple[str, str | None]],
    detect_types: int,
    text_factory: Any,
    float_text: Callable[[float], str],
) -> Converter | None:
    """A function that shapes each row's values, or None when rows need nothing.

    ``float_text`` renders a REAL as SQLite's text of it (a converter gets
    the bytes SQLite would give).
    """
    converters = [_converter_for(name, decltype, detect_types) for name, decltype in columns]
    text = None if text_factory is str else text_factory
    if text is None and not any(converters):
        return None

    def convert(values: tuple[Any, ...]) -> tuple[Any, ...]:
        shaped: list[Any] = []
        for value, converter in zip(values, converters, strict=False):
            if value is None:
                shaped.append(None)
            elif converter is not None:
                shaped.append(converter(_as_bytes(value, float_text)))
            elif text is not None and isinstance(value, str):
                shaped.append(text(value.encode("utf-8", "surrogatepass")))
            else:
                shaped.append(value)
        return tuple(shaped)

    return convert
