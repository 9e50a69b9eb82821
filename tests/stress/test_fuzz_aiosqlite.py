"""Fuzz: ``aiolite.aiosqlite`` against the standard library's ``sqlite3``, side by side.

The README promises sqlite3's semantics and exceptions to the letter. So
each example runs the same call (``execute`` + ``fetchall``,
``execute_fetchall``, ``executemany``, ``executescript``) with the same SQL
text and sqlite3-style parameters on two databases: one through
``aiolite.aiosqlite`` on the event loop, one through plain ``sqlite3`` in
the hypothesis thread. The outcome must be the same: the same rows, or an
exception of the same type, and that type one of those sqlite3 documents.
Both databases then roll back whatever the example left open and must still
answer, and the sentinel table must read as planted in both.

Results that depend on the connection's history (``changes()``,
``total_changes()``, ``last_insert_rowid()``, the clock) are compared by
type of outcome only.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiolite import aiosqlite
from tests.frameworks import Framework
from tests.stress import fuzz_support as fuzz
from tests.stress.conftest import Figures
from tests.stress.sql_texts import BINDINGS, SQL_TEXTS

pytestmark = pytest.mark.timeout(600)

HOWS = ("execute", "execute_fetchall", "executemany", "executescript")
_HISTORY = ("changes", "last_insert_rowid", "current_", "sqlite_version", "explain")
"""Results compared by outcome type only: they depend on the connection's history, the
clock, or the SQLite version (the oracle runs the system's SQLite, aiolite APSW's newer
one, and query plans differ between versions)."""


def _parameters(bindings: Any) -> Any:
    return () if bindings is None else bindings


async def _run_async(db: aiosqlite.Connection, how: str, sql: str, bindings: Any) -> Any:
    try:
        if how == "execute":
            async with db.execute(sql, bindings) as cursor:
                return await cursor.fetchall()
        if how == "execute_fetchall":
            return await db.execute_fetchall(sql, bindings)
        if how == "executemany":
            async with db.executemany(sql, [_parameters(bindings)] * 2) as cursor:
                return await cursor.fetchall()
        async with db.executescript(sql) as cursor:
            return await cursor.fetchall()
    except Exception as exc:
        return exc


def _run_sync(conn: sqlite3.Connection, how: str, sql: str, bindings: Any) -> Any:
    try:
        if how in ("execute", "execute_fetchall"):
            return conn.execute(sql, _parameters(bindings)).fetchall()
        if how == "executemany":
            return conn.executemany(sql, [_parameters(bindings)] * 2).fetchall()
        return conn.executescript(sql).fetchall()
    except Exception as exc:
        return exc


async def _settle_async(db: aiosqlite.Connection) -> list[Any]:
    if db.in_transaction:
        await db.rollback()
    assert await db.execute_fetchall("SELECT 1") == [(1,)]
    await db.execute("CREATE TABLE IF NOT EXISTS fuzz(a, b)")
    return list(await db.execute_fetchall(fuzz.SENTINEL_SELECT))


def _settle_sync(conn: sqlite3.Connection) -> list[Any]:
    if conn.in_transaction:
        conn.rollback()
    conn.execute("CREATE TABLE IF NOT EXISTS fuzz(a, b)")
    return conn.execute(fuzz.SENTINEL_SELECT).fetchall()


def _plant(conn: sqlite3.Connection) -> None:
    conn.execute(fuzz.SENTINEL_CREATE)
    conn.executemany(fuzz.SENTINEL_INSERT, fuzz.SENTINEL_ROWS)
    conn.execute("CREATE TABLE fuzz(a, b)")
    conn.commit()


@pytest.mark.frameworks("asyncio", "trio")
async def test_fuzz_aiosqlite_matches_sqlite3(
    fw: Framework, tmp_path: Path, figures: Figures
) -> None:
    figures.rows_lost = 0
    for name in ("async.db", "sync.db"):
        with sqlite3.connect(tmp_path / name) as conn:
            _plant(conn)
        conn.close()
    async with aiosqlite.connect(tmp_path / "async.db") as db:
        planted = await _settle_async(db)

        def examples(portal: fuzz.Portal) -> None:
            reference = sqlite3.connect(tmp_path / "sync.db")
            try:
                run(portal, reference)
            finally:
                reference.close()

        def run(portal: fuzz.Portal, reference: sqlite3.Connection) -> None:
            @fuzz.fuzz_settings(100, 3000)
            @given(sql=SQL_TEXTS, bindings=BINDINGS, how=st.sampled_from(HOWS))
            def example(sql: str, bindings: Any, how: str) -> None:
                figures.ops += 1
                outcome = portal(_run_async, db, how, sql, bindings)
                expected = _run_sync(reference, how, sql, bindings)
                if isinstance(outcome, BaseException):
                    fuzz.expect_documented("aiosqlite", outcome, figures)
                    assert type(outcome) is type(expected), f"{outcome!r}, sqlite3: {expected!r}"
                else:
                    assert not isinstance(expected, BaseException), f"sqlite3: {expected!r}"
                    if not any(word in sql.lower() for word in _HISTORY):
                        assert fuzz.same_key(outcome) == fuzz.same_key(expected), (
                            outcome,
                            expected,
                        )
                changed = fuzz.rows_changed(planted, portal(_settle_async, db))
                changed += fuzz.rows_changed(planted, _settle_sync(reference))
                fuzz.count_lost(figures, changed, sql)

            example()

        await fuzz.drive(fw, examples)
    figures.notes = "aiolite.aiosqlite vs sqlite3 side by side: same rows or same error type"
