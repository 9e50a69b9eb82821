"""Cancellation storm on ``aiolite.aiosqlite``: transfers stopped at random points lose nothing.

aiosqlite cannot stop a running statement; ``aiolite.aiosqlite`` can, and
SQLite then rolls back the whole transaction the statement was part of. With
sqlite3's implicit transactions the statements after it would run in a new
transaction and ``commit()`` would keep them: half a transfer. This scenario
runs transfers (debit, a slow scratch write, credit, log, ``commit()``) on one
shared connection under sqlite3's semantics, as aiosqlite users write them:

- ``careful``: a timeout around the whole transfer; on any error the caller
  rolls back;
- ``hostile``: a timeout around the slow write only, *caught*, and the
  transfer carried on to its ``commit()`` (the pattern that used to commit
  half a transfer); on an error the caller rolls back.

Afterwards the books must balance exactly: every acknowledged transfer is
logged, each balance is its opening balance plus the logged transfers'
legs, the total is unchanged and the file passes ``integrity_check``.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import apsw
import trio

from aiolite import aiosqlite
from tests.frameworks import Framework
from tests.stress.conftest import Figures, scaled

ACCOUNTS = 8
OPENING = 1_000_000
WORKERS = 6
SLOW_ROWS = 20_000
SLOW_WRITE = (
    "INSERT INTO scratch SELECT x FROM (WITH RECURSIVE c(x) AS "
    f"(SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT {SLOW_ROWS}) SELECT x FROM c)"
)
SCHEMA = f"""
CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
CREATE TABLE transfers(id INTEGER PRIMARY KEY, src INTEGER, dst INTEGER, amount INTEGER);
CREATE TABLE scratch(x);
INSERT INTO accounts
    WITH RECURSIVE n(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM n LIMIT {ACCOUNTS})
    SELECT id, {OPENING} FROM n;
"""


def _lock(fw: Framework) -> Any:
    if fw.anyio:
        return anyio.Lock()
    if fw.kind == "trio":
        return trio.Lock()
    import asyncio

    return asyncio.Lock()


async def _transfer(db: aiosqlite.Connection, number: int, rng: random.Random) -> None:
    src, dst = rng.sample(range(1, ACCOUNTS + 1), 2)
    amount = rng.randint(1, 1000)
    await db.execute("UPDATE accounts SET balance = balance - ? WHERE id = ?", (amount, src))
    await db.execute(SLOW_WRITE)
    await db.execute("DELETE FROM scratch")
    await db.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", (amount, dst))
    await db.execute("INSERT INTO transfers VALUES (?, ?, ?, ?)", (number, src, dst, amount))


async def _hostile_transfer(
    fw: Framework, db: aiosqlite.Connection, number: int, rng: random.Random, delay: float
) -> bool:
    """The slow write's timeout is caught and the transfer carried on; True if it was hit."""
    src, dst = rng.sample(range(1, ACCOUNTS + 1), 2)
    amount = rng.randint(1, 1000)
    await db.execute("UPDATE accounts SET balance = balance - ? WHERE id = ?", (amount, src))
    hit = False
    try:
        async with fw.fail_after(delay):
            await db.execute(SLOW_WRITE)
    except fw.timeout_error:
        hit = True  # caught: carry on as if nothing happened
    await db.execute("DELETE FROM scratch")
    await db.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", (amount, dst))
    await db.execute("INSERT INTO transfers VALUES (?, ?, ?, ?)", (number, src, dst, amount))
    return hit


async def test_aiosqlite_transfers_stay_whole_under_cancellation(
    fw: Framework, tmp_path: Path, figures: Figures
) -> None:
    path = tmp_path / "books.db"
    setup = apsw.Connection(str(path))
    setup.execute(SCHEMA)
    setup.close()
    count = scaled(100, 2000)
    acknowledged: set[int] = set()
    lock = _lock(fw)
    numbers = iter(range(count))

    async def worker(db: aiosqlite.Connection, seed: int) -> None:
        rng = random.Random(seed)
        for number in numbers:
            figures.ops += 1
            delay = rng.uniform(0.0, 0.03)
            hostile = rng.random() < 0.5
            async with lock:
                try:
                    if hostile:
                        if await _hostile_transfer(fw, db, number, rng, delay):
                            figures.faults += 1
                    else:
                        async with fw.fail_after(delay):
                            await _transfer(db, number, rng)
                    await db.commit()
                except (fw.timeout_error, sqlite3.Error) as exc:
                    if isinstance(exc, fw.timeout_error):
                        figures.faults += 1
                    figures.error(exc)
                    await db.rollback()
                else:
                    acknowledged.add(number)

    async with aiosqlite.connect(path) as db, fw.task_group() as group:
        for seed in range(WORKERS):
            group.start_soon(worker, db, seed)

    check = apsw.Connection(str(path))
    try:
        assert check.execute("PRAGMA integrity_check").get == "ok"
        logged = {row[0]: row[1:] for row in check.execute("SELECT * FROM transfers")}
        balances = dict(check.execute("SELECT id, balance FROM accounts"))
    finally:
        check.close()
    expected = dict.fromkeys(range(1, ACCOUNTS + 1), OPENING)
    for src, dst, amount in logged.values():
        expected[src] -= amount
        expected[dst] += amount
    figures.rows_lost = len(acknowledged - logged.keys())
    assert balances == expected, "half a transfer was committed"
    assert logged.keys() == acknowledged, "a transfer was logged but never acknowledged"
    assert figures.rows_lost == 0
    assert figures.faults > 0
    figures.notes = f"{len(acknowledged)} transfers committed whole, the rest rolled back whole"
