"""The KV store: exact round trips with both codecs, refusals, cache, AsyncNanaSQLite names."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import pytest

import aiolite
from aiolite._kv.codec import Codec
from tests.frameworks import Framework

CODECS = ("orjson", "json")

ROUND_TRIPS: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63 - 1,
    2**64,
    -(2**200),
    0.1,
    -0.0,
    1e308,
    5e-324,
    "",
    "plain",
    "ünïcødé ✓ 日本語 🎉",
    "1234567890123456789012345 digits in text",
    [],
    {},
    [1, "two", 3.0, None, [True], {"k": [2**70]}],
    {"name": "Alice", "age": 25, "tags": ["a", "b"], "nested": {"deep": {"x": -(2**65)}}},
    b"",
    b"\x00\xff raw bytes",
]

REFUSED: list[Any] = [
    (1, 2),
    {1, 2},
    {1: "int key"},
    {"inner": (1,)},
    [b"bytes inside json"],
    float("nan"),
    float("inf"),
    [float("-inf")],
    object(),
    enum.IntEnum("E", "A").A,
    "lone \ud800 surrogate",
    {"k": "\udfff"},
    bytearray(b"x"),
    type("Str", (str,), {})("subclass"),
    # Found by tests/stress/test_fuzz_kv.py: a big int sent orjson's encoding to
    # the standard library, which let the surrogate through to SQLite
    # (UnicodeEncodeError in the writer instead of TypeError up front).
    [-(2**63) - 1, "\ud800"],
    {"big": 2**70, "text": ["x\udfff"]},
]


def file_size(path: str) -> int:
    return Path(path).stat().st_size


def kv_path(tmp_path: Path) -> str:
    return str(tmp_path / "kv.db")


@pytest.mark.parametrize("codec", CODECS)
def test_codec_round_trips_exactly(codec: str) -> None:
    c = Codec(codec)
    for value in ROUND_TRIPS:
        back = c.decode(c.encode(value))
        assert back == value
        assert repr(back) == repr(value)  # same types all the way down (-0.0, big ints)
    for other in CODECS:  # what one codec wrote, the other reads the same
        for value in ROUND_TRIPS:
            assert repr(Codec(other).decode(c.encode(value))) == repr(value)


@pytest.mark.parametrize("codec", CODECS)
def test_codec_refuses_what_cannot_round_trip(codec: str) -> None:
    c = Codec(codec)
    for value in REFUSED:
        with pytest.raises(TypeError):
            c.encode(value)
    deep: Any = []
    for _ in range(300):
        deep = [deep]
    with pytest.raises(TypeError, match="deep"):
        c.encode(deep)
    with pytest.raises(ValueError, match="codec"):
        Codec("pickle")


@pytest.mark.parametrize("codec", CODECS)
def test_codecs_share_one_nesting_limit(codec: str) -> None:
    """Found by tests/stress/test_fuzz_kv.py: json took 256 levels, orjson only 254.

    So a value was storable or not depending on whether orjson was installed.
    """

    def nested(levels: int) -> Any:
        value: Any = 1
        for level in range(levels):
            value = [value] if level % 2 else {"k": value}
        return value

    c = Codec(codec)
    assert c.decode(c.encode(nested(254))) == nested(254)
    for levels in (255, 256):
        with pytest.raises(TypeError, match="254 lists or dicts deep"):
            c.encode(nested(levels))


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.frameworks("asyncio", "trio")
async def test_kv_round_trips_and_refusals(fw: Framework, tmp_path: Path, codec: str) -> None:
    async with aiolite.KV(kv_path(tmp_path), codec=codec, readers=2) as kv:
        for i, value in enumerate(ROUND_TRIPS):
            await kv.set(f"k{i:02}", value)
        for i, value in enumerate(ROUND_TRIPS):
            assert repr(await kv.get(f"k{i:02}")) == repr(value)
        before = await kv.items()
        for value in REFUSED:
            with pytest.raises(TypeError):
                await kv.set("refused", value)
        for key in (1, b"k", None, ("t",), "bad \ud800 key"):
            with pytest.raises(TypeError):
                await kv.set(key, "v")  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                await kv.get(key)  # type: ignore[arg-type]
        with pytest.raises(TypeError):  # one bad value: nothing of the batch is written
            await kv.update({"fresh_1": 1, "fresh_2": (2,), "fresh_3": 3})
        with pytest.raises(TypeError):
            await kv.update([("fresh_1", 1), ("fresh_2",)])  # type: ignore[list-item]
        with pytest.raises(TypeError):
            await kv.delete_many(["k00", 5])  # type: ignore[list-item]
        assert await kv.items() == before
        assert await kv.get("k00") is None
        assert await kv.contains("k00")
    async with aiolite.KV(kv_path(tmp_path), codec=CODECS[1 - CODECS.index(codec)]) as other:
        assert repr(await other.items()) == repr(before)  # read back by the other codec


async def test_kv_dict_operations(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.KV(kv_path(tmp_path), table="things", readers=2) as kv:
        assert await kv.get("missing") is None
        assert await kv.get("missing", "dflt") == "dflt"
        assert not await kv.contains("missing")
        with pytest.raises(KeyError):
            await kv.delete("missing")
        await kv.set("b", 2)
        await kv.update({"a": 1}, c=3)
        await kv.update([("d", 4)])
        assert await kv.len() == 4
        assert await kv.keys() == ["a", "b", "c", "d"]
        assert await kv.values() == [1, 2, 3, 4]
        assert await kv.items() == [("a", 1), ("b", 2), ("c", 3), ("d", 4)]
        await kv.delete("a")
        assert not await kv.contains("a")
        assert await kv.delete_many(["b", "c", "nope"]) == 2
        assert await kv.delete_many([]) == 0
        assert await kv.keys() == ["d"]
        await kv.update({f"key{i:04}": i for i in range(1200)})  # more than one page
        seen = [key async for key in kv]
        assert seen == sorted(seen)
        assert len(seen) == 1201
        await kv.clear()
        assert await kv.len() == 0
        assert await kv.pool.fetchval("SELECT count(*) FROM things") == 0


async def test_kv_concurrent_sets_are_group_committed(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.KV(kv_path(tmp_path), inline=False) as kv:
        async with fw.task_group() as group:
            for i in range(300):
                group.start_propagating(kv.set, f"k{i}", {"i": i})
        assert await kv.len() == 300
        stats = kv.pool.stats()
        assert stats.commits < 150
        assert await kv.get("k299") == {"i": 299}


async def test_cache_is_write_through_and_isolated(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.KV(kv_path(tmp_path), cache=True) as kv:
        await kv.set("doc", {"list": [1]})
        got = await kv.get("doc")
        got["list"].append("mutated by the caller")
        assert await kv.get("doc") == {"list": [1]}  # the cache hands out fresh copies
        reads = kv.pool.stats().reads
        assert await kv.get("doc") == {"list": [1]}
        assert kv.pool.stats().reads == reads  # served from the cache
        await kv.set("n", 5)
        assert await kv.get("n") == 5
        await kv.delete("n")
        assert await kv.get("n") is None
        await kv.update({"x": b"raw", "y": [1]})
        assert await kv.get("x") == b"raw"
        assert await kv.delete_many(["x"]) == 1
        assert await kv.get("x") is None
        await kv.clear()
        assert await kv.get("doc") is None
        assert await kv.get("y") is None
        await kv.set("kept", 1)
        seen_in_block = []

        async def rolled_back_block() -> None:
            async with kv.pool.writer():  # writes in a block that rolls back never reach the cache
                await kv.set("kept", "rolled back")
                seen_in_block.append(await kv.get("kept"))  # the block sees its own write
                raise LookupError

        with pytest.raises(LookupError):
            await rolled_back_block()
        assert seen_in_block == ["rolled back"]
        assert await kv.get("kept") == 1
    async with aiolite.KV(kv_path(tmp_path), cache=2) as kv:  # a bounded cache
        await kv.update({"a": 1, "b": 2, "c": 3})
        assert [await kv.get(k) for k in "abc"] == [1, 2, 3]


@pytest.mark.frameworks("asyncio", "trio")
async def test_bulk_load_and_nanasqlite_names(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.KV(kv_path(tmp_path)) as kv:
        await kv.update({"a": 1, "b": [2]})
    async with aiolite.KV(
        kv_path(tmp_path), bulk_load=True, max_workers=3, lock_timeout=2.5, cache_size_mb=8
    ) as kv:
        stats = kv.pool.stats()
        assert stats.readers == 2  # max_workers=3: one writer and two readers
        assert kv.pool.acquire_timeout == 2.5
        assert kv.ignored_options == {"cache_size_mb": 8}
        assert await kv.aget("b") == [2]
        assert kv.pool.stats().reads == stats.reads  # bulk_load filled the cache
        await kv.aset("c", 3)
        assert await kv.acontains("c")
        assert await kv.alen() == 3
        assert await kv.akeys() == ["a", "b", "c"]
        assert await kv.avalues() == [1, [2], 3]
        assert await kv.aitems() == [("a", 1), ("b", [2]), ("c", 3)]
        await kv.batch_update({"d": 4, "e": 5})
        assert await kv.batch_delete(["a", "d"]) == 2
        await kv.adelete("e")
        assert await kv.akeys() == ["b", "c"]
    async with aiolite.KV(kv_path(tmp_path), read_pool_size=1) as kv:
        assert kv.pool.stats().readers == 1
        assert "kv.db" in repr(kv)
    with pytest.raises(ValueError, match="table"):
        aiolite.KV(kv_path(tmp_path), table='data"; DROP TABLE x; --')
    with pytest.raises(ValueError, match="cache"):
        aiolite.KV(kv_path(tmp_path), cache=-1)
    with pytest.raises(ValueError, match="max_workers"):
        aiolite.KV(kv_path(tmp_path), max_workers=0)
    kv = aiolite.KV(kv_path(tmp_path))
    with pytest.raises(RuntimeError, match="not open"):
        await kv.get("a")


@pytest.mark.frameworks("asyncio")
async def test_reads_nanasqlite_files(fw: Framework, tmp_path: Path) -> None:
    nanasqlite = pytest.importorskip("nanasqlite")
    path = kv_path(tmp_path)
    async with nanasqlite.AsyncNanaSQLite(path) as nana:
        await nana.aset("user", {"name": "Alice", "n": [1, 2.5]})
    async with aiolite.KV(path) as kv:
        assert await kv.get("user") == {"name": "Alice", "n": [1, 2.5]}
        await kv.set("from_aiolite", {"ok": True})
    async with nanasqlite.AsyncNanaSQLite(path) as nana:
        assert await nana.aget("from_aiolite") == {"ok": True}


async def test_inline_path(fw: Framework, tmp_path: Path) -> None:
    """One task's sets run on the loop thread; bursts and locks go to the pool."""
    path = kv_path(tmp_path)
    async with aiolite.KV(path) as kv:
        for i in range(20):
            await kv.set(f"k{i}", {"i": i})
        assert kv.inline_writes == 20
        assert [await kv.get(f"k{i}") for i in range(20)] == [{"i": i} for i in range(20)]
        assert await kv.contains("k1")
        assert not await kv.contains("nope")
        await kv.delete("k0")
        with pytest.raises(KeyError):
            await kv.delete("k0")
        assert kv.inline_writes == 22
        assert kv.pool.stats().writes == 1  # only the CREATE TABLE went through the pool

        async with fw.task_group() as group:  # a burst from many tasks: group-committed
            for i in range(100):
                group.start_propagating(kv.set, f"burst{i}", i)
        assert kv.inline_writes <= 23
        assert kv.pool.stats().writes >= 100
        assert kv.pool.stats().commits < 50

        async with kv.pool.writer() as db:  # reads in a writer block see its own writes
            await db.execute("UPDATE data SET value = '\"changed\"' WHERE key = 'k1'")
            assert await kv.get("k1") == "changed"

        async with aiolite.connect(path) as other:  # another connection holds the write lock
            started = fw.event()
            finished = False

            async def set_while_locked() -> None:
                nonlocal finished
                started.set()
                await kv.set("locked", "waited")
                finished = True

            async with fw.task_group() as group, other.transaction("immediate"):
                group.start_soon(set_while_locked)
                await started.wait()
                await fw.sleep(0.05)
                assert not finished  # it waits for the lock instead of failing
        assert finished
        assert await kv.get("locked") == "waited"  # fell back to the pool, which waited
    async with aiolite.KV(path, inline=False) as kv:
        assert await kv.get("k1") == "changed"
        await kv.set("x", 1)
        assert kv.inline_writes == 0
    async with aiolite.KV(path, synchronous="FULL") as kv:
        await kv.set("durable", 1)  # FULL fsyncs: never on the loop thread
        assert kv.inline_writes == 0
        assert await kv.get("durable") == 1


@pytest.mark.frameworks("asyncio")
async def test_inline_writes_leave_checkpoints_to_the_writer(fw: Framework, tmp_path: Path) -> None:
    path = kv_path(tmp_path)
    async with aiolite.KV(path) as kv:
        for i in range(1500):
            await kv.set(f"k{i % 50}", "x" * 3000)
        assert kv.inline_writes == 1500
        wal = file_size(path + "-wal")
    # Without checkpoints the WAL would hold every commit: 1500 x 4 KiB pages or more.
    assert wal < 1500 * 4096


@pytest.mark.frameworks("asyncio", "trio")
async def test_a_store_typed_by_its_values_opens_and_works(fw: Framework, tmp_path: Path) -> None:
    """``aiolite.KV[Profile](path)`` (the typed spelling) is a working store at run time."""
    async with aiolite.KV[dict[str, int]](str(tmp_path / "typed.db")) as kv:
        assert type(kv) is aiolite.KV
        await kv.set("alice", {"age": 25})
        assert await kv.get("alice") == {"age": 25}
        assert await kv.get("bob", "missing") == "missing"
