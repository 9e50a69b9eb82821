"""How KV values are stored: JSON text, or a BLOB for ``bytes``.

The rule is *exact round trips*: what ``get`` returns equals what ``set``
was given, with the same types all the way down. So a value is accepted
only if it is made of ``None``, ``bool``, ``int`` (any size), finite
``float``, ``str`` (valid Unicode, no lone surrogates), ``list`` and
``dict`` with ``str`` keys; or it is ``bytes`` at the top level, stored as
a BLOB. Everything else is a ``TypeError`` before anything is written:
tuples (JSON would turn them into lists), sets, subclasses (an ``IntEnum``
would come back as a plain int), NaN and infinities (not JSON), objects
that a codec would quietly stringify (datetimes, UUIDs, dataclasses).

JSON is encoded with orjson when it is installed (``pip install
'aiolite[kv]'``), else with the standard library; both write the same
kind of JSON text, so a database written with one reads back with the
other. orjson cannot hold integers beyond 64 bits, so values with such
integers are encoded by the standard library, and any text holding a run of
19 or more digits is decoded by it too, so big integers never pass through
a float. The format is the one AsyncNanaSQLite uses (``key TEXT PRIMARY KEY,
value TEXT`` holding JSON), so its files open here, and JSON values written
here open there.
"""

from __future__ import annotations

import importlib
import json
import math
import re
from collections.abc import Callable
from typing import Any

orjson: Any = None
"""The orjson module once a codec has looked for it, else None.

It is imported when the first KV store opens, not with ``import aiolite``:
it costs a few milliseconds of start-up that programs without a KV store
should not pay.
"""
_looked_for_orjson = False


def _have_orjson() -> bool:
    """Import orjson on first use; whether it is installed."""
    global orjson, _looked_for_orjson
    if not _looked_for_orjson:
        try:
            orjson = importlib.import_module("orjson")
        except ImportError:  # pragma: no cover - exercised by the stdlib codec tests
            orjson = None
        _looked_for_orjson = True
    return orjson is not None


_BIG_NUMBER = re.compile(r"\d{19}")
_SCALARS = (str, int, bool, type(None))
_MAX_DEPTH = 254
"""Most lists/dicts nested in one another: what orjson can write (it refuses 255).

The same limit for both codecs, so what one accepts the other does too.
"""


class Codec:
    """Encodes values for the KV table and decodes them back.

    ``Codec("orjson")`` or ``Codec("json")``; ``Codec()`` picks orjson when
    it is installed.
    """

    __slots__ = ("_dumps", "_loads", "_texts", "name")

    def __init__(self, name: str | None = None) -> None:
        if name is None:
            name = "orjson" if _have_orjson() else "json"
        if name == "orjson":
            if not _have_orjson():
                raise ValueError("codec 'orjson' needs orjson: pip install 'aiolite[kv]'")
            self._dumps: Callable[[Any], str] = _orjson_dumps
            self._loads: Callable[[str], Any] = _orjson_loads
        elif name == "json":
            self._dumps = _json_dumps
            self._loads = _json_loads
        else:
            raise ValueError(f"codec must be 'orjson' or 'json', not {name!r}")
        self.name = name
        self._texts = name == "json"  # orjson refuses lone surrogates by itself

    def encode(self, value: Any) -> str | bytes:
        """The stored form of ``value``; TypeError if it cannot round-trip exactly."""
        kind = type(value)
        if kind is bytes:
            return value  # type: ignore[no-any-return]
        if kind is str:
            if self._texts:
                _check_text(value)
        elif kind is float:
            if not math.isfinite(value):
                raise TypeError(f"{value!r} is not JSON: NaN and infinities cannot be stored")
        elif kind in (dict, list):
            _check_tree(value, 0, self._texts)
        elif kind not in _SCALARS:
            raise TypeError(_refusal(value))
        return self._dumps(value)

    def decode(self, stored: str | bytes) -> Any:
        if type(stored) is bytes:
            return stored
        return self._loads(stored)  # type: ignore[arg-type]


def _refusal(value: Any) -> str:
    kind = type(value)
    hint = " (use a list)" if kind is tuple else ""
    return (
        f"a KV value must be JSON (None, bool, int, float, str, list, dict with str keys) "
        f"or bytes, not {kind.__name__}{hint}"
    )


def _check_text(text: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise TypeError("a str holding a lone surrogate cannot be stored as UTF-8") from None


def _check_tree(value: Any, depth: int, texts: bool) -> None:
    """Raise TypeError unless ``value`` (a dict or list) is exact JSON all the way down.

    Written for speed (it runs for every value stored): no call per scalar.
    ``texts`` also checks strings for lone surrogates (orjson refuses them
    itself, so the orjson path skips that).
    """
    if depth >= _MAX_DEPTH:  # depth counts from 0: this is container number depth + 1
        raise TypeError(f"the value nests more than {_MAX_DEPTH} lists or dicts deep")
    if type(value) is dict:
        for key in value:
            if type(key) is not str:
                raise TypeError(f"dict keys must be str to round-trip as JSON, not {key!r}")
            if texts and not key.isascii():
                _check_text(key)
        items = value.values()
    else:
        items = value
    for item in items:
        kind = type(item)
        if kind is str:
            if texts and not item.isascii():
                _check_text(item)
        elif kind is int or kind is bool or item is None:
            pass
        elif kind is float:
            if item - item != 0:  # NaN and the infinities
                raise TypeError(f"{item!r} is not JSON: NaN and infinities cannot be stored")
        elif kind is dict or kind is list:
            _check_tree(item, depth + 1, texts)
        elif kind is bytes:
            raise TypeError("bytes can be stored only as a whole value, not inside JSON")
        else:
            raise TypeError(_refusal(item))


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _json_loads(text: str) -> Any:
    return json.loads(text)


def _orjson_dumps(value: Any) -> str:
    try:
        text: str = orjson.dumps(value).decode()
    except TypeError as exc:
        if "64-bit" not in str(exc):
            raise TypeError(f"cannot be stored as JSON: {exc}") from None
        # An integer beyond 64 bits: the standard library holds any size. But
        # orjson stopped at that integer, before seeing every str, and the
        # standard library writes lone surrogates through: check them here.
        if type(value) is dict or type(value) is list:
            _check_tree(value, 0, True)
        return _json_dumps(value)
    return text


def _orjson_loads(text: str) -> Any:
    if _BIG_NUMBER.search(text) is not None:
        return json.loads(text)
    return orjson.loads(text)


def check_key(key: Any) -> str:
    """``key`` if it is a storable ``str`` key, else TypeError."""
    if type(key) is not str:
        raise TypeError(f"KV keys must be str, not {type(key).__name__}")
    _check_text(key)
    return key
