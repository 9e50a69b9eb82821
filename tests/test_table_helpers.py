"""Table helpers: identifiers validated and quoted, values bound, injection refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import aiolite
from tests.frameworks import Framework

BAD_NAMES: list[Any] = [
    'users"; DROP TABLE users; --',
    "users; DROP TABLE users",
    "a b",
    "1abc",
    "",
    "na\u00efve",
    "x'y",
    None,
    3,
]


async def tables(kv: aiolite.KV) -> list[str]:
    rows = await kv.pool.fetchall("SELECT name FROM sqlite_schema WHERE type = 'table'")
    return sorted(name for (name,) in rows)


@pytest.mark.frameworks("asyncio", "trio")
async def test_helpers_work_and_bind_values(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.KV(str(tmp_path / "t.db")) as kv:
        await kv.create_table(
            "users",
            {"id": "INTEGER PRIMARY KEY", "name": "TEXT NOT NULL", "email": "TEXT UNIQUE"},
        )
        sneaky = "Robert'); DROP TABLE users; --"
        assert await kv.sql_insert("users", {"name": sneaky, "email": "r@x"}) == 1
        assert await kv.sql_insert("users", {"name": "Alice", "email": "a@x"}) == 2
        rows = await kv.query("users", where="name LIKE ?", parameters=("A%",))
        assert rows == [{"id": 2, "name": "Alice", "email": "a@x"}]
        rows = await kv.query("users", columns=["name"], order_by="name DESC", limit=1)
        assert rows == [{"name": sneaky}]  # stored as a value, never run
        rows = await kv.query("users", columns=["id"], order_by=["name asc", "id"])
        assert rows == [{"id": 2}, {"id": 1}]
        with pytest.raises(aiolite.ConstraintError):
            await kv.sql_insert("users", {"name": "Dup", "email": "a@x"})
        assert await tables(kv) == ["data", "users"]


@pytest.mark.frameworks("asyncio", "trio")
async def test_injection_is_refused_and_nothing_runs(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.KV(str(tmp_path / "t.db")) as kv:
        await kv.create_table("users", {"id": "INTEGER PRIMARY KEY", "name": "TEXT"})
        await kv.sql_insert("users", {"name": "Alice"})
        for bad in BAD_NAMES:
            with pytest.raises(ValueError, match="plain name"):
                await kv.create_table(bad, {"x": "TEXT"})
            with pytest.raises(ValueError, match="plain name"):
                await kv.create_table("fine", {bad: "TEXT"})
            with pytest.raises(ValueError, match="plain name"):
                await kv.sql_insert(bad, {"name": "x"})
            with pytest.raises(ValueError, match="plain name"):
                await kv.sql_insert("users", {bad: "x"})
            with pytest.raises(ValueError, match="plain name"):
                await kv.query(bad)
            with pytest.raises(ValueError, match="plain name"):
                await kv.query("users", columns=[bad])
        for order in ("name; DROP TABLE users", "name DESC, (SELECT 1)", "name sideways", ""):
            with pytest.raises(ValueError, match="order_by"):
                await kv.query("users", order_by=order)
        for definition in (
            "TEXT); DROP TABLE users; --",
            "TEXT /* x */",
            "TEXT DEFAULT 'x",
            "TEXT (",
        ):
            with pytest.raises(ValueError, match="column definition"):
                await kv.create_table("fine", {"x": definition})
        for where in ("1; DROP TABLE users", "name = 'a' -- x", "name = 'a' /* x */", " "):
            with pytest.raises(ValueError, match="where"):
                await kv.query("users", where=where)
        for limit in (-1, 1.5, "1; DROP TABLE users", True):
            with pytest.raises(ValueError, match="limit"):
                await kv.query("users", limit=limit)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="without a where"):
            await kv.query("users", parameters=(1,))
        for empty in ({}, None):
            with pytest.raises(ValueError, match="non-empty"):
                await kv.sql_insert("users", empty)  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="non-empty"):
                await kv.create_table("fine", empty)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="non-empty"):
            await kv.query("users", columns="name")
        assert await tables(kv) == ["data", "users"]
        assert await kv.query("users") == [{"id": 1, "name": "Alice"}]


class Disguised(str):
    """A str whose value is a plain name but which formats itself as SQL."""

    def __format__(self, spec: str) -> str:
        return 'x" (a); DROP TABLE users; --'


@pytest.mark.frameworks("asyncio", "trio")
async def test_str_subclasses_are_used_as_the_text_that_was_checked(
    fw: Framework, tmp_path: Path
) -> None:
    """The check read the str's value, the SQL took its ``__format__``: a way past the check.

    Found while fuzzing the helpers (tests/stress/test_fuzz_identifiers.py).
    """
    async with aiolite.KV(str(tmp_path / "t.db")) as kv:
        await kv.create_table("users", {"id": "INTEGER PRIMARY KEY", "name": "TEXT"})
        await kv.create_table(Disguised("fine"), {"a": "TEXT"})  # once ran DROP TABLE users
        assert await tables(kv) == ["data", "fine", "users"]
        await kv.create_table(Disguised("more"), {Disguised("a"): Disguised("TEXT")})
        assert await kv.sql_insert(Disguised("fine"), {Disguised("a"): "v"}) == 1
        rows = await kv.query(Disguised("fine"), where=Disguised("a = ?"), parameters=("v",))
        assert rows == [{"a": "v"}]
        assert await tables(kv) == ["data", "fine", "more", "users"]
