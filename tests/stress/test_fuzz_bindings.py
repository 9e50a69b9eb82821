"""Fuzz: bindings of every Python type and shape, through the connection and the pool.

Each example draws a statement with one to three placeholders (``?``,
``?2, ?1``, ``:name``, ``@name``) and bindings of any shape (a tuple, a
list, a dict, a str or bytes taken as a sequence, ``None``, a bare scalar,
too many, too few, missing or extra names) holding values of any type. An
oracle written from APSW's binding rules (what the README's *Errors* section
points to) says what must happen: either the values are stored, and then
reading the row back gives them exactly (type and sign included, after
APSW's documented conversions: ``bool`` and ``int`` subclasses become
``int``, ``float`` subclasses ``float``, contiguous buffers ``bytes``, NaN SQL NULL),
or the call fails with the one documented type APSW raises for the first
bad binding, and nothing is written. Both go through the real stack:
``INSERT ... RETURNING`` on the worker, and ``SELECT ?`` that the inline
fast path runs on the loop thread once it has learnt the statement.

The pool scenario runs ``pool.executemany`` with a few rows where one may be
bad: all rows, or none of them (the README's "all or none").
"""

from __future__ import annotations

import array
import datetime
import decimal
import enum
import fractions
import math
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import apsw
import pytest
from hypothesis import given
from hypothesis import strategies as st

import aiolite
from tests.frameworks import Framework
from tests.stress import fuzz_support as fuzz
from tests.stress.conftest import Figures

pytestmark = pytest.mark.timeout(600)


class Color(enum.IntEnum):
    RED = 1


class Mode(enum.StrEnum):
    FAST = "fast"


class Real(float):
    pass


class Text(str):
    pass


_SURROGATES = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2)

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(),  # huge ones too
    st.sampled_from([2**63, -(2**63) - 1, 2**64, -(2**200)]),
    st.floats(),  # nan, inf, -0.0
    st.text(st.characters(exclude_categories=()), max_size=8),  # NUL and surrogates
    st.tuples(st.text(max_size=3), _SURROGATES).map("".join),
    st.binary(max_size=8),
    st.binary(max_size=8).map(bytearray),
    st.binary(max_size=8).map(memoryview),
    st.binary(min_size=2, max_size=8).map(lambda b: memoryview(b)[::2]),  # not contiguous
    st.lists(st.integers(-5, 5), max_size=3).map(lambda xs: array.array("i", xs)),
    st.sampled_from(
        [
            Color.RED, Mode.FAST, Real(2.5), Real("-0.0"), Text("sub"), object(),
            decimal.Decimal("1.5"), fractions.Fraction(1, 3), 1j, datetime.date(2024, 1, 2),
            datetime.datetime(2024, 1, 2, 3, 4), uuid.UUID(int=7), {1, 2}, frozenset(),
            [1], (1,), {"a": 1}, ..., len,
        ]
    ),
)  # fmt: skip


class Refused(Exception):
    """What the oracle expects instead of a stored row: ``kind`` is the exception type."""

    def __init__(self, kind: type[BaseException]) -> None:
        super().__init__(kind.__name__)
        self.kind = kind


def stored(value: Any) -> Any:
    """What APSW stores for ``value`` (and so what reading it back gives), or Refused."""
    if value is None:
        return None
    if isinstance(value, int):  # bool, IntEnum
        if not -(2**63) <= value < 2**63:
            raise Refused(OverflowError)
        return int(value)
    if isinstance(value, float):
        return None if math.isnan(value) else float(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Refused(UnicodeEncodeError) from None
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview | array.array):
        if not memoryview(value).c_contiguous:
            raise Refused(BufferError)
        return memoryview(value).tobytes()
    raise Refused(TypeError)


# ------------------------------------------------------------ statement shapes

STYLES = ("qmark", "numbered", "colon", "at")


def placeholders(style: str, n: int) -> list[str]:
    """The placeholders for columns c0..c(n-1), in column order."""
    if style == "qmark":
        return ["?"] * n
    if style == "numbered":
        return [f"?{n - i}" for i in range(n)]  # reversed: c0 takes the last value
    prefix = ":" if style == "colon" else "@"
    return [f"{prefix}p{i}" for i in range(n)]


def bound_values(style: str, n: int, bindings: Any, many: bool = False) -> list[Any]:
    """The value each column gets from ``bindings``, as APSW binds them, or Refused.

    APSW checks the count first, then binds parameter 1, 2, ... in order:
    the first one that is missing or cannot be stored decides the error.
    """
    if bindings is None:  # executemany wants a dict or sequence per row; execute no bindings
        raise Refused(TypeError if many else apsw.BindingsError)
    if isinstance(bindings, Mapping):
        if style == "qmark":
            raise Refused(apsw.BindingsError)  # a '?' has no name to look up
        by_parameter = []
        for k in range(1, n + 1):
            name = str(k) if style == "numbered" else f"p{k - 1}"  # '?2' is named '2'
            if name not in bindings:
                raise Refused(KeyError)
            by_parameter.append(stored(bindings[name]))
    elif not isinstance(bindings, tuple | list | str | bytes):
        raise Refused(TypeError)
    elif len(bindings) != n:
        raise Refused(apsw.BindingsError)
    else:
        by_parameter = [stored(value) for value in bindings]
    if style == "numbered":  # column i holds parameter n - i
        return [by_parameter[n - 1 - i] for i in range(n)]
    return by_parameter


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, int, Any]:
    """A placeholder style, a count, and bindings that may or may not fit them."""
    style = draw(st.sampled_from(STYLES))
    n = draw(st.integers(1, 3))
    size = draw(st.sampled_from([n, n, n, n - 1, n + 1, 0]))
    values = draw(st.lists(VALUES, min_size=size, max_size=size))
    shape = draw(
        st.sampled_from(
            ["tuple", "tuple", "list", "dict", "dict", "none", "scalar", "str", "bytes"]
        )
    )
    bindings: Any
    if shape == "tuple":
        bindings = tuple(values)
    elif shape == "list":
        bindings = values
    elif shape == "dict":
        keys = [str(n - i) if style == "numbered" else f"p{i}" for i in range(n)]
        if draw(st.booleans()):
            keys[draw(st.integers(0, n - 1))] = draw(st.sampled_from(["P0", "p9", "", ":p0", "?1"]))
        bindings = dict(zip(keys, values, strict=False))
        if draw(st.booleans()):
            bindings["extra"] = draw(VALUES)
    elif shape == "none":
        bindings = None
    elif shape == "scalar":
        bindings = draw(st.sampled_from([1, 2.5, object(), b"", True]))
        if isinstance(bindings, bytes):  # b"" is a sequence of no values
            bindings = 7
    elif shape == "str":
        bindings = draw(st.text(min_size=size, max_size=size))
    else:
        bindings = draw(st.binary(min_size=size, max_size=size))
    return style, n, bindings


def oracle(style: str, n: int, bindings: Any, many: bool = False) -> list[Any] | Refused:
    try:
        return bound_values(style, n, bindings, many)
    except Refused as refused:
        return refused


# ----------------------------------------------------------------- scenarios

TABLE = "CREATE TABLE rt(id INTEGER PRIMARY KEY, c0, c1, c2)"  # no affinity: stored as given


def insert_sql(style: str, n: int) -> str:
    columns = ", ".join(f"c{i}" for i in range(n))
    return f"INSERT INTO rt({columns}) VALUES ({', '.join(placeholders(style, n))}) RETURNING id"


async def _insert_then_read(
    db: aiolite.Connection[Any], style: str, n: int, bindings: Any
) -> list[Any] | BaseException:
    try:
        rowid = await (await db.execute(insert_sql(style, n), bindings)).get
    except Exception as exc:
        return exc
    row = await (await db.execute("SELECT c0, c1, c2 FROM rt WHERE id = ?", (rowid,))).get
    return list(row[:n])


async def _select(
    db: aiolite.Connection[Any], style: str, n: int, bindings: Any
) -> list[Any] | BaseException:
    try:
        row = await (await db.execute(f"SELECT {', '.join(placeholders(style, n))}", bindings)).get
    except Exception as exc:
        return exc
    return list(row) if n > 1 else [row]


async def _state(db: aiolite.Connection[Any]) -> tuple[int, list[Any]]:
    count = await (await db.execute("SELECT count(*) FROM rt")).get
    return count, await (await db.execute(fuzz.SENTINEL_SELECT)).fetchall()


def judge(
    api: str, expected: list[Any] | Refused, outcome: list[Any] | BaseException, figures: Figures
) -> None:
    """The outcome must be the oracle's: the same values exactly, or the same error type."""
    if isinstance(outcome, BaseException):
        fuzz.expect_documented(api, outcome, figures)
        assert isinstance(expected, Refused), f"refused what APSW stores: {outcome!r}"
        assert type(outcome) is expected.kind, f"{outcome!r}, expected {expected.kind.__name__}"
    else:
        assert not isinstance(expected, Refused), f"stored what APSW refuses ({expected})"
        assert fuzz.same_key(outcome) == fuzz.same_key(expected), f"{outcome!r} != {expected!r}"


async def test_fuzz_bindings_on_a_connection(
    fw: Framework, tmp_path: Path, figures: Figures
) -> None:
    figures.rows_lost = 0
    async with aiolite.connect(str(tmp_path / "bindings.db")) as db:
        await fuzz.plant_sentinel(db)
        await db.execute(TABLE)
        _, planted = await _state(db)

        def examples(portal: fuzz.Portal) -> None:
            @fuzz.fuzz_settings(150, 5000)
            @given(call=calls(), how=st.sampled_from(["insert", "select"]))
            def example(call: tuple[str, int, Any], how: str) -> None:
                style, n, bindings = call
                figures.ops += 1
                expected = oracle(style, n, bindings)
                count, _ = portal(_state, db)
                run = _insert_then_read if how == "insert" else _select
                outcome = portal(run, db, style, n, bindings)
                judge("Connection.execute", expected, outcome, figures)
                after, sentinel = portal(_state, db)
                written = 1 if how == "insert" and not isinstance(outcome, BaseException) else 0
                assert after == count + written, "a refused insert wrote a row"
                changed = fuzz.rows_changed(planted, sentinel)
                fuzz.count_lost(figures, changed, call)

            example()

        await fuzz.drive(fw, examples)
    figures.notes = "every Python type and binding shape; INSERT+SELECT and inline SELECT"


async def _executemany(
    pool: aiolite.Pool, style: str, n: int, rows: list[Any]
) -> tuple[int, list[list[Any]] | BaseException]:
    start = await pool.fetchval("SELECT coalesce(max(id), 0) FROM rt")
    sql = insert_sql(style, n).removesuffix(" RETURNING id")
    try:
        await pool.executemany(sql, rows)
    except Exception as exc:
        return start, exc
    columns = ", ".join(f"c{i}" for i in range(n))
    found = await pool.fetchall(f"SELECT {columns} FROM rt WHERE id > ? ORDER BY id", (start,))
    return start, [list(row) for row in found]


@st.composite
def batches(draw: st.DrawFn) -> tuple[str, int, list[Any]]:
    """Several rows for one statement: well-formed bindings, any values, maybe one bad shape."""
    style = draw(st.sampled_from(STYLES))
    n = draw(st.integers(1, 3))
    rows: list[Any] = []
    for _ in range(draw(st.integers(1, 5))):
        values = draw(st.lists(VALUES, min_size=n, max_size=n))
        named = style in ("colon", "at")
        rows.append({f"p{i}": v for i, v in enumerate(values)} if named else tuple(values))
    if draw(st.booleans()):
        _, _, odd = draw(calls())
        rows.insert(draw(st.integers(0, len(rows))), odd)
    return style, n, rows


@pytest.mark.frameworks("asyncio", "trio")
async def test_fuzz_bindings_pool_executemany_all_or_none(
    fw: Framework, tmp_path: Path, figures: Figures
) -> None:
    figures.rows_lost = 0
    path = str(tmp_path / "bindings-pool.db")
    await fuzz.plant_sentinel_in(path)
    async with aiolite.open_pool(path, readers=1) as pool:
        await pool.execute(TABLE)
        planted = await pool.fetchall(fuzz.SENTINEL_SELECT)

        def examples(portal: fuzz.Portal) -> None:
            @fuzz.fuzz_settings(80, 3000)
            @given(batch=batches())
            def example(batch: tuple[str, int, list[Any]]) -> None:
                style, n, rows = batch
                figures.ops += 1
                expected: list[Any] | Refused = []
                for row in rows:
                    one = oracle(style, n, row, many=True)
                    if isinstance(one, Refused):
                        expected = one
                        break
                    assert isinstance(expected, list)
                    expected.append(one)
                start, outcome = portal(_executemany, pool, style, n, rows)
                if isinstance(outcome, BaseException):
                    judge("Pool.execute", expected, outcome, figures)
                    left = portal(pool.fetchval, "SELECT count(*) FROM rt WHERE id > ?", (start,))
                    assert left == 0, "a refused executemany wrote rows"
                else:
                    judge("Pool.execute", expected, outcome, figures)
                changed = fuzz.rows_changed(planted, portal(pool.fetchall, fuzz.SENTINEL_SELECT))
                fuzz.count_lost(figures, changed, rows)

            example()

        await fuzz.drive(fw, examples)
    figures.notes = "pool.executemany, one bad row among good ones: all rows or none"
