"""Fuzz: ``aiolite.KV`` keys and values of any type, through every write and read.

An oracle written from the README's *KV store* rules says which keys and
values are storable: ``str`` keys and JSON values (``None``, ``bool``,
``int`` of any size, finite ``float``, ``str`` without lone surrogates,
``list``, ``dict`` with such ``str`` keys, nested at most 254 deep) or
``bytes`` as a whole value; exact types only (no tuples, sets, subclasses).
Each example runs one operation (``set``, ``update`` from a dict or from
pairs with possibly one bad item among good ones, ``get``, ``contains``,
``delete``, ``delete_many``) and checks:

- accepted: what ``get`` returns is what was given, type for type (``-0.0``
  stays ``-0.0``, ``2**70`` stays an int, dict order kept), and so is what a
  second codec reads from the stored text (the README: each codec reads
  what the other wrote);
- refused: ``TypeError`` (``KeyError`` for deleting a missing key), and the
  table is exactly as before: one bad item in an ``update`` writes nothing;
- always: the sentinel keys hold their values.

Each example deletes what it wrote, so the table stays small and a full
snapshot of it is cheap.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import math
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import aiolite
from aiolite._kv.codec import Codec
from tests.frameworks import Framework
from tests.stress import fuzz_support as fuzz
from tests.stress.conftest import Figures

pytestmark = pytest.mark.timeout(600)

MAX_NESTING = 254


class Level(enum.IntEnum):
    LOW = 1


class Name(str):
    pass


class Ratio(float):
    pass


_ANY_CHARACTER = st.characters(exclude_categories=())  # NUL and lone surrogates too
TEXTS = st.one_of(
    st.text(max_size=8),
    st.text(_ANY_CHARACTER, max_size=8),
    st.sampled_from(["", "\x00", "\ud800", "a\udfffb", "é", "🎉", "'; DROP TABLE data; --"]),
)
_ODD_SCALARS = st.sampled_from(
    [
        Level.LOW, Name("n"), Ratio(0.5), decimal.Decimal("1.5"), datetime.date(2024, 1, 2),
        uuid.UUID(int=3), 1j, object(), frozenset({1}), ...,
    ]
)  # fmt: skip
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # any size
    st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**30, -(10**19)]),
    st.floats(),  # NaN, infinities, -0.0
    st.sampled_from([-0.0, 0.0, 1e308, 5e-324, 1e16]),
    TEXTS,
    st.binary(max_size=6),  # storable only as a whole value
    _ODD_SCALARS,
)
DICT_KEYS = st.one_of(TEXTS, st.integers(-3, 3), st.none(), st.booleans(), st.just(Name("k")))


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(DICT_KEYS, children, max_size=4),
        st.lists(children, max_size=3).map(tuple),
        st.lists(st.integers(), max_size=3).map(set),
    )


def _nested(levels: int) -> Any:
    value: Any = "bottom"
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


VALUES = st.one_of(
    st.recursive(LEAVES, _containers, max_leaves=10),
    st.integers(MAX_NESTING - 1, MAX_NESTING + 2).map(_nested),
)
KEYS = st.one_of(
    TEXTS, TEXTS, st.integers(), st.binary(max_size=3), st.none(), st.just(Name("k"))
).filter(lambda key: not (isinstance(key, str) and key.startswith("sentinel:")))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def key_ok(key: Any) -> bool:
    return type(key) is str and _encodable(key)


def value_ok(value: Any, depth: int = 0) -> bool:
    """The README's rule for a storable value, written out independently of the codec."""
    kind = type(value)
    if value is None or kind is bool or kind is int:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is str:
        return _encodable(value)
    if kind is bytes:
        return depth == 0
    if kind is list or kind is dict:
        if depth >= MAX_NESTING:
            return False
        if kind is dict:
            if not all(key_ok(key) for key in value):
                return False
            value = value.values()
        return all(value_ok(item, depth + 1) for item in value)
    return False


# ------------------------------------------------------------------ operations

SENTINELS: dict[str, Any] = {
    "sentinel:dict": {"name": "Ada", "tags": ["x", 1, None], "deep": {"z": -0.0}},
    "sentinel:big": 2**70,
    "sentinel:bytes": b"\x00\xff",
    "sentinel:text": "x'); DROP TABLE data; --",
    "sentinel:false": False,
}


@st.composite
def operations(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(
        st.sampled_from(
            ["set", "set", "update", "update_pairs", "get", "contains", "delete", "delete_many"]
        )
    )
    if kind == "set":
        return kind, (draw(KEYS), draw(VALUES))
    if kind.startswith("update"):
        good = draw(
            st.lists(
                st.tuples(TEXTS.filter(key_ok).map(lambda k: "u:" + k), VALUES.filter(value_ok)),
                max_size=4,
            )
        )
        if draw(st.booleans()):  # one bad item, or an arbitrary one, among good ones
            good.insert(draw(st.integers(0, len(good))), (draw(KEYS), draw(VALUES)))
        if kind == "update_pairs" and draw(st.booleans()):
            good.append(draw(st.sampled_from([("k",), ("k", 1, 2), ["k", 1], "kv", 7])))
        return kind, good
    if kind == "delete_many":
        return kind, draw(st.lists(KEYS, max_size=4))
    return kind, draw(KEYS)


def expected_outcome(kind: str, argument: Any) -> tuple[str, dict[str, Any]]:
    """('ok', {key: value written}) or ('refused', {}): what the README says must happen."""
    if kind == "set":
        key, value = argument
        return ("ok", {key: value}) if key_ok(key) and value_ok(value) else ("refused", {})
    if kind.startswith("update"):
        written: dict[str, Any] = {}
        for pair in argument:
            if type(pair) is not tuple or len(pair) != 2:
                return "refused", {}
            key, value = pair
            if not (key_ok(key) and value_ok(value)):
                return "refused", {}
            written[key] = value  # a repeated key: the last value wins, as in dict.update
        return "ok", written
    if kind == "delete_many":
        return ("ok", {}) if all(key_ok(key) for key in argument) else ("refused", {})
    return ("ok", {}) if key_ok(argument) else ("refused", {})


async def _run(kv: aiolite.KV, kind: str, argument: Any) -> Any:
    if kind == "set":
        await kv.set(*argument)
    elif kind == "update":
        mapping = dict(argument) if all(type(p) is tuple and len(p) == 2 for p in argument) else {}
        if len(mapping) != len(argument):  # repeated keys or odd items: give pairs as they are
            await kv.update(argument)
        else:
            await kv.update(mapping)
    elif kind == "update_pairs":
        await kv.update(iter(argument))
    elif kind == "get":
        return await kv.get(argument, "missing")
    elif kind == "contains":
        return await kv.contains(argument)
    elif kind == "delete":
        await kv.delete(argument)
    else:
        return await kv.delete_many(argument)
    return None


async def _snapshot(kv: aiolite.KV) -> list[tuple[str, Any]]:
    """The stored table itself (raw text and BLOBs), bypassing any cache."""
    return await kv.pool.fetchall("SELECT key, value FROM data ORDER BY key")


async def _read_back(kv: aiolite.KV, keys: list[str]) -> list[Any]:
    return [await kv.get(key, "missing") for key in keys]


async def _forget(kv: aiolite.KV, keys: list[str]) -> None:
    await kv.delete_many(keys)


@pytest.mark.frameworks("asyncio", "trio", "anyio-trio")
@pytest.mark.parametrize(("codec", "cache"), [("orjson", False), ("json", True)])
async def test_fuzz_kv_keys_and_values(
    fw: Framework, tmp_path: Path, figures: Figures, codec: str, cache: bool
) -> None:
    figures.rows_lost = 0
    other = Codec("json" if codec == "orjson" else "orjson")
    async with aiolite.KV(str(tmp_path / "kv.db"), codec=codec, cache=cache, readers=1) as kv:
        await kv.update(SENTINELS)
        planted = await _snapshot(kv)
        sentinel_keys = list(SENTINELS)

        def examples(portal: fuzz.Portal) -> None:
            @fuzz.fuzz_settings(120, 4000)
            @given(operation=operations())
            def example(operation: tuple[str, Any]) -> None:
                kind, argument = operation
                figures.ops += 1
                verdict, written = expected_outcome(kind, argument)
                before = portal(_snapshot, kv)
                api = "KV.delete" if kind == "delete" else "KV"
                error: Exception | None = None
                try:
                    portal(_run, kv, kind, argument)
                except Exception as exc:
                    error = exc
                if error is None:
                    assert verdict == "ok", f"{kind} accepted what the README refuses"
                else:
                    fuzz.expect_documented(api, error, figures)
                    if verdict == "refused":
                        assert type(error) is TypeError, f"{kind}: {error!r}, not TypeError"
                    else:  # only deleting a key that is not there may fail
                        assert (kind, type(error)) == ("delete", KeyError), f"{kind}: {error!r}"
                    assert portal(_snapshot, kv) == before, f"a refused {kind} wrote"
                keys = list(written)
                back = portal(_read_back, kv, keys)
                assert fuzz.same_key(back) == fuzz.same_key(list(written.values())), (back, written)
                raw = dict(portal(_snapshot, kv))
                for key, value in written.items():  # the other codec reads the same value
                    assert fuzz.same_key(other.decode(raw[key])) == fuzz.same_key(value)
                portal(_forget, kv, keys)
                now = portal(_snapshot, kv)
                changed = fuzz.rows_changed(planted, now)
                fuzz.count_lost(figures, changed, operation)
                assert fuzz.same_key(portal(_read_back, kv, sentinel_keys)) == fuzz.same_key(
                    list(SENTINELS.values())
                )

            example()

        await fuzz.drive(fw, examples)
    figures.notes = f"codec={codec}, cache={cache}: set/update/get/contains/delete(_many)"
