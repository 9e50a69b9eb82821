"""Row factories: the shape each result row is handed back in.

A factory is compiled once per statement into a per-row converter, so the
column names are looked at once per statement, not once per row, and the
conversion runs in the worker thread, off the event loop.

>>> Named = Row.for_columns(("id", "name"))
>>> row = Named((1, "Ada"))
>>> row == (1, "Ada"), row["name"], row.id, row.keys()
(True, 'Ada', 1, ('id', 'name'))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, ClassVar, SupportsIndex, TypeAlias, TypeVar, overload

import apsw

T = TypeVar("T")

ColumnNames: TypeAlias = tuple[str, ...]
Description: TypeAlias = tuple[tuple[Any, ...], ...]
"""One DB-API 7-tuple per result column (name first, then declared type)."""
RowConverter: TypeAlias = Callable[[tuple[Any, ...]], Any]
RowFactory: TypeAlias = type[T] | Callable[[ColumnNames, tuple[Any, ...]], T]
"""What ``row_factory=`` accepts.

* ``tuple`` (the default): plain tuples, the fastest.
* :class:`aiolite.Row`: tuples that also answer to column names.
* ``dict``: ``{column: value}``.
* a dataclass: built with the columns as keyword arguments.
* any other class: built with the columns as positional arguments
  (``typing.NamedTuple`` classes, for example).
* a function ``f(column_names, values) -> row``.
"""


class Row(tuple[Any, ...]):
    """A result row: a tuple that can also be indexed by column name.

    ``row[0]``, ``row["name"]`` and ``row.name`` all work; names are matched
    exactly first, then case-insensitively as SQL does. Equal to the plain
    tuple of its values. A column whose name is a tuple method (``count``,
    ``index``) is reached with ``row["count"]``.
    """

    __slots__ = ()
    _names: ClassVar[ColumnNames] = ()
    _index: ClassVar[Mapping[str, int]] = {}
    _base: ClassVar[type[Row] | None] = None  # the class for_columns() was called on

    @classmethod
    def for_columns(cls, names: ColumnNames) -> type[Row]:
        """The subclass of ``cls`` whose instances have these column names (cached)."""
        return _row_class(cls, names)

    @overload
    def __getitem__(self, key: SupportsIndex | str) -> Any: ...

    @overload
    def __getitem__(self, key: slice) -> tuple[Any, ...]: ...

    def __getitem__(self, key: SupportsIndex | slice | str) -> Any:
        if isinstance(key, str):
            index = self._column_index(key)
            if index is None:
                raise KeyError(f"no column named {key!r}; the columns are {self._names}")
            return tuple.__getitem__(self, index)
        return tuple.__getitem__(self, key)

    def __getattr__(self, name: str) -> Any:
        index = self._column_index(name)
        if index is None:
            raise AttributeError(f"{type(self).__name__!s} has no column or attribute {name!r}")
        return tuple.__getitem__(self, index)

    @classmethod
    def _column_index(cls, name: str) -> int | None:
        index = cls._index.get(name)
        return cls._index.get(name.casefold()) if index is None else index

    def keys(self) -> ColumnNames:
        """The column names, in order."""
        return self._names

    def as_dict(self) -> dict[str, Any]:
        """``{column: value}``; later columns win where names repeat."""
        return dict(zip(self._names, self, strict=True))

    def __repr__(self) -> str:
        if not self._names:
            return f"Row{tuple.__repr__(self)}"
        fields = ", ".join(f"{n}={v!r}" for n, v in zip(self._names, self, strict=False))
        return f"Row({fields})"

    def __reduce__(self) -> tuple[Any, ...]:
        # The per-column-layout classes are made at run time, so pickle by recipe.
        if self._base is None:
            return (type(self), (tuple(self),))
        return (_rebuild_row, (self._base, self._names, tuple(self)))


@lru_cache(maxsize=512)
def _row_class(base: type[Row], names: ColumnNames) -> type[Row]:
    index: dict[str, int] = {}
    for position, name in reversed(list(enumerate(names))):
        index[name.casefold()] = position
    for position, name in reversed(list(enumerate(names))):
        index[name] = position
    return type(
        base.__name__, (base,), {"__slots__": (), "_names": names, "_index": index, "_base": base}
    )


def _rebuild_row(base: type[Row], names: ColumnNames, values: tuple[Any, ...]) -> Row:
    return _row_class(base, names)(values)


CompiledFactory: TypeAlias = Callable[[ColumnNames], RowConverter | None]
"""Given a statement's column names, the per-row converter (None: keep tuples)."""


def compile_row_factory(factory: RowFactory[Any] | None) -> CompiledFactory:
    """Turn a ``row_factory=`` value into a per-statement converter builder."""
    if factory is None or factory is tuple:
        return _keep_tuples
    if isinstance(factory, type):
        if issubclass(factory, Row):
            return factory.for_columns
        if factory is dict:
            return _dict_rows
        if dataclasses.is_dataclass(factory):
            return _keyword_rows(factory)
        return _positional_rows(factory)
    if callable(factory):
        return _function_rows(factory)
    raise TypeError(f"row_factory must be a class or a function, not {factory!r}")


def _keep_tuples(names: ColumnNames) -> None:
    return None


def _dict_rows(names: ColumnNames) -> RowConverter:
    return lambda values: dict(zip(names, values, strict=True))


def _keyword_rows(cls: type[Any]) -> CompiledFactory:
    return lambda names: lambda values: cls(**dict(zip(names, values, strict=True)))


def _positional_rows(cls: type[Any]) -> CompiledFactory:
    return lambda names: lambda values: cls(*values)


def _function_rows(function: Callable[[ColumnNames, tuple[Any, ...]], Any]) -> CompiledFactory:
    return lambda names: lambda values: function(names, values)


class RowShaper:
    """How the rows of one execution are shaped: its factory and its current columns.

    The one convention for shaping rows, shared by the connection's
    executions (which learn each statement's columns from APSW's exec tracer,
    before the first step) and the pool's group commit (which learns them
    after the write ran): a statement's column names are compiled once into
    a per-row converter; a converter of None means rows stay plain tuples.
    """

    __slots__ = ("convert", "description", "factory")

    def __init__(self, factory: CompiledFactory) -> None:
        self.factory = factory
        self.convert: RowConverter | None = None
        self.description: Description | None = None

    def learn(self, description: Description) -> None:
        """A statement with these columns runs now: shape its rows by them."""
        self.description = description or None
        if self.factory is not _keep_tuples:
            self.convert = self.factory(tuple(column[0] for column in description))

    def shape(self, rows: list[Any]) -> list[Any]:
        """``rows`` (plain tuples) in the factory's shape."""
        convert = self.convert
        return rows if convert is None else [convert(row) for row in rows]


def fetch_shaped(cursor: apsw.Cursor, factory: CompiledFactory) -> list[Any]:
    """Every row ``cursor`` has left, shaped by the columns of its current statement.

    For a statement that has already run (a write's ``RETURNING`` rows): a
    statement that returned no rows has finished and has no columns to ask.
    """
    try:
        description = cursor.description
    except apsw.ExecutionCompleteError:  # no rows: the usual case for a write
        return []
    shaper = RowShaper(factory)
    shaper.learn(description)
    return shaper.shape(cursor.fetchall())
