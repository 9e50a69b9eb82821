"""Fuzz: names and clauses for the table helpers (``create_table``, ``sql_insert``, ``query``).

Names are drawn from plain names, SQL keywords, very long names, and text
with quotes, brackets, backticks, semicolons, spaces, comments, unicode,
NUL, the empty string, ``x; DROP TABLE sentinel_7d --`` and friends, and
non-``str`` objects (``str`` subclasses included). The README's rule is the
oracle: a plain name (letters, digits, ``_``, not starting with a digit) is
used literally, quoted; anything else is a ``ValueError`` before any SQL
runs. Each example then checks:

- a created table has exactly the columns asked for, under exactly those
  names; a row inserted through ``sql_insert`` comes back from ``query``
  value for value (the columns have no type affinity, so nothing converts);
- ``where`` (SQL text), ``order_by`` (terms), ``limit`` (an int >= 0) and
  ``parameters`` either work or fail with a documented error;
- never an injection: the sentinel table reads as planted, and the schema
  (``sqlite_schema``) is unchanged except for the intended table and its
  own indexes, which each example drops again.

Names that are plain but belong to the database already (``data``, the KV
table, and the sentinel, in any letter case) are left out: writing to them
through the helpers would be a legitimate use, not an injection.
"""

from __future__ import annotations

import collections
import re
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import aiolite
from tests.frameworks import Framework
from tests.stress import fuzz_support as fuzz
from tests.stress.conftest import Figures

pytestmark = pytest.mark.timeout(600)

PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""The README's plain name, written out here independently of the library."""

TAKEN = {"data", fuzz.SENTINEL}
TABLES_MADE: collections.Counter[str] = collections.Counter()


class Name(str):
    pass


_ANY_CHARACTER = st.characters(exclude_categories=())
_PLAIN_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True)
NAMES = st.one_of(
    _PLAIN_NAMES,
    _PLAIN_NAMES.map(Name),
    st.sampled_from(
        [
            "select",
            "TABLE",
            "from",
            "where",
            "order",
            "group",
            "null",
            "rowid",
            "oid",
            "_rowid_",
            "sqlite_stats",
            "sqlite_master",
            "sqlite_sequence",
            "values",
            "index",
            "key",
            "default",
            "_",
            "__",
            "a1",
        ]
    ),
    st.integers(200, 3000).map(lambda n: "t" * n),  # very long
    st.sampled_from(
        [
            "",
            " ",
            "1abc",
            "a b",
            "a-b",
            "a.b",
            'a"b',
            "a'b",
            "a`b",
            "[a]",
            "a]b",
            "a;b",
            "x; DROP TABLE sentinel_7d --",
            'x"; DROP TABLE sentinel_7d; --',
            "x -- c",
            "x /* c */",
            "é",
            "naïve",
            "a\x00b",
            "a\n",
            "\ta",
            "\ud800",
            "x)",
            "x(",
            "*",
            "a,b",
            "?",
            ":a",
            "$a",
        ]
    ),
    st.text(_ANY_CHARACTER, max_size=12),
    st.tuples(_PLAIN_NAMES, st.sampled_from([";", '"', "'", " ", "--", "]", ")", "\x00"])).map(
        "".join
    ),
    st.sampled_from([None, 3, 2.5, b"abc", ("a",), ["a"]]),
).filter(lambda name: not (isinstance(name, str) and name.lower() in TAKEN))
DEFINITIONS = st.sampled_from(
    [
        "", "", "", "BLOB",  # no type affinity: values come back as given
        "TEXT", "INTEGER", "REAL NOT NULL DEFAULT 0", "TEXT DEFAULT 'x;y'", "INT CHECK (1 > 0)",
        "TEXT); DROP TABLE sentinel_7d; --", "TEXT, b TEXT", "TEXT DEFAULT 'x", "TEXT (",
        "TEXT /* c */", "REFERENCES sentinel_7d(k)", "é", "TEXT\x00", "UNIQUE",
    ]
)  # fmt: skip
_EXACT = {"", "BLOB"}
ROWID_NAMES = {"rowid", "oid", "_rowid_"}
VALUES = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.binary(max_size=6),
    st.sampled_from(["'); DROP TABLE sentinel_7d; --", 2**64, "\ud800", object()]),
)
ORDER_TERMS = st.one_of(
    st.sampled_from(["rowid", "rowid DESC", " rowid asc ", "x; DROP TABLE sentinel_7d", "", "1"]),
    NAMES.filter(lambda n: isinstance(n, str)),
    st.tuples(
        NAMES.filter(lambda n: isinstance(n, str)), st.sampled_from(["", " ASC", " desc", " up"])
    ).map("".join),
)
WHERES = st.one_of(
    st.none(),
    st.just("rowid = ?"),
    st.sampled_from(
        [
            "1", "1 = 1 OR 1", "rowid > :n", "x = 'a;b'", "1; DROP TABLE sentinel_7d",
            "1 -- x", "1 /* x */", " ", "", "nope = 1", "(SELECT count(*) FROM sentinel_7d) > 0",
            "rowid IN (SELECT k FROM sentinel_7d)", "1) UNION SELECT * FROM sentinel_7d --",
        ]
    ),
    st.text(_ANY_CHARACTER, max_size=10),
)  # fmt: skip
LIMITS = st.one_of(
    st.none(), st.integers(-3, 10**20), st.sampled_from([True, 1.5, "1", "1; DROP TABLE x", None])
)


def plain(name: Any) -> bool:
    return isinstance(name, str) and PLAIN.fullmatch(str.__str__(name)) is not None


def order_ok(order_by: Any) -> bool:
    """The README's rule for ``order_by``: plain names, each maybe followed by ASC or DESC."""
    terms = order_by.split(",") if isinstance(order_by, str) else list(order_by)
    if not terms:
        return False
    for term in terms:
        words = term.split() if isinstance(term, str) else []
        if not 1 <= len(words) <= 2 or not plain(words[0]):
            return False
        if len(words) == 2 and words[1].upper() not in ("ASC", "DESC"):
            return False
    return True


def where_ok(where: Any) -> bool:
    """The README's rule for ``where``: SQL text, without ';' or comments."""
    if where is None:
        return True
    if not isinstance(where, str) or not where.strip():
        return False
    return not any(mark in where for mark in (";", "--", "/*"))


# ---------------------------------------------------------------- the example

_MOSTLY_PLAIN = st.one_of(
    _PLAIN_NAMES.filter(lambda name: name.lower() not in TAKEN), NAMES
)  # so that whole tables (up to 3 columns, every name plain) get made often enough
_COLUMN_NAMES = _MOSTLY_PLAIN.filter(lambda name: name is None or isinstance(name, str | int))


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    columns = draw(st.dictionaries(_COLUMN_NAMES, DEFINITIONS, min_size=1, max_size=3))
    names = [name for name in columns if plain(name)]
    row: dict[Any, Any] = {}
    if names:
        for name in draw(st.lists(st.sampled_from(names), unique=True)):
            row[name] = draw(VALUES)
    if draw(st.booleans()):
        row[draw(_COLUMN_NAMES)] = draw(VALUES)
    selectable = st.sampled_from([*names, "rowid"]) | NAMES
    return {
        "table": draw(_MOSTLY_PLAIN),
        "columns": columns,
        "row": row,
        "selected": draw(st.none() | st.lists(selectable, max_size=3)),
        "where": draw(WHERES),
        "order_by": draw(st.none() | ORDER_TERMS | st.lists(ORDER_TERMS, max_size=3)),
        "limit": draw(LIMITS),
        "parameters": draw(st.sampled_from([None, (), (1,), {"n": 0}])),
    }


async def _schema(kv: aiolite.KV) -> list[Any]:
    return await kv.pool.fetchall(
        "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name"
    )


async def _call(coroutine_function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await coroutine_function(*args, **kwargs)
    except Exception as exc:
        return exc


async def _table_columns(kv: aiolite.KV, table: str) -> list[str]:
    rows = await kv.pool.fetchall("SELECT name FROM pragma_table_info(?) ORDER BY cid", (table,))
    return [name for (name,) in rows]


async def _drop(kv: aiolite.KV, table: str) -> None:
    await kv.pool.execute(f'DROP TABLE IF EXISTS "{table}"')


def _ok(api: str, outcome: Any, figures: Figures) -> bool:
    if isinstance(outcome, BaseException):
        fuzz.expect_documented(api, outcome, figures)
        return False
    return True


@pytest.mark.frameworks("asyncio", "trio", "anyio-asyncio")
async def test_fuzz_table_helper_identifiers(
    fw: Framework, tmp_path: Path, figures: Figures
) -> None:
    figures.rows_lost = 0
    path = str(tmp_path / "helpers.db")
    await fuzz.plant_sentinel_in(path)
    async with aiolite.KV(path) as kv:
        planted = await kv.pool.fetchall(fuzz.SENTINEL_SELECT)
        schema = await _schema(kv)

        def examples(portal: fuzz.Portal) -> None:
            @fuzz.fuzz_settings(100, 3000)
            @given(case=cases())
            def example(case: dict[str, Any]) -> None:
                figures.ops += 1
                table = case["table"]
                try:
                    _check_example(portal, kv, case, schema, figures)
                finally:  # whatever happened, the next example starts from the same schema
                    if plain(table) and not table.lower().startswith("sqlite_"):
                        portal(_drop, kv, str.__str__(table))
                changed = fuzz.rows_changed(planted, portal(kv.pool.fetchall, fuzz.SENTINEL_SELECT))
                fuzz.count_lost(figures, changed, case)

            example()

        await fuzz.drive(fw, examples)
    figures.notes = (
        f"create_table / sql_insert / query: names, where, order_by, limit; "
        f"{TABLES_MADE[figures.scenario]} tables made and queried"
    )


def _check_example(
    portal: fuzz.Portal, kv: aiolite.KV, case: dict[str, Any], schema: list[Any], figures: Figures
) -> None:
    table, columns = case["table"], case["columns"]
    names_ok = plain(table) and all(plain(name) for name in columns)
    created = portal(_call, kv.create_table, table, columns)
    if not names_ok:
        assert isinstance(created, ValueError), f"{table!r}, {columns!r}: {created!r}"
    made = _ok("KV.create_table", created, figures)
    if made:
        TABLES_MADE[figures.scenario] += 1
        got = iter(portal(_table_columns, kv, str.__str__(table)))
        asked = [str.__str__(name) for name in columns]
        # each name literally, in order (a definition may add columns of its own)
        assert all(name in got for name in asked), asked
        _check_rows(portal, kv, case, figures)
    elif not plain(table):  # the helpers on this name must refuse before any SQL too
        for outcome in (
            portal(_call, kv.sql_insert, table, {"a": 1}),
            portal(_call, kv.query, table),
        ):
            assert isinstance(outcome, ValueError), f"{table!r}: {outcome!r}"
            fuzz.expect_documented("KV.create_table", outcome, figures)
    after = portal(_schema, kv)
    extra = [row for row in after if row not in schema]
    intended = str.__str__(table).lower() if made else None
    assert all(row[2].lower() == intended for row in extra), f"schema gained {extra}"
    assert all(row in after for row in schema), "schema lost an object"


def _check_rows(
    portal: fuzz.Portal, kv: aiolite.KV, case: dict[str, Any], figures: Figures
) -> None:
    """On a table that exists: insert the row, then query it back with fuzzed clauses."""
    table, row = case["table"], case["row"]
    inserted = portal(_call, kv.sql_insert, table, row)
    if not row or not all(plain(name) for name in row):
        assert isinstance(inserted, ValueError), f"sql_insert({row!r}): {inserted!r}"
    if _ok("KV.sql_insert", inserted, figures):
        shadowed = {str.__str__(n).lower() for n in case["columns"] if plain(n)} & ROWID_NAMES
        found = portal(_call, partial(kv.query, table, where="_rowid_ = ?", parameters=(inserted,)))
        assert _ok("KV.query", found, figures)
        if not shadowed:  # a column named rowid hides the real one
            assert len(found) == 1
            exact = [n for n in row if case["columns"].get(n, "?") in _EXACT]
            back = [found[0][str.__str__(n)] for n in exact]
            assert fuzz.same_key(back) == fuzz.same_key([row[n] for n in exact]), (back, row)
    where, parameters = case["where"], case["parameters"]
    selected, order_by, limit = case["selected"], case["order_by"], case["limit"]
    refused = (
        (selected is not None and (not selected or not all(plain(n) for n in selected)))
        or not where_ok(where)
        or (where is None and bool(parameters))
        or (order_by is not None and not order_ok(order_by))
        or (limit is not None and (type(limit) is not int or limit < 0))
    )
    query = partial(
        kv.query, table, columns=selected, where=where, parameters=parameters,
        order_by=order_by, limit=limit,
    )  # fmt: skip
    outcome = portal(_call, query)
    if refused:
        assert isinstance(outcome, ValueError), f"query accepted {case!r}: {outcome!r}"
    if _ok("KV.query", outcome, figures) and isinstance(limit, int):
        assert len(outcome) <= limit
