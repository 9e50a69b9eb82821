"""SQL for the table helpers (``create_table``, ``sql_insert``, ``query``), built safely.

What is protected: every identifier (table, column, ``order_by`` column)
must be a plain name (letters, digits, ``_``, not starting with a digit) and
is double-quoted in the SQL; every value is a bound parameter, never text in
the SQL. Anything else is a ``ValueError`` raised before any SQL runs.

What is not: ``where`` is SQL text written by the programmer, with ``?``
placeholders for the values in ``parameters``. Never build it from user
input. Two guards limit the damage of a mistake: it may not contain ``;``
or comments (so it cannot start a second statement), and ``query`` runs on
a read-only (``query_only``) reader connection.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ORDER_TERM = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)(?:\s+(ASC|DESC))?\s*\Z", re.IGNORECASE)
_COLUMN_DEFINITION = re.compile(r"[A-Za-z0-9_ (),.'+\-<>=!*/%|\"]*\Z")


def _exact(text: Any) -> Any:
    """A ``str`` subclass as a plain ``str`` (anything else unchanged).

    What is checked must be what goes into the SQL: a subclass may format
    itself (``f"{x}"`` calls its ``__format__``) as anything at all.
    """
    return str.__str__(text) if isinstance(text, str) else text


def identifier(name: Any, what: str = "identifier") -> str:
    """``name`` double-quoted, if it is a plain SQL name; ValueError otherwise."""
    name = _exact(name)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"{what} {name!r} is not a plain name (letters, digits, _; not starting with a digit)"
        )
    return f'"{name}"'


def _no_second_statement(text: str, what: str) -> None:
    if ";" in text or "--" in text or "/*" in text:
        raise ValueError(f"{what} may not contain ';' or comments: {text!r}")


def create_table_sql(name: str, columns: Mapping[str, str], if_not_exists: bool = True) -> str:
    """``CREATE TABLE`` for ``{column: "TYPE AND CONSTRAINTS"}``.

    The type/constraint text is SQL (``"INTEGER PRIMARY KEY"``, ``"TEXT
    NOT NULL DEFAULT 'x'"``); it is limited to what column definitions use,
    balanced quotes and parentheses, and no ``;`` or comments.
    """
    if not isinstance(columns, Mapping) or not columns:
        raise ValueError("columns must be a non-empty {name: type} mapping")
    parts = []
    for column, given in columns.items():
        definition = _exact(given)
        if not isinstance(definition, str) or not _COLUMN_DEFINITION.match(definition):
            raise ValueError(
                f"column definition {definition!r} has characters SQL types never need"
            )
        _no_second_statement(definition, "a column definition")
        if definition.count("'") % 2 or definition.count('"') % 2:
            raise ValueError(f"column definition {definition!r} has unbalanced quotes")
        if definition.count("(") != definition.count(")"):
            raise ValueError(f"column definition {definition!r} has unbalanced parentheses")
        parts.append(f"{identifier(column, 'column')} {definition}".rstrip())
    guard = "IF NOT EXISTS " if if_not_exists else ""
    return f"CREATE TABLE {guard}{identifier(name, 'table')} ({', '.join(parts)})"


def insert_sql(table: str, row: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """``INSERT`` of one row given as ``{column: value}``, values bound."""
    if not isinstance(row, Mapping) or not row:
        raise ValueError("row must be a non-empty {column: value} mapping")
    names = ", ".join(identifier(column, "column") for column in row)
    marks = ", ".join("?" * len(row))
    return f"INSERT INTO {identifier(table, 'table')} ({names}) VALUES ({marks})", tuple(
        row.values()
    )


def query_sql(
    table: str,
    columns: Sequence[str] | None = None,
    where: str | None = None,
    parameters: Sequence[Any] | Mapping[str, Any] | None = None,
    order_by: str | Iterable[str] | None = None,
    limit: int | None = None,
) -> tuple[str, Sequence[Any] | Mapping[str, Any]]:
    """``SELECT`` with validated, quoted identifiers and bound values."""
    if columns is None:
        selected = "*"
    else:
        if isinstance(columns, str) or not columns:
            raise ValueError("columns must be a non-empty list of column names")
        selected = ", ".join(identifier(column, "column") for column in columns)
    sql = f"SELECT {selected} FROM {identifier(table, 'table')}"
    bound: Sequence[Any] | Mapping[str, Any] = () if parameters is None else parameters
    if where is not None:
        where = _exact(where)
        if not isinstance(where, str) or not where.strip():
            raise ValueError("where must be SQL text such as 'age > ?'")
        _no_second_statement(where, "where")
        sql += f" WHERE {where}"
    elif parameters:
        raise ValueError("parameters were given without a where clause to use them")
    if order_by is not None:
        sql += " ORDER BY " + ", ".join(_order_terms(order_by))
    if limit is not None:
        if type(limit) is not int or limit < 0:
            raise ValueError(f"limit must be an int >= 0, not {limit!r}")
        sql += f" LIMIT {limit}"
    return sql, bound


def _order_terms(order_by: str | Iterable[str]) -> list[str]:
    terms = order_by.split(",") if isinstance(order_by, str) else list(order_by)
    if not terms:
        raise ValueError("order_by must name at least one column")
    out = []
    for term in terms:
        match = _ORDER_TERM.match(term) if isinstance(term, str) else None
        if match is None:
            raise ValueError(f"order_by term {term!r} is not 'column' or 'column ASC|DESC'")
        column, direction = match.groups()
        out.append(identifier(column, "column") + (f" {direction.upper()}" if direction else ""))
    return out
