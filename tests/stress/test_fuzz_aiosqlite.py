"""Fuzz: ``aiolite.aiosqlite`` against the standard library's ``sqlite3``, side by side.

The README promises sqlite3's semantics and exceptions to the letter. So
each example runs the same call (``execute`` + ``fetchall``,
``execute_fetchall``, ``executemany``, ``executescript``) with the same SQL
text and sqlite3-style parameters, plain tuples or ``Row`` rows, on two
databases: one through ``aiolite.aiosqlite`` (sqlite3's semantics on APSW)
on the event loop, one through plain ``sqlite3`` in the hypothesis thread.
The outcome must be the same: the same rows (and column names), the same
``rowcount``, ``description`` and ``in_transaction`` afterwards, or an
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

import apsw
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


def _shape(rows: list[Any], cursor: Any, as_rows: bool) -> Any:
    """Rows, ``rowcount`` and ``description``; ``Row`` rows as their values and keys."""
    if as_rows:
        rows = [(tuple(row), row.keys()) for row in rows]
    return rows, cursor.rowcount, cursor.description


async def _run_async(
    db: aiosqlite.Connection, how: str, sql: str, bindings: Any, as_rows: bool
) -> Any:
    db.row_factory = aiosqlite.Row if as_rows else None
    try:
        if how == "execute":
            async with db.execute(sql, bindings) as cursor:
                return _shape(await cursor.fetchall(), cursor, as_rows), db.in_transaction
        if how == "execute_fetchall":
            rows = await db.execute_fetchall(sql, bindings)
            return _shape(list(rows), _NO_CURSOR, as_rows), db.in_transaction
        if how == "executemany":
            async with db.executemany(sql, [_parameters(bindings)] * 2) as cursor:
                return _shape(await cursor.fetchall(), cursor, as_rows), db.in_transaction
        async with db.executescript(sql) as cursor:
            return _shape(await cursor.fetchall(), cursor, as_rows), db.in_transaction
    except Exception as exc:
        return exc


class _NoCursor:
    rowcount = description = None


_NO_CURSOR = _NoCursor()


def _run_sync(conn: sqlite3.Connection, how: str, sql: str, bindings: Any, as_rows: bool) -> Any:
    conn.row_factory = sqlite3.Row if as_rows else None
    try:
        if how == "execute":
            cursor = conn.execute(sql, _parameters(bindings))
        elif how == "execute_fetchall":
            rows = conn.execute(sql, _parameters(bindings)).fetchall()
            return _shape(rows, _NO_CURSOR, as_rows), conn.in_transaction
        elif how == "executemany":
            cursor = conn.executemany(sql, [_parameters(bindings)] * 2)
        else:
            cursor = conn.executescript(sql)
        return _shape(cursor.fetchall(), cursor, as_rows), conn.in_transaction
    except Exception as exc:
        return exc


def _versions_differ(sql: str, bindings: Any, ours: bytes, theirs: bytes) -> bool:
    """True when the two SQLite libraries themselves disagree on ``sql`` (no semantics layer).

    The oracle runs the system's SQLite (3.40 here), aiolite APSW's (3.54):
    newer SQLite resolves some expressions an older one folded away, prints
    other plans, and so on. Both run raw, each on a copy of its own database;
    a disagreement there is the version's, not aiolite.aiosqlite's. A
    ProgrammingError is sqlite3's own API rule, never a version difference.
    """
    outcomes: list[Any] = []
    raw = sqlite3.connect(":memory:", isolation_level=None)
    native = apsw.Connection(":memory:")
    try:
        raw.deserialize(theirs)
        native.deserialize("main", ours)
        for run in (
            lambda: raw.execute(sql, _parameters(bindings)).fetchall(),
            lambda: [tuple(row) for row in native.execute(sql, _parameters(bindings))],
        ):
            try:
                outcomes.append(fuzz.same_key(run()))
            except sqlite3.ProgrammingError:
                return False
            except Exception as exc:  # both libraries print sqlite3_errmsg()
                outcomes.append(("error", str(exc)))
    finally:
        raw.close()
        native.close()
    return outcomes[0] != outcomes[1]


def _prepare_error_first(outcome: Any, expected: Any) -> bool:
    """SQLite refused to prepare a statement on which sqlite3 raised an API error.

    Either the statement also has the wrong number of parameters (sqlite3
    checks the count first; aiolite.aiosqlite learns it from the prepared
    statement, so SQLite's error wins: a documented difference), or APSW's
    SQLite refuses what the system's accepted (a smaller variable limit, a
    newer rule) before sqlite3's check after the prepare could run.
    """
    return type(outcome) is sqlite3.OperationalError and type(expected) is (
        sqlite3.ProgrammingError
    )


async def _image(db: aiosqlite.Connection) -> bytes:
    image: bytes = await db._execute(db._conn.serialize)
    return image


async def _settle_async(db: aiosqlite.Connection) -> list[Any]:
    db.row_factory = None
    if db.in_transaction:
        await db.rollback()
    assert await db.execute_fetchall("SELECT 1") == [(1,)]
    await db.execute("CREATE TABLE IF NOT EXISTS fuzz(a, b)")
    return list(await db.execute_fetchall(fuzz.SENTINEL_SELECT))


def _settle_sync(conn: sqlite3.Connection) -> list[Any]:
    conn.row_factory = None
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
    version_differences: list[str] = []
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
            @given(
                sql=SQL_TEXTS,
                bindings=BINDINGS,
                how=st.sampled_from(HOWS),
                as_rows=st.booleans(),
            )
            def example(sql: str, bindings: Any, how: str, as_rows: bool) -> None:
                figures.ops += 1
                outcome = portal(_run_async, db, how, sql, bindings, as_rows)
                expected = _run_sync(reference, how, sql, bindings, as_rows)
                if isinstance(outcome, BaseException):
                    fuzz.expect_documented("aiosqlite", outcome, figures)
                agree = type(outcome) is type(expected) and (
                    isinstance(outcome, BaseException)
                    or any(word in sql.lower() for word in _HISTORY)
                    or fuzz.same_key(outcome) == fuzz.same_key(expected)
                )
                if not agree and (
                    _prepare_error_first(outcome, expected)
                    or _versions_differ(sql, bindings, portal(_image, db), reference.serialize())
                ):
                    version_differences.append(sql)
                    # The databases may now differ: carry on from aiolite's state.
                    reference.deserialize(portal(_image, db))
                elif isinstance(outcome, BaseException):
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
    figures.notes = (
        "aiolite.aiosqlite vs sqlite3 side by side: same rows or same error type; "
        f"{len(version_differences)} examples excused: the two SQLite versions themselves "
        "differ, or a prepare error met a wrong parameter count"
    )
