"""Load: many concurrent tasks mixing reads and writes on one pool, checked exactly.

Every task runs a seeded random mix for a bounded time on one file pool:
group-committed ``pool.execute`` inserts and updates, all-or-nothing
``pool.executemany`` batches, ``pool.writer()`` transactions (with
``pool.execute`` joining them), and reads through ``pool.fetchall``,
``fetchone``, ``fetchval``, ``pool.reader()`` snapshots and ``async for`` over
a reader cursor. Each task owns its rows, so every read can be checked
exactly against what that task was acknowledged: a read after an
acknowledged write must see it.

The only errors allowed are the ones the test provokes: inserts that break a
UNIQUE or CHECK constraint (alone, in an ``executemany`` batch, or inside a
writer block, where the block goes on and commits the rest), each expected to
raise ``apsw.ConstraintError`` and counted, and writer blocks the test makes
raise, which must roll back. Afterwards the file must hold exactly the
acknowledged rows with their values, no others, and each task's counter must
equal its committed writer blocks.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any

import apsw

import aiolite
from tests.frameworks import Framework
from tests.stress.conftest import Figures, scaled

SCHEMA = """
CREATE TABLE items(
    id INTEGER PRIMARY KEY, owner INTEGER NOT NULL,
    value INTEGER NOT NULL CHECK (value >= 0), tag TEXT NOT NULL UNIQUE
);
CREATE INDEX items_owner ON items(owner);
CREATE TABLE counters(task INTEGER PRIMARY KEY, n INTEGER NOT NULL);
"""
INSERT = "INSERT INTO items(id, owner, value, tag) VALUES (?, ?, ?, ?)"
OWN_ROWS = "SELECT id, value FROM items WHERE owner = ? ORDER BY id"

WRITES = ("insert", "bad-insert", "update", "executemany", "bad-executemany", "writer")
WRITE_WEIGHTS = (30, 8, 20, 15, 4, 23)
"""About one write in eight breaks a constraint on purpose (more inside writer blocks)."""
READS = ("fetchall", "fetchone", "fetchval", "reader", "stream")


class Rollback(Exception):
    """Raised inside a writer block on purpose: the block must roll back."""


@dataclass
class Task:
    """One task's acknowledged state: what the database must show it."""

    number: int
    rng: random.Random
    rows: dict[int, int] = field(default_factory=dict)
    """Acknowledged rows: id -> value."""
    blocks: int = 0
    """Writer blocks committed (the task's counter)."""
    sequence: int = 0
    ops: Counter[str] = field(default_factory=Counter)
    provoked: int = 0
    """ConstraintErrors the task provoked on purpose."""
    rolled_back: int = 0

    def new_row(self, value: int | None = None) -> tuple[int, int, int, str]:
        self.sequence += 1
        row_id = self.number * 1_000_000 + self.sequence
        if value is None:
            value = self.rng.randrange(0, 1000)
        return row_id, self.number, value, f"t{self.number}-{self.sequence}"

    def taken_tag(self) -> str:
        """The tag of one of this task's committed rows (inserting it again must fail)."""
        row_id = self.rng.choice(list(self.rows))
        return f"t{self.number}-{row_id - self.number * 1_000_000}"


class Mix:
    """The operations, each checking its own result against the task's state."""

    def __init__(self, fw: Framework, pool: aiolite.Pool) -> None:
        self.fw = fw
        self.pool = pool
        self.unexpected: list[BaseException] = []

    async def run(self, task: Task, until: float) -> None:
        while self.fw.now() < until:
            if task.rng.random() < 0.5:
                op = task.rng.choices(WRITES, WRITE_WEIGHTS)[0]
            else:
                op = task.rng.choice(READS)
            if not task.rows and op in ("bad-insert", "update"):
                op = "insert"
            try:
                await getattr(self, op.replace("-", "_"))(task)
            except Exception as exc:
                self.unexpected.append(exc)
                return
            task.ops[op] += 1

    async def expect_constraint_error(self, task: Task, write: Any) -> None:
        try:
            await write
        except apsw.ConstraintError:
            task.provoked += 1
        else:
            raise AssertionError("a write that breaks a constraint succeeded")

    # ---------------------------------------------------------------- writes

    async def insert(self, task: Task) -> None:
        row = task.new_row()
        result = await self.pool.execute(INSERT, row)
        assert result.changes == 1
        assert result.lastrowid == row[0]
        task.rows[row[0]] = row[2]

    async def bad_insert(self, task: Task) -> None:
        row_id, owner, value, tag = task.new_row()
        if task.rng.random() < 0.5:
            bad = (row_id, owner, value, task.taken_tag())  # UNIQUE
        else:
            bad = (row_id, owner, -1, tag)  # CHECK
        await self.expect_constraint_error(task, self.pool.execute(INSERT, bad))

    async def update(self, task: Task) -> None:
        row_id = task.rng.choice(list(task.rows))
        result = await self.pool.execute(
            "UPDATE items SET value = value + 1 WHERE id = ? RETURNING value", (row_id,)
        )
        assert result.changes == 1
        assert result.rows == [(task.rows[row_id] + 1,)]
        task.rows[row_id] += 1

    async def executemany(self, task: Task) -> None:
        rows = [task.new_row() for _ in range(task.rng.randrange(2, 8))]
        result = await self.pool.executemany(INSERT, rows)
        assert result.changes == len(rows)
        task.rows.update((row[0], row[2]) for row in rows)

    async def bad_executemany(self, task: Task) -> None:
        rows = [task.new_row() for _ in range(task.rng.randrange(1, 6))]
        rows.insert(task.rng.randrange(len(rows) + 1), task.new_row(value=-1))
        await self.expect_constraint_error(task, self.pool.executemany(INSERT, rows))

    async def writer(self, task: Task) -> None:
        """A writer block: rows through the block's connection and through pool.execute."""
        fail = task.rng.random() < 0.2
        added: dict[int, int] = {}
        try:
            async with self.pool.writer() as db:
                row = task.new_row()
                await db.execute(INSERT, row)
                added[row[0]] = row[2]
                row = task.new_row()
                await self.pool.execute(INSERT, row)  # joins the block's transaction
                added[row[0]] = row[2]
                if task.rows and task.rng.random() < 0.5:
                    # A failing statement inside the block undoes only itself.
                    bad = (*task.new_row()[:3], task.taken_tag())
                    await self.expect_constraint_error(task, db.execute(INSERT, bad))
                await db.execute(
                    "INSERT INTO counters VALUES (?, 1) ON CONFLICT(task) DO UPDATE SET n = n + 1",
                    (task.number,),
                )
                got = await self.pool.fetchval(
                    "SELECT n FROM counters WHERE task = ?", (task.number,)
                )
                assert got == task.blocks + 1  # reads in the block see its writes
                if fail:
                    raise Rollback
        except Rollback:
            task.rolled_back += 1
            return
        task.rows.update(added)
        task.blocks += 1

    # ----------------------------------------------------------------- reads

    async def fetchall(self, task: Task) -> None:
        rows = await self.pool.fetchall(OWN_ROWS, (task.number,))
        assert rows == sorted(task.rows.items())

    async def fetchone(self, task: Task) -> None:
        if not task.rows:
            assert await self.pool.fetchone(OWN_ROWS, (task.number,)) is None
            return
        row_id = task.rng.choice(list(task.rows))
        row = await self.pool.fetchone("SELECT owner, value FROM items WHERE id = ?", (row_id,))
        assert row == (task.number, task.rows[row_id])

    async def fetchval(self, task: Task) -> None:
        count = await self.pool.fetchval(
            "SELECT count(*) FROM items WHERE owner = ?", (task.number,)
        )
        assert count == len(task.rows)

    async def reader(self, task: Task) -> None:
        """Two queries on one snapshot (a read transaction on a reader)."""
        async with self.pool.reader() as db, db:
            count = await (
                await db.execute("SELECT count(*) FROM items WHERE owner = ?", (task.number,))
            ).get
            total = await (
                await db.execute(
                    "SELECT coalesce(sum(value), 0) FROM items WHERE owner = ?", (task.number,)
                )
            ).get
        assert (count, total) == (len(task.rows), sum(task.rows.values()))

    async def stream(self, task: Task) -> None:
        async with self.pool.reader() as db:
            seen = [(row_id, value) async for row_id, value in db.execute(OWN_ROWS, (task.number,))]
        assert seen == sorted(task.rows.items())


def read_back(path: str) -> tuple[dict[int, tuple[int, int]], dict[int, int], str]:
    conn = apsw.Connection(path)
    try:
        items = {
            row_id: (owner, value)
            for row_id, owner, value in conn.execute("SELECT id, owner, value FROM items")
        }
        counters = dict(conn.execute("SELECT task, n FROM counters").fetchall())
        return items, counters, str(conn.execute("PRAGMA integrity_check").get)
    finally:
        conn.close()


async def test_load(fw: Framework, tmp_path: Path, figures: Figures) -> None:
    seed = int(os.environ.get("AIOLITE_STRESS_SEED") or random.SystemRandom().randrange(2**32))
    tasks_count = scaled(250, 1_000)
    seconds = scaled(2.0, 25.0)
    print(f"load under {fw.name}: seed {seed} (AIOLITE_STRESS_SEED)")
    rng = random.Random(seed)
    tasks = [Task(number, random.Random(rng.random())) for number in range(tasks_count)]
    path = str(tmp_path / "load.db")

    async with aiolite.open_pool(path, readers=4) as pool:
        await pool.execute(SCHEMA)
        mix = Mix(fw, pool)
        started = perf_counter()
        async with fw.fail_after(seconds + scaled(60, 300)), fw.task_group() as tg:
            until = fw.now() + seconds
            for task in tasks:
                tg.start_propagating(mix.run, task, until)
        elapsed = perf_counter() - started
        stats = pool.stats()
        assert await pool.fetchval("SELECT count(*) FROM counters") == sum(
            t.blocks > 0 for t in tasks
        )

    items, counters, integrity = read_back(path)
    expected = {row_id: (t.number, value) for t in tasks for row_id, value in t.rows.items()}
    lost = sum(items.get(row_id) != row for row_id, row in expected.items())
    lost += sum(counters.get(t.number, 0) != t.blocks for t in tasks)
    phantoms = sorted(set(items) - set(expected))

    ops: Counter[str] = Counter()
    for t in tasks:
        ops.update(t.ops)
    provoked = sum(t.provoked for t in tasks)
    figures.ops = sum(ops.values())
    figures.faults = provoked + sum(t.rolled_back for t in tasks)
    figures.errors["ConstraintError"] += provoked
    for exc in mix.unexpected:
        figures.error(exc)
    figures.rows_lost = lost
    figures.notes = (
        f"seed {seed}; {tasks_count:,} tasks for {seconds:g} s: "
        f"{figures.ops / elapsed:,.0f} ops/s, "
        f"{sum(ops[r] for r in READS):,} reads, {sum(ops[w] for w in WRITES):,} writes, "
        f"{len(expected):,} rows; {stats.commits:,} group commits of "
        f"{stats.writes / max(stats.commits, 1):.1f} writes on average; "
        f"faults: {provoked} provoked ConstraintErrors, "
        f"{sum(t.rolled_back for t in tasks)} writer blocks rolled back on purpose"
    )
    print(figures.notes)

    assert not mix.unexpected, f"unprovoked errors: {mix.unexpected[:5]!r}"
    assert integrity == "ok"
    assert not phantoms, f"{len(phantoms)} rows nobody was acknowledged for: {phantoms[:5]}"
    # The pool counts the group-committed writes that failed: exactly the provoked ones.
    assert stats.failed_writes == ops["bad-insert"] + ops["bad-executemany"]
    assert stats.timeouts == 0
    assert all(ops[op] for op in (*READS, *WRITES)), ops
