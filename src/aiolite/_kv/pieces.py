"""Large JSON, coded one top-level entry at a time: so the GIL changes hands in between.

orjson and the standard library's C scanner each parse a whole text in one
C call that holds the GIL: a worker thread parsing 100 MiB that way stops
the event loop's thread from running any Python for the whole parse. Here a
top-level object or array is parsed an entry at a time by the standard
library's C scanner (exact for integers of any size, so no digit scan is
needed), and encoded an entry at a time by the codec's own ``dumps``: the
Python between two entries is where the interpreter hands the GIL to a
thread that asked for it, so the loop waits for one entry (and at most the
interpreter's switch interval, ``sys.getswitchinterval()``), not the whole
value. A value that is one huge entry (a 100 MiB string) is still one call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from json.scanner import make_scanner
from typing import Any

_scan: Callable[[str, int], tuple[Any, int]] = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
"""The C scanner ``json.loads`` uses: one value at ``text[index]``, and where it ends."""
_SPACE = re.compile(r"[ \t\n\r]*")  # JSON's whitespace, as json.decoder skips it


def _skip(text: str, index: int) -> int:
    """The index of the first non-space character from ``index`` on."""
    return _SPACE.match(text, index).end()  # type: ignore[union-attr]  # (always matches)


class _Malformed(Exception):
    pass


def loads(text: str) -> Any:
    """``json.loads(text)``, a top-level entry at a time; its errors are ``json.loads``'s."""
    try:
        return _parse(text)
    except (_Malformed, StopIteration, ValueError, IndexError):
        return json.loads(text)  # not valid JSON after all: let it say why


def _parse(text: str) -> Any:
    end = _skip(text, 0)
    opener = text[end : end + 1]
    if opener == "{":
        result: Any = _parse_object(text, end)
    elif opener == "[":
        result = _parse_array(text, end)
    else:
        return json.loads(text)
    value, end = result
    if _skip(text, end) != len(text):
        raise _Malformed
    return value


def _parse_object(text: str, end: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    end = _skip(text, end + 1)
    if text[end] == "}":
        return out, end + 1
    while True:
        if text[end] != '"':
            raise _Malformed
        key, end = _scan(text, end)
        end = _skip(text, end)
        if text[end] != ":":
            raise _Malformed
        out[key], end = _scan(text, _skip(text, end + 1))
        end = _skip(text, end)
        if text[end] == "}":
            return out, end + 1
        if text[end] != ",":
            raise _Malformed
        end = _skip(text, end + 1)


def _parse_array(text: str, end: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    end = _skip(text, end + 1)
    if text[end] == "]":
        return out, end + 1
    while True:
        item, end = _scan(text, end)
        out.append(item)
        end = _skip(text, end)
        if text[end] == "]":
            return out, end + 1
        if text[end] != ",":
            raise _Malformed
        end = _skip(text, end + 1)


def dumps(value: Any, dump: Callable[[Any], str]) -> str:
    """``dump(value)`` for a checked dict or list, calling ``dump`` once per entry.

    The pieces, separators and brackets included, are joined once: the text
    is copied a single time (each copy of a 100 MiB text holds the GIL).
    """
    parts: list[str] = []
    if type(value) is dict:
        for key, item in value.items():
            parts += (",", dump(key), ":", dump(item))
        opener, closer = "{", "}"
    elif type(value) is list:
        for item in value:
            parts += (",", dump(item))
        opener, closer = "[", "]"
    else:
        return dump(value)
    if parts:
        parts[0] = opener  # the first entry's separator
    else:
        parts.append(opener)
    parts.append(closer)
    return "".join(parts)
