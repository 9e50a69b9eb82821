"""The KV store's hardening (issue #14): large values off the loop, a closed store, the key "".

Which thread does the codec work is recorded through the codec's own
``dumps``/``loads`` attributes (the functions every encode and decode calls),
so the tests need no clock: a large value's JSON work must never run on the
event loop's thread, a small one's still does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import apsw
import pytest

import aiolite
from aiolite._kv import pieces
from aiolite._kv.codec import LARGE, PIECEWISE, Codec, _digit_run
from tests.frameworks import Framework


class Recorder:
    """Wraps a codec's ``dumps`` and ``loads``, noting the thread and text size of each call."""

    def __init__(self, codec: Codec) -> None:
        self.calls: list[tuple[str, int, int]] = []  # (what, thread ident, length of the text)
        dumps, loads = codec.dumps, codec.loads

        def recorded_dumps(value: Any) -> str:
            text = dumps(value)
            self.calls.append(("dumps", threading.get_ident(), len(text)))
            return text

        def recorded_loads(text: str) -> Any:
            self.calls.append(("loads", threading.get_ident(), len(text)))
            return loads(text)

        codec.dumps = recorded_dumps
        codec.loads = recorded_loads

    async def threads(self, operation: Awaitable[Any]) -> set[int]:
        """The threads the codec's JSON work ran in while ``operation`` ran."""
        self.calls.clear()
        await operation
        return {thread for _, thread, _ in self.calls}


def big_dict(tag: int = 0) -> dict[str, Any]:
    """A dict whose JSON is well over LARGE, with big ints that orjson would turn into floats."""
    return {
        f"item{i:05}": {"n": i + tag, "big": 2**70 + i, "neg": -(2**63) - 1, "f": i / 3}
        for i in range(LARGE // 40)
    }


def kv_path(tmp_path: Path) -> str:
    return str(tmp_path / "kv.db")


# ------------------------------------------------------------ item 3: large values


@pytest.mark.parametrize("codec", ["orjson", "json"])
async def test_large_values_are_coded_off_the_loop_thread(
    fw: Framework, tmp_path: Path, codec: str
) -> None:
    loop_thread = threading.get_ident()
    value = big_dict()
    async with aiolite.KV(kv_path(tmp_path), codec=codec, cache=True) as kv:
        recorder = Recorder(kv.codec)
        assert await recorder.threads(kv.set("small", {"a": [1, 2**70]})) == {loop_thread}
        for large in (kv.set("big", value), kv.set("text", "x" * (LARGE + 1))):
            threads = await recorder.threads(large)
            assert threads  # (the recorder saw the work)
            assert loop_thread not in threads

        for _ in range(2):  # from the cache (set wrote it through), decoded in a worker
            threads = await recorder.threads(kv.get("big"))
            assert threads
            assert loop_thread not in threads
        got = await kv.get("big")
        assert got == value
        assert repr(got) == repr(value)  # big ints came back as ints, not floats
        got["item00000"]["n"] = "mutated by the caller"
        assert await kv.get("big") == value  # the cache still hands out fresh copies
        assert kv.pool.stats().reads == 0  # every get above came from the cache

    async with aiolite.KV(kv_path(tmp_path), codec=codec) as kv:  # no cache: read from the file
        recorder = Recorder(kv.codec)
        for large in (kv.get("big"), kv.get("text"), kv.values(), kv.items()):
            threads = await recorder.threads(large)
            assert threads
            assert loop_thread not in threads
        assert await recorder.threads(kv.get("small")) == {loop_thread}
        assert await kv.get("big") == value
        assert await kv.get("text") == "x" * (LARGE + 1)
        assert await kv.values() == [value, {"a": [1, 2**70]}, "x" * (LARGE + 1)]
        assert dict(await kv.items())["big"] == value


async def test_large_writes_go_through_the_pool_not_inline(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.KV(kv_path(tmp_path)) as kv:
        await kv.set("small", 1)
        assert kv.inline_writes == 1  # inline writes are on for this store
        commits = kv.pool.stats().commits
        await kv.set("big", big_dict())
        await kv.set("raw", b"\x00" * (LARGE + 1))
        assert kv.inline_writes == 1  # neither large write committed on the loop thread
        assert kv.pool.stats().commits == commits + 2
        assert await kv.get("raw") == b"\x00" * (LARGE + 1)


async def test_update_encodes_the_rest_off_the_loop_in_order(fw: Framework, tmp_path: Path) -> None:
    loop_thread = threading.get_ident()
    async with aiolite.KV(kv_path(tmp_path)) as kv:
        recorder = Recorder(kv.codec)
        pairs: list[tuple[str, Any]] = [("k", 1), ("a", "x" * 100)]
        pairs += [(f"doc{i}", {"i": i, "pad": "p" * 1000}) for i in range(3 * LARGE // 1000)]
        pairs += [("big", big_dict()), ("k", 2)]  # the later "k" wins, as in dict.update
        await kv.update(pairs)
        assert await kv.get("k") == 2
        assert await kv.get("big") == big_dict()
        assert await kv.get("doc5") == {"i": 5, "pad": "p" * 1000}
        loop_side = [size for _, thread, size in recorder.calls if thread == loop_thread]
        worker_side = [size for _, thread, size in recorder.calls if thread != loop_thread]
        assert loop_side[:2] == [1, len('"' + "x" * 100 + '"')]  # the first values: here
        assert sum(loop_side) < 2 * LARGE  # the loop thread stopped soon after LARGE
        assert sum(worker_side) > 2 * LARGE  # the rest, big_dict() among them, in a worker


async def test_cached_contains_does_not_decode(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.KV(kv_path(tmp_path), cache=True) as kv:
        await kv.set("doc", {"list": [1, 2, 3]})
        recorder = Recorder(kv.codec)
        reads = kv.pool.stats().reads
        assert await kv.contains("doc")
        assert recorder.calls == []  # presence needs no value
        assert kv.pool.stats().reads == reads


async def test_large_get_inside_a_writer_block_sees_the_block(
    fw: Framework, tmp_path: Path
) -> None:
    async with aiolite.KV(kv_path(tmp_path)) as kv:
        async with kv.pool.writer():
            await kv.set("big", big_dict(1))
            assert await kv.get("big") == big_dict(1)  # uncommitted: read on the writer
        assert await kv.get("big") == big_dict(1)


@pytest.mark.parametrize("codec", ["orjson", "json"])
def test_every_value_type_round_trips_exactly_large_or_small(codec: str) -> None:
    c = Codec(codec)
    large: list[Any] = [
        big_dict(),
        [2**64, -(2**63) - 1, 2**63 - 1, -(2**63), 18446744073709551615, 0.1, -0.0] * 2000,
        "digits 12345678901234567890123 in a string " * 1000,
        {"ünïcødé ✓ 🎉": ["日本語" * 12000, None, True, False, 5e-324, 1e308]},
    ]
    for value in large:
        assert c.encode_here(value) is None  # too much for the loop thread
        stored = c.encode(value)
        assert len(stored) > LARGE
        for other in ("orjson", "json"):
            assert repr(Codec(other).decode(stored)) == repr(value)
    small: list[Any] = [None, 0, 2**70, -(2**65), 1.5, "s", [2**64], {"k": -(2**63) - 1}, b"x"]
    for value in small:
        stored = c.encode_here(value)
        assert stored is not None
        assert repr(c.decode(stored)) == repr(value)


@pytest.mark.parametrize("codec", ["orjson", "json"])
def test_values_past_piecewise_are_coded_an_entry_at_a_time(codec: str) -> None:
    """So that a worker coding them lets go of the GIL between entries."""
    value = {f"k{i}": [2**70 + i, "x" * 1000, -(2**63) - 1, 0.5] for i in range(1100)}
    c = Codec(codec)
    recorder = Recorder(c)
    stored = c.encode(value)
    assert isinstance(stored, str)
    assert len(stored) > PIECEWISE
    assert len(recorder.calls) == 2 * len(value)  # one dumps per key and per entry
    for other in ("orjson", "json"):
        assert repr(Codec(other).decode(stored)) == repr(value)
    assert repr(c.decode(pieces.dumps([value, value], json.dumps))) == repr([value, value])


def test_digit_runs_send_text_to_the_exact_decoder() -> None:
    assert _digit_run("[" + "1" * 19 + "]")
    assert _digit_run('{"n":-9223372036854775809}')
    assert not _digit_run('{"n":-9223372036854775808}'[:-2] + "}")  # 17 digits
    assert not _digit_run("1" * 18 + "x" + "1" * 18)
    assert not _digit_run("\u0661" * 40)  # only ASCII digits make JSON numbers
    assert not _digit_run("0.333333333333333")  # a float's 15 digits
    assert repr(Codec("orjson").decode("[18446744073709551616]")) == "[18446744073709551616]"


def test_pieces_parse_exactly_what_json_loads_parses() -> None:
    texts = [
        '{"a":1,"b":[1,2,{"c":null}],"big":123456789012345678901234567890,"f":-0.0}',
        ' \n{ "a" : 1 ,\t"a" : 2 } \r\n',  # whitespace, and the last duplicate wins
        "[]",
        "{}",
        ' [ 1 , true , false , null , "s" , 1e308 , [ ] , { } ] ',
        '"just a string"',
        "12",
    ]
    for text in texts:
        assert repr(pieces.loads(text)) == repr(json.loads(text))
    for bad in ('{"a":1,}', '{"a" 1}', "[1,2", "[1 2]", "{1:2}", '{"a":1} x', "", "[1,]"):
        with pytest.raises(json.JSONDecodeError) as ours:
            pieces.loads(bad)
        with pytest.raises(json.JSONDecodeError) as theirs:
            json.loads(bad)
        assert str(ours.value) == str(theirs.value)
    value = {"k": [1, 2**70], "s": "ünï", "n": None}
    assert json.loads(pieces.dumps(value, json.dumps)) == value
    assert pieces.dumps([1, [2]], json.dumps) == "[1,[2]]"


# --------------------------------------------------------- item 4: a closed store


async def test_closed_kv_refuses_cached_reads_and_reopening(fw: Framework, tmp_path: Path) -> None:
    kv = aiolite.KV(kv_path(tmp_path), cache=True)
    async with kv:
        await kv.set("doc", {"a": 1})
        await kv.set("n", 5)
        assert await kv.get("doc") == {"a": 1}  # cached
        assert await kv.contains("n")
    calls: list[Callable[[], Any]] = [
        lambda: kv.get("doc"),
        lambda: kv.get("n"),
        lambda: kv.contains("n"),
        lambda: kv.set("n", 6),
        lambda: kv.keys(),
    ]
    for call in calls:
        with pytest.raises(aiolite.ConnectionClosedError):
            await call()
    with pytest.raises(apsw.ConnectionClosedError):  # the same class
        await kv.get("doc")
    with pytest.raises(aiolite.ConnectionClosedError):
        async with kv:
            pytest.fail("a closed KV store was handed back")
    with pytest.raises(aiolite.ConnectionClosedError):
        await kv
    await kv.close()  # still idempotent
    async with aiolite.KV(kv_path(tmp_path)) as again:  # a new store opens the file
        assert await again.get("n") == 5


# -------------------------------------------------------------- item 5: key ""


async def test_async_for_includes_the_empty_key(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.KV(kv_path(tmp_path), readers=1) as kv:
        await kv.set("", "empty key")
        await kv.set("a", 1)
        assert [key async for key in kv] == ["", "a"]
        await kv.update({f"key{i:04}": i for i in range(1100)})  # three pages
        keys = await kv.keys()
        assert await kv.len() == len(keys) == 1102
        assert [key async for key in kv] == keys
        assert keys[0] == ""
