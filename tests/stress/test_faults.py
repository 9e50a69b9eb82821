"""Fault injection: failing writes, full disks and power cuts under aiolite.

The faults come from the VFSes of :mod:`tests.stress.faulty_vfs`, built on
``aiolite.VFS``, so SQLite itself sees them exactly where they would happen
on a real disk. What a user is promised, and what these scenarios check:

- a failed write surfaces as SQLite's own exception, raised unchanged
  (README "Errors"): ``apsw.IOError`` (``SQLITE_IOERR_*``) or
  ``apsw.FullError`` (``SQLITE_FULL``), through a connection and through the
  pool alike (the pool only turns ``BusyError`` into ``PoolTimeout``);
- all or nothing: every acknowledged transaction is in the database with
  its content, none that raised is;
- the database stays intact (``PRAGMA integrity_check`` after reopening
  without the faulty VFS);
- once the faults stop, the same connection or pool writes and reads again,
  with nothing for the user to do (SQLite rolls back and leaves its error
  state by itself when the failed statement ends);
- after a power cut, what survives depends on ``synchronous`` (see
  :func:`test_power_cut_durability_by_synchronous`).
"""

from __future__ import annotations

import contextlib
import itertools
import random
import zlib
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any

import apsw
import pytest

import aiolite
from tests.frameworks import Framework
from tests.stress.conftest import Figures, scaled
from tests.stress.faulty_vfs import FaultPlan, FaultyVFS, PowerCutVFS

pytestmark = pytest.mark.timeout(scaled(120, 1800))

DOCUMENTED = (apsw.IOError, apsw.FullError)
"""What a failed write or sync raises: SQLite's errors, as APSW's classes."""

ALL_METHODS = frozenset({"xWrite", "xSync", "xTruncate"})


def seed_of(*parts: str) -> int:
    """A seed that is the same in every run (``hash`` of a str is not)."""
    return zlib.crc32(" ".join(parts).encode())


def payload(row_id: int) -> bytes:
    """Known content for a row, big enough that transactions span pages."""
    return (f"{row_id:08d}".encode() * 400)[: 1500 + row_id % 2000]


def create_table(path: str) -> None:
    with contextlib.closing(apsw.Connection(path)) as conn:
        conn.pragma("journal_mode", "wal")
        conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")


def check_database(path: str, acked: set[int], failed: set[int]) -> tuple[int, int, str]:
    """Reopen without any test VFS: (acked rows lost or changed, failed rows present, integrity)."""
    with contextlib.closing(apsw.Connection(path)) as conn:
        integrity = str(conn.execute("PRAGMA integrity_check").get)
        rows: dict[Any, Any] = {row[0]: row[1] for row in conn.execute("SELECT id, v FROM t")}
    lost = sum(1 for i in acked if rows.get(i) != payload(i))
    phantoms = sum(1 for i in failed if i in rows)
    return lost, phantoms, integrity


def arm_phase(plan: FaultPlan, rng: random.Random) -> str:
    """Arm the plan for one phase, in one of three shapes chosen by ``rng``."""
    shape = rng.choice(("rate", "nth", "after"))
    if shape == "rate":
        plan.arm(rate=rng.choice((0.02, 0.05, 0.15)))
    elif shape == "nth":
        plan.arm(nth=rng.randint(1, 40))
    else:
        plan.arm(after=rng.randint(1, 60))
    return shape


class Ledger:
    """One fault scenario's database, fault plan, and what it was told about each row.

    ``attempt`` runs one transaction and files its rows under acknowledged
    or failed; a failure must be one of the documented error types (any
    other exception fails the scenario). ``settle`` reopens the database
    without the faulty VFS and fills the figures.
    """

    def __init__(self, path: str, figures: Figures, *seed_parts: str) -> None:
        create_table(path)
        self.path = path
        self.figures = figures
        seed = seed_of(*seed_parts)
        self.rng = random.Random(seed)
        self.plan = FaultPlan(seed=seed, methods=ALL_METHODS)
        self.acked: set[int] = set()
        self.failed: set[int] = set()
        self._ids = itertools.count(1)

    @contextlib.contextmanager
    def faulty_vfs(self, methods: str) -> Iterator[str]:
        """The name of a :class:`FaultyVFS` on this plan with sync or async methods."""
        vfs = FaultyVFS(self.plan, async_methods=methods == "async")
        try:
            yield vfs.name
        finally:
            vfs.unregister()

    def new_ids(self, n: int) -> list[int]:
        return [next(self._ids) for _ in range(n)]

    async def attempt(self, transaction: Awaitable[Any], ids: list[int]) -> None:
        self.figures.ops += 1
        try:
            await transaction
        except DOCUMENTED as exc:
            self.figures.error(exc)
            self.failed.update(ids)
        else:
            self.acked.update(ids)

    def settle(self) -> None:
        lost, phantoms, integrity = check_database(self.path, self.acked, self.failed)
        self.figures.faults = self.plan.faults
        self.figures.rows_lost = lost
        assert integrity == "ok", integrity
        assert phantoms == 0, f"{phantoms} rows of failed transactions are in the database"
        assert self.plan.faults > 0, "the scenario injected no fault"
        assert sum(self.figures.errors.values()) > 0, "no fault reached a caller"


# ----------------------------------------------------------------- connection


async def connection_transaction(db: aiolite.Connection[Any], ids: list[int]) -> None:
    """One transaction of a shape picked from its first id: block, autocommit or many."""
    shape = ids[0] % 3
    if shape == 0:
        async with db:
            for i in ids:
                await db.execute("INSERT INTO t VALUES (?, ?)", (i, payload(i)))
    elif shape == 1:
        values = ", ".join("(?, ?)" for _ in ids)
        await db.execute(
            f"INSERT INTO t VALUES {values}", [x for i in ids for x in (i, payload(i))]
        )
    else:
        async with db.transaction("immediate"):
            await db.executemany("INSERT INTO t VALUES (?, ?)", [(i, payload(i)) for i in ids])


@pytest.mark.frameworks("asyncio", "trio", "anyio-asyncio", "anyio-trio", "uvloop")
@pytest.mark.parametrize("journal", ["wal", "delete"])
@pytest.mark.parametrize("methods", ["sync", "async"])
async def test_connection_survives_write_faults(
    fw: Framework, tmp_path: Path, figures: Figures, journal: str, methods: str
) -> None:
    """Transactions on one ``aiolite.connect`` connection while writes, syncs and
    truncates of the database, WAL and journal fail (I/O error or disk full).

    Phases alternate: faults armed (random rate, the Nth call, or every call
    after a trigger), then disarmed, when the same connection must write and
    read at once and count exactly the acknowledged rows.
    """
    ledger = Ledger(str(tmp_path / "faults.db"), figures, fw.name, journal, methods)
    plan, rng = ledger.plan, ledger.rng
    phases, per_phase = scaled(6, 60), scaled(25, 60)
    pragmas = {"journal_mode": journal, "wal_autocheckpoint": 8, "cache_size": 8}
    with ledger.faulty_vfs(methods) as vfs:
        async with aiolite.connect(ledger.path, vfs=vfs, pragmas=pragmas) as db:
            for _ in range(phases):
                arm_phase(plan, rng)
                for _ in range(per_phase):
                    batch = ledger.new_ids(rng.randint(1, 4))
                    await ledger.attempt(connection_transaction(db, batch), batch)
                plan.disarm()
                # Recovery: the same connection, at once, with nothing done by us.
                marker = ledger.new_ids(1)
                figures.ops += 1
                await connection_transaction(db, marker)
                ledger.acked.update(marker)
                count = await (await db.execute("SELECT count(*) FROM t")).get
                assert count == len(ledger.acked)
    figures.notes = f"{methods} x-methods, {journal} journal"
    ledger.settle()


# ----------------------------------------------------------------------- pool


@pytest.mark.parametrize("methods", ["sync", "async"])
async def test_pool_survives_write_faults(
    fw: Framework, tmp_path: Path, figures: Figures, methods: str
) -> None:
    """Concurrent group-committed writes, ``executemany`` and writer blocks on a
    pool (``open_pool(..., vfs=...)``) while writes and syncs fail.

    A failed batch fails every write in it with the same documented error
    (they shared its transaction); none of them may be in the database. After
    each phase the same pool writes and reads again.
    """
    ledger = Ledger(str(tmp_path / "pool-faults.db"), figures, fw.name, methods, "pool")
    plan, rng = ledger.plan, ledger.rng
    phases, tasks = scaled(5, 40), scaled(40, 200)
    pragmas = {"wal_autocheckpoint": 8, "cache_size": 8}
    with ledger.faulty_vfs(methods) as vfs:
        async with aiolite.open_pool(ledger.path, vfs=vfs, readers=2, pragmas=pragmas) as pool:
            for _ in range(phases):
                arm_phase(plan, rng)
                for _ in range(3):
                    async with fw.task_group() as group:
                        for _ in range(tasks):
                            batch = ledger.new_ids(rng.choice((1, 1, 1, 3)))
                            group.start_propagating(ledger.attempt, pool_write(pool, batch), batch)
                plan.disarm()
                marker = ledger.new_ids(1)
                figures.ops += 1
                await pool_write(pool, marker)
                ledger.acked.update(marker)
                assert await pool.fetchval("SELECT count(*) FROM t") == len(ledger.acked)
                async with pool.writer() as db:
                    count = await (await db.execute("SELECT count(*) FROM t")).get
                    assert count == len(ledger.acked)
    figures.notes = f"{methods} x-methods; rows of failed writes: {len(ledger.failed)}"
    ledger.settle()


async def pool_write(pool: aiolite.Pool, ids: list[int]) -> None:
    """One pool write of a shape picked from its first id: writer block, many or one."""
    if ids[0] % 5 == 0:
        async with pool.writer() as db:
            for i in ids:
                await db.execute("INSERT INTO t VALUES (?, ?)", (i, payload(i)))
    elif len(ids) > 1:
        await pool.executemany("INSERT INTO t VALUES (?, ?)", [(i, payload(i)) for i in ids])
    else:
        await pool.execute("INSERT INTO t VALUES (?, ?)", (ids[0], payload(ids[0])))


# ------------------------------------------------------------------ power cut


class PowerCutRound:
    """One round: writers on a pool over a :class:`PowerCutVFS` until the power goes.

    ``acked`` maps each write acknowledged before the cut to the number of
    WAL syncs done when it was acknowledged (a later sync makes it durable
    at ``synchronous=NORMAL``).
    """

    def __init__(self, fw: Framework, path: str, figures: Figures, target: int) -> None:
        self.fw = fw
        self.path = path
        self.figures = figures
        self.target = target
        self.vfs = PowerCutVFS()
        self.acked: dict[int, int] = {}
        self.cut = fw.event()
        self.close_failed = False

    async def run(self, synchronous: str, checkpoint_pages: int, ids: Iterator[int]) -> None:
        pool = await aiolite.open_pool(
            self.path,
            vfs=self.vfs.name,
            readers=1,
            synchronous=synchronous,  # type: ignore[arg-type]
            pragmas={"wal_autocheckpoint": checkpoint_pages},
        )
        async with self.fw.task_group() as group:
            for _ in range(8):
                group.start_propagating(self.writer, pool, ids)
        try:
            await pool.close()
        except apsw.Error:
            self.close_failed = True  # closing read back what the dead disk never stored

    async def writer(self, pool: aiolite.Pool, ids: Iterator[int]) -> None:
        vfs = self.vfs
        while not self.cut.is_set():
            row_id = next(ids)
            self.figures.ops += 1
            row = (row_id, payload(row_id))
            try:
                if row_id % 7 == 0:
                    async with pool.writer() as db:
                        await db.execute("INSERT INTO t VALUES (?, ?)", row)
                else:
                    await pool.execute("INSERT INTO t VALUES (?, ?)", row)
            except apsw.Error:
                if vfs.power_off:
                    return  # SQLite read back a write the dead disk never stored
                raise
            if vfs.power_off:
                return  # the machine is dead: nobody saw this acknowledgement
            self.acked[row_id] = vfs.sync_count[self.path + "-wal"]
            if len(self.acked) >= self.target:
                vfs.cut()
                self.figures.faults += 1
                self.cut.set()


@pytest.mark.frameworks("asyncio")
@pytest.mark.parametrize("writeback", [0.0, 0.5], ids=["synced-only", "reordered"])
@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL", "OFF"])
async def test_power_cut_durability_by_synchronous(
    fw: Framework, tmp_path: Path, figures: Figures, synchronous: str, writeback: float
) -> None:
    """Which acknowledged pool writes survive a power cut, by ``synchronous``.

    Eight writers hammer a WAL pool (group-committed writes and writer
    blocks); after a random number of acknowledgements the power goes: every
    later write, sync and delete is dropped, the pool is closed, and every
    file is put back in its last-synced state (``synced-only``), or with
    each unsynced write surviving with probability 1/2 in any order
    (``reordered``: the OS wrote some pages back on its own). Then the
    database is reopened without the VFS. Many rounds, one database.

    ``rows_lost`` counts the acknowledged writes the setting *guarantees*
    that are missing, and must be 0:

    - FULL: every acknowledged write (the WAL is synced at every commit);
    - NORMAL: the writes acknowledged before the WAL's last sync (each
      checkpoint syncs it); later ones may be lost, and that number is the
      point of the experiment: it is in the notes as "acked writes lost at
      NORMAL", not in ``rows_lost``;
    - OFF: none (nothing is ever synced); the notes say what was lost and
      how often the database was corrupt.

    At FULL and NORMAL the database must pass ``integrity_check`` after
    every cut; at OFF the result is reported, not asserted.
    """
    path = str(tmp_path / "power.db")
    create_table(path)
    rng = random.Random(seed_of(synchronous, str(writeback)))
    rounds = scaled(6, 40)
    ids = itertools.count(1)
    acked = lost_total = lost_guaranteed = corrupt_rounds = close_failures = 0
    for _ in range(rounds):
        one = PowerCutRound(fw, path, figures, rng.randint(20, scaled(150, 600)))
        try:
            await one.run(synchronous, rng.choice((16, 64, 256)), ids)
        finally:
            one.vfs.restore(writeback, rng)
            one.vfs.unregister()
        close_failures += one.close_failed
        syncs_at_cut = one.vfs.sync_count[path + "-wal"]
        integrity, present = survivors(path)
        if integrity != "ok":
            corrupt_rounds += 1
            assert synchronous == "OFF", f"corrupt at synchronous={synchronous}: {integrity}"
            create_table_again(path)
        missing = [i for i in one.acked if i not in present]
        acked += len(one.acked)
        lost_total += len(missing)
        if synchronous in ("FULL", "EXTRA"):
            lost_guaranteed += len(missing)
        elif synchronous == "NORMAL":
            lost_guaranteed += sum(1 for i in missing if one.acked[i] < syncs_at_cut)
    figures.rows_lost = lost_guaranteed
    figures.notes = (
        f"{'reordered writeback' if writeback else 'synced state only'}: "
        f"acked writes lost at {synchronous}: {lost_total} of {acked}; "
        f"corrupt after {corrupt_rounds} of {rounds} cuts; "
        f"close after the cut failed {close_failures} times"
    )
    if synchronous == "FULL":
        assert lost_total == 0


def survivors(path: str) -> tuple[str, set[int]]:
    """The integrity check's verdict and the ids in the table, read without any test VFS."""
    try:
        with contextlib.closing(apsw.Connection(path)) as conn:
            integrity = str(conn.execute("PRAGMA integrity_check").get)
            if integrity != "ok":
                return integrity, set()
            return integrity, {row[0] for row in conn.execute("SELECT id FROM t")}
    except (apsw.CorruptError, apsw.NotADBError) as exc:
        return f"{type(exc).__name__}: {exc}", set()


def create_table_again(path: str) -> None:
    """After a corrupting cut at OFF, start over on a fresh file."""
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(path + suffix).unlink()
    create_table(path)
