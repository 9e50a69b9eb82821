"""Fuzz: arbitrary and SQL-ish text through ``db.execute``/``executemany`` and the pool.

Properties, per example: no crash and no hang (each example is bounded, see
:mod:`tests.stress.fuzz_support`), an error only of a documented type, the
connection (or pool) still answers afterwards, and the sentinel table (which
no generated statement names) reads exactly as planted. The pool scenario
also counts a write of its own after every example: each one must be there
at the end, seen from the readers, which catches a reader left on an old
snapshot or a batch whose commit went missing.

The text comes from four sources: anything at all (NUL bytes and lone
surrogates included), a soup of SQL keywords and punctuation, scripts built
from a small SQL grammar (several statements, huge numbers, unterminated
strings and comments, every placeholder style, transaction control), and
those scripts damaged at random points (:mod:`tests.stress.sql_texts`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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
from tests.stress.sql_texts import BINDINGS, SQL_TEXTS

pytestmark = pytest.mark.timeout(600)

# ---------------------------------------------------------------- the scenarios

SCRATCH = "CREATE TABLE IF NOT EXISTS fuzz(a, b)"


def fuzz_sql_text(
    portal: fuzz.Portal,
    figures: Figures,
    settings: Callable[[Any], Any],
    hows: tuple[str, ...],
    run: Callable[..., Awaitable[None]],
    api_of: Callable[[str], str],
    settle: Callable[[], int],
) -> None:
    """Run the examples: ``run(how, sql, bindings)`` on the loop, then ``settle()``.

    ``settle`` checks that the connection still answers and returns how many
    sentinel rows (or acknowledged writes) changed.
    """

    @settings
    @given(sql=SQL_TEXTS, bindings=BINDINGS, how=st.sampled_from(hows))
    def example(sql: str, bindings: Any, how: str) -> None:
        figures.ops += 1
        try:
            portal(run, how, sql, bindings)
        except Exception as exc:
            fuzz.expect_documented(api_of(how), exc, figures)
        fuzz.count_lost(figures, settle(), sql)

    example()


async def _run_on_connection(
    db: aiolite.Connection[Any], how: str, sql: str, bindings: Any
) -> None:
    if how == "fetchall":
        async with db.execute(sql, bindings) as cursor:
            await cursor.fetchall()
    elif how == "get":
        await (await db.execute(sql, bindings)).get
    elif how == "iterate":
        async for _ in db.execute(sql, bindings):
            pass
    else:
        await db.executemany(sql, [() if bindings is None else bindings] * 2)


async def _settle(db: aiolite.Connection[Any]) -> list[Any]:
    """The connection still answers; undo what the example left open; read the sentinel."""
    assert await (await db.execute("SELECT 1")).get == 1
    if db.in_transaction:  # the example began one (BEGIN, SAVEPOINT): its right
        await db.execute("ROLLBACK")
    await db.execute(SCRATCH)
    count = await (await db.execute("SELECT count(*) FROM fuzz")).get
    if count > 1000:
        await db.execute("DELETE FROM fuzz")
    return await (await db.execute(fuzz.SENTINEL_SELECT)).fetchall()


async def test_fuzz_sql_text_on_a_connection(
    fw: Framework, tmp_path: Path, figures: Figures
) -> None:
    figures.rows_lost = 0
    async with aiolite.connect(str(tmp_path / "fuzz.db")) as db:
        await fuzz.plant_sentinel(db)
        await db.execute(SCRATCH)
        planted = await (await db.execute(fuzz.SENTINEL_SELECT)).fetchall()

        def examples(portal: fuzz.Portal) -> None:
            fuzz_sql_text(
                portal,
                figures,
                fuzz.fuzz_settings(120, 4000),
                ("fetchall", "get", "iterate", "executemany"),
                partial(_run_on_connection, db),
                lambda how: f"Connection.{'executemany' if how == 'executemany' else 'execute'}",
                lambda: fuzz.rows_changed(planted, portal(_settle, db)),
            )

        await fuzz.drive(fw, examples)
    figures.notes = "SQL text: arbitrary, keyword soup, grammar scripts, damaged scripts"


async def _run_on_pool(pool: aiolite.Pool, how: str, sql: str, bindings: Any) -> None:
    if how == "fetchall":
        await pool.fetchall(sql, bindings)
    elif how == "fetchone":
        await pool.fetchone(sql, bindings)
    elif how == "execute":
        await pool.execute(sql, bindings)
    else:
        await pool.executemany(sql, [() if bindings is None else bindings] * 2)


async def _settle_pool(pool: aiolite.Pool, acknowledged: int) -> tuple[list[Any], int]:
    """A write of our own commits and every earlier one is visible from the readers."""
    await pool.execute(SCRATCH)
    await pool.execute("INSERT INTO ledger(n) VALUES (?)", (acknowledged,))
    seen = await pool.fetchval("SELECT count(*) FROM ledger")
    async with pool.reader() as one, pool.reader() as other:  # each reader, by name
        for reader in (one, other):
            assert await (await reader.execute("SELECT count(*) FROM ledger")).get == seen
    count = await pool.fetchval("SELECT count(*) FROM fuzz")
    if count > 1000:
        await pool.execute("DELETE FROM fuzz")
    return await pool.fetchall(fuzz.SENTINEL_SELECT), seen


@pytest.mark.frameworks("asyncio", "trio", "anyio-asyncio")
async def test_fuzz_sql_text_on_a_pool(fw: Framework, tmp_path: Path, figures: Figures) -> None:
    figures.rows_lost = 0
    path = str(tmp_path / "fuzz-pool.db")
    await fuzz.plant_sentinel_in(path)
    async with aiolite.open_pool(path, readers=2) as pool:
        await pool.execute("CREATE TABLE ledger(n)")
        planted = await pool.fetchall(fuzz.SENTINEL_SELECT)
        acknowledged = 0

        def settle(portal: fuzz.Portal) -> int:
            nonlocal acknowledged
            sentinel, seen = portal(_settle_pool, pool, acknowledged)
            acknowledged += 1
            return fuzz.rows_changed(planted, sentinel) + (acknowledged - seen)

        def examples(portal: fuzz.Portal) -> None:
            fuzz_sql_text(
                portal,
                figures,
                fuzz.fuzz_settings(80, 3000),
                ("fetchall", "fetchone", "execute", "executemany"),
                partial(_run_on_pool, pool),
                lambda how: "Pool.fetch" if how.startswith("fetch") else "Pool.execute",
                partial(settle, portal),
            )

        await fuzz.drive(fw, examples)
        assert await pool.fetchval("SELECT count(*) FROM ledger") == acknowledged
    figures.notes = "pool.fetchall/fetchone (query-only readers), pool.execute/executemany"
