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
other. orjson cannot hold integers beyond 64 bits (it would read them as
floats), so values with such integers are encoded by the standard library,
and any text holding a run of 19 or more ASCII digits is decoded by it too,
so big integers never pass through a float. That run is found in linear
time by mapping every byte to digit-or-not (``bytes.translate``) and
searching the result for 19 digits in a row (``bytes.find``): about as
cheap as orjson's own parse, where a regular expression cost 40 times more.

Large values: a value whose stored form is longer than :data:`LARGE` is too
much work for the event-loop thread (the engine lets inline work hold the
loop for ``INLINE_BUDGET_SECONDS``, 0.5 ms), so the KV store encodes and
decodes it in a pool worker thread instead. :meth:`Codec.encode_here` tells
which values those are before encoding them, from a walk that stops as soon
as the value is known to be large. Both codecs code a dict or list larger
than :data:`PIECEWISE` (1 MiB) one top-level entry at a time
(:mod:`aiolite._kv.pieces`), so that the worker lets go of the GIL between
entries and the loop's thread gets its turns.

The format is the one AsyncNanaSQLite uses (``key TEXT PRIMARY KEY, value
TEXT`` holding JSON), so its files open here, and JSON values written here
open there.
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Callable
from typing import Any

from . import pieces

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


LARGE = 32 * 1024
"""Stored values longer than this (characters or bytes) are encoded and decoded off the loop.

Decoding 32 KiB of number-heavy JSON takes up to about 0.5 ms on a small
machine; string-heavy JSON far less. Values this large are rare enough that
a thread round trip (50-100 us) is cheap beside their codec work.
"""
PIECEWISE = 1 << 20
"""Larger dicts and lists are coded a top-level entry at a time (:mod:`aiolite._kv.pieces`).

Below it, one orjson call is over sooner than the interpreter would take
the GIL from a thread running Python (``sys.getswitchinterval()``, 5 ms), so
coding in pieces would only be slower; above it, one call would hold the
GIL, and the event loop, for as long as it takes.
"""
_ITEM_COST = 8
"""What one list item or dict entry counts for in :meth:`Codec.encode_here`'s estimate."""
_UNLIMITED = 1 << 62

_DIGIT_MAP = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
"""``bytes.translate`` table: every ASCII digit to ``0``, every other byte to a space."""
_DIGIT_RUN = b"0" * 19
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

    __slots__ = ("_texts", "dumps", "loads", "name")

    def __init__(self, name: str | None = None) -> None:
        if name is None:
            name = "orjson" if _have_orjson() else "json"
        if name == "orjson":
            if not _have_orjson():
                raise ValueError("codec 'orjson' needs orjson: pip install 'aiolite[kv]'")
            self.dumps: Callable[[Any], str] = _orjson_dumps
            """JSON text of a value :meth:`encode` has checked: every encode's JSON work.

            Wrap it (or :attr:`loads`) to observe the codec, e.g. which thread
            it runs in: the KV store calls them wherever it does that work.
            """
            self.loads: Callable[[str], Any] = _orjson_loads
            """The value of stored JSON text: every decode's JSON work."""
        elif name == "json":
            self.dumps = _json_dumps
            self.loads = _json_loads
        else:
            raise ValueError(f"codec must be 'orjson' or 'json', not {name!r}")
        self.name = name
        self._texts = name == "json"  # orjson refuses lone surrogates by itself

    def encode(self, value: Any) -> str | bytes:
        """The stored form of ``value``; TypeError if it cannot round-trip exactly."""
        stored = self._encode(value, _UNLIMITED)
        assert stored is not None  # (an unlimited budget is never exceeded)
        return stored

    def encode_here(self, value: Any) -> str | bytes | None:
        """``encode(value)``, or None when that is too much work for the event-loop thread.

        None means the value is estimated larger than :data:`LARGE` (counting
        its items and the length of its strings, and stopping as soon as the
        count passes it): encode it with :meth:`encode` in a worker thread.
        ``bytes`` are returned as they are (nothing to encode); the caller
        checks their length. TypeError as for :meth:`encode`.
        """
        return self._encode(value, LARGE)

    def _encode(self, value: Any, budget: int) -> str | bytes | None:
        kind = type(value)
        if kind is bytes:
            return value  # type: ignore[no-any-return]
        if kind is str:
            if len(value) > budget:
                return None
            if self._texts:
                _check_text(value)
        elif kind is float:
            if not math.isfinite(value):
                raise TypeError(f"{value!r} is not JSON: NaN and infinities cannot be stored")
        elif kind in (dict, list):
            left = _check_tree(value, 0, self._texts, budget)
            if left < 0:
                return None
            if budget - left > PIECEWISE:  # (only in a worker thread: encode_here stops sooner)
                return pieces.dumps(value, self.dumps)
        elif kind not in _SCALARS:
            raise TypeError(_refusal(value))
        return self.dumps(value)

    def decode(self, stored: str | bytes) -> Any:
        if type(stored) is bytes:
            return stored
        return self.loads(stored)  # type: ignore[arg-type]


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


def _check_tree(value: Any, depth: int, texts: bool, budget: int) -> int:
    """Raise TypeError unless ``value`` (a dict or list) is exact JSON all the way down.

    Written for speed (it runs for every value stored): no call per scalar.
    ``texts`` also checks strings for lone surrogates (orjson refuses them
    itself, so the orjson path skips that). ``budget`` is what is left of
    the size estimate (see :meth:`Codec.encode_here`); the walk returns what
    is left after ``value``, and stops with a negative number as soon as it
    is spent (so a huge value costs the loop no more than a small one).
    """
    if depth >= _MAX_DEPTH:  # depth counts from 0: this is container number depth + 1
        raise TypeError(f"the value nests more than {_MAX_DEPTH} lists or dicts deep")
    budget -= len(value) * _ITEM_COST
    if budget < 0:
        return budget
    if type(value) is dict:
        for key in value:
            if type(key) is not str:
                raise TypeError(f"dict keys must be str to round-trip as JSON, not {key!r}")
            budget -= len(key)
            if texts and not key.isascii():
                _check_text(key)
        items = value.values()
    else:
        items = value
    for item in items:
        kind = type(item)
        if kind is str:
            budget -= len(item)
            if texts and not item.isascii():
                _check_text(item)
        elif kind is int or kind is bool or item is None:
            pass
        elif kind is float:
            if item - item != 0:  # NaN and the infinities
                raise TypeError(f"{item!r} is not JSON: NaN and infinities cannot be stored")
        elif kind is dict or kind is list:
            budget = _check_tree(item, depth + 1, texts, budget)
            if budget < 0:
                return budget
        elif kind is bytes:
            raise TypeError("bytes can be stored only as a whole value, not inside JSON")
        else:
            raise TypeError(_refusal(item))
    return budget


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _json_loads(text: str) -> Any:
    if len(text) > PIECEWISE:
        return pieces.loads(text)  # (in a worker thread: see the module's docstring)
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
            _check_tree(value, 0, True, _UNLIMITED)
        return _json_dumps(value)
    return text


def _orjson_loads(text: str) -> Any:
    if len(text) > PIECEWISE:
        return pieces.loads(text)  # (in a worker thread: exact, and the GIL changes hands)
    if _digit_run(text):
        return json.loads(text)  # a number orjson may turn into a float: the exact decoder
    return orjson.loads(text)


def _digit_run(text: str) -> bool:
    """True if ``text`` holds 19 or more ASCII digits in a row.

    JSON numbers are ASCII, so that is the only way an integer beyond 64
    bits can be there (strings holding such runs are false alarms, decoded
    exactly all the same). Linear, and all of it in C: every byte mapped to
    digit-or-space, then a substring search.
    """
    return _DIGIT_RUN in text.encode("utf-8", "surrogatepass").translate(_DIGIT_MAP)


def check_key(key: Any) -> str:
    """``key`` if it is a storable ``str`` key, else TypeError."""
    if type(key) is not str:
        raise TypeError(f"KV keys must be str, not {type(key).__name__}")
    _check_text(key)
    return key
