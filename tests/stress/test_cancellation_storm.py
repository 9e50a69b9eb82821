"""Cancellation storm: transfers on a ledger, cancelled at random points, lose nothing.

Each request is one transfer: debit an account, credit another, and log the
transfer (``transfers``) with its two legs (``legs``). Requests run many at a
time on a shared ``aiolite.connect`` connection and on an ``aiolite.open_pool``,
by several routes:

- ``stmt``, ``slow``, ``afn``: one autocommit ``INSERT`` on the shared
  connection whose trigger writes both legs; ``slow`` also counts through a
  recursive CTE first (long enough to be stopped mid-statement), ``afn``
  computes the amount with an ``async def`` SQL function that sleeps in the
  event loop (so cancellations land inside an async callback);
- ``block``: an ``async with db:`` transaction block on the shared connection
  with the statements written out, and in its middle a streamed cursor, a
  slow CTE, an async-function call or just a checkpoint;
- ``pool-stmt``, ``pool-slow``, ``pool-afn``: the single-statement routes as
  group-committed ``pool.execute`` writes;
- ``writer``: the ``block`` body inside ``async with pool.writer()``.

About three in four requests are cancelled by the framework's own means after
a seeded random delay: cancelling the task, a ``fail_after`` timeout block,
or ``aiolite.deadline``. Short delays land while the request is queued,
longer ones mid-statement, mid-stream, inside the async function or while a
block waits for its ``COMMIT``; some task cancellations of blocks are timed
from a point inside the block (blocks spend most of their life waiting for
each other, so timing from the start would rarely reach inside).

Afterwards the books must balance exactly: every acknowledged transfer is
there with both legs, every logged transfer is complete, each balance is its
opening balance plus its legs, the total is unchanged, both files pass
``PRAGMA integrity_check``, and every connection still answers.

A cancelled transfer must be absent, with the exception the README states
("Cancellation and deadlines"): a cancellation cannot undo what is already
past its last check (a ``COMMIT`` under way, a short statement, a
group-committed write whose savepoint was released while the rest of its
batch runs); the caller sees the cancellation and the change is committed.
Those are counted apart ("cancelled but committed"), split by whether the
cancellation arrived after the ``COMMIT`` began (the commit hook's time) or
earlier, while the request still ran. For transaction blocks the test asserts
the cancellation came after the block's body had finished, while only its
``COMMIT`` was in flight: a block cancelled anywhere in its body must be
rolled back.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from time import monotonic
from typing import Any

import apsw
import trio

import aiolite
from tests.frameworks import Framework, TaskHandle
from tests.stress.conftest import Figures, scaled

ACCOUNTS = 16
OPENING_BALANCE = 1_000_000
WORKERS = 24
"""Requests in flight at once (each worker task runs its requests one after another)."""

SCHEMA = f"""
CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
CREATE TABLE transfers(
    id TEXT PRIMARY KEY, src INTEGER NOT NULL, dst INTEGER NOT NULL,
    amount INTEGER NOT NULL, route TEXT NOT NULL, auto INTEGER NOT NULL,
    CHECK (src != dst)
);
CREATE TABLE legs(
    transfer_id TEXT NOT NULL, account INTEGER NOT NULL, delta INTEGER NOT NULL,
    UNIQUE (transfer_id, account)
);
CREATE TRIGGER transfer_legs AFTER INSERT ON transfers WHEN NEW.auto = 1 BEGIN
    UPDATE accounts SET balance = balance - NEW.amount WHERE id = NEW.src;
    INSERT INTO legs VALUES (NEW.id, NEW.src, -NEW.amount);
    UPDATE accounts SET balance = balance + NEW.amount WHERE id = NEW.dst;
    INSERT INTO legs VALUES (NEW.id, NEW.dst, NEW.amount);
END;
WITH RECURSIVE a(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM a WHERE id < {ACCOUNTS})
INSERT INTO accounts SELECT id, {OPENING_BALANCE} FROM a;
"""

# ?1 id, ?2 src, ?3 dst, ?4 amount, ?5 route, ?6 the route's parameter
INSERT_PLAIN = "INSERT INTO transfers VALUES (mark(?1), ?2, ?3, ?4, ?5, 1)"
INSERT_SLOW = (
    "INSERT INTO transfers "
    "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < ?6) "
    "SELECT mark(?1), ?2, ?3, ?4, ?5, 1 FROM (SELECT max(n) AS m FROM c) WHERE m = ?6"
)
INSERT_ASYNC_FN = "INSERT INTO transfers VALUES (mark(?1), ?2, ?3, slow_amount(?4, ?6), ?5, 1)"
COUNT_TO = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < ?) "
STREAM = COUNT_TO + "SELECT n FROM c"
SLOW_SELECT = COUNT_TO + "SELECT max(n) FROM c"

STATEMENT_SQL = {"stmt": INSERT_PLAIN, "slow": INSERT_SLOW, "afn": INSERT_ASYNC_FN}
ROUTES = ("stmt", "slow", "afn", "block", "pool-stmt", "pool-slow", "pool-afn", "writer")
BLOCK_ROUTES = ("block", "writer")
MIDDLES = ("checkpoint", "stream", "slow", "afn")


@dataclass
class Transfer:
    id: str
    route: str
    src: int
    dst: int
    amount: int
    param: int
    """Rows to count (slow, stream) or microseconds to sleep (afn)."""
    middle: str
    """What a block does between its debit and its credit."""
    cancel: str
    """none, task, timeout or deadline."""
    target: str | None
    """For some task cancellations: the block's phase from which ``delay`` is timed."""
    checkpoints: int
    delay: float
    outcome: str = "pending"
    """acked, cancelled or failed."""
    phase: str = "start"
    """Blocks: "body" once inside, the middle's name during it, "commit" once the body finished."""
    cancelled_at: float | None = None
    """time.monotonic() when the cancellation was delivered (at the earliest)."""
    error: BaseException | None = None
    reached: Any = None
    """Set when the transfer reaches ``target`` (or ends), for the canceller."""

    def enter(self, phase: str) -> None:
        self.phase = phase
        if phase == self.target and self.reached is not None:
            self.reached.set()


class CommitClock:
    """Worker side: when the COMMIT holding each transfer began (the commit hook's time).

    ``mark(id)`` sits in each transfer's INSERT; the commit hook stamps every
    id marked since the last commit or rollback.
    """

    def __init__(self) -> None:
        self.marked: list[str] = []
        self.committed_at: dict[str, float] = {}
        self.callbacks_cancelled = 0
        """Async SQL function calls that a cancellation (or deadline) stopped part way."""

    def mark(self, transfer_id: str) -> str:
        self.marked.append(transfer_id)
        return transfer_id

    def on_commit(self) -> bool:
        now = monotonic()
        for transfer_id in self.marked:
            self.committed_at[transfer_id] = now
        self.marked.clear()
        return False

    def on_rollback(self) -> None:
        self.marked.clear()

    async def install(self, db: aiolite.Connection[Any], fw: Framework) -> None:
        async def slow_amount(amount: int, micros: int) -> int:
            try:
                await fw.sleep(micros / 1e6)
            except BaseException:
                self.callbacks_cancelled += 1
                raise
            return amount

        await db.create_scalar_function("mark", self.mark, 1)
        await db.create_scalar_function("slow_amount", slow_amount, 2)
        await db.set_commit_hook(self.on_commit)
        await db.set_rollback_hook(self.on_rollback)


def plan(rng: random.Random, fw: Framework, count: int) -> list[Transfer]:
    transfers = []
    for i in range(count):
        route = rng.choice(ROUTES)
        src, dst = rng.sample(range(1, ACCOUNTS + 1), 2)
        middle = rng.choice(MIDDLES)
        if route.endswith("afn") or (middle == "afn" and route in BLOCK_ROUTES):
            # (Only blocks have a middle: a slow INSERT given 0 rows to count
            # inserts nothing, which read as an acknowledged transfer lost.)
            param = rng.randrange(0, 3000)  # microseconds in the event loop
        elif middle == "stream" and route in BLOCK_ROUTES:
            param = rng.randrange(1, 4000)  # rows streamed
        else:
            param = rng.randrange(1, 40_000)  # rows counted: up to some milliseconds
        cancel = rng.choices(("none", "task", "timeout", "deadline"), (25, 35, 20, 20))[0]
        target = None
        if cancel == "task" and route in BLOCK_ROUTES and rng.random() < 0.6:
            # Blocks mostly wait their turn behind other blocks, so a cancellation
            # timed from the start lands before BEGIN; these are timed from a
            # point inside the block instead.
            target = rng.choice(("body", middle, "commit"))
            checkpoints, delay = 0, rng.uniform(0.0, 0.001)
        elif rng.random() < 0.1:
            # Almost at once: queued behind the other requests.
            checkpoints, delay = rng.randrange(0, 3), rng.uniform(0.00001, 0.0003)
        else:
            checkpoints, delay = 0, rng.uniform(0.0002, 0.015)
        transfers.append(
            Transfer(
                f"{fw.name}-{i}",
                route,
                src,
                dst,
                rng.randrange(1, 1000),
                param,
                middle,
                cancel,
                target,
                checkpoints,
                delay,
            )
        )
    return transfers


class Ledger:
    """The shared connection, the pool, and how each route runs one transfer."""

    def __init__(
        self,
        fw: Framework,
        db: aiolite.Connection[Any],
        pool: aiolite.Pool,
        db_clock: CommitClock,
        pool_clock: CommitClock,
    ) -> None:
        self.fw = fw
        self.db = db
        self.pool = pool
        self.clocks = {"db": db_clock, "pool": pool_clock}

    async def perform(self, t: Transfer) -> None:
        args: tuple[Any, ...] = (t.id, t.src, t.dst, t.amount, t.route, t.param)
        if t.route.endswith("stmt"):
            args = args[:5]  # the plain INSERT has no parameter
        if t.route in STATEMENT_SQL:
            await self.db.execute(STATEMENT_SQL[t.route], args)
        elif t.route.startswith("pool-"):
            await self.pool.execute(STATEMENT_SQL[t.route[5:]], args)
        elif t.route == "block":
            async with self.db:
                await self.body(self.db, t)
        else:
            async with self.pool.writer() as writer:
                await self.body(writer, t)

    async def body(self, db: aiolite.Connection[Any], t: Transfer) -> None:
        t.enter("body")
        await db.execute(
            "UPDATE accounts SET balance = balance - ? WHERE id = ?", (t.amount, t.src)
        )
        await db.execute("INSERT INTO legs VALUES (?, ?, ?)", (t.id, t.src, -t.amount))
        t.enter(t.middle)
        if t.middle == "stream":
            total = 0
            async for (n,) in db.execute(STREAM, (t.param,)):
                total += n
                if n % 500 == 0:
                    await self.fw.checkpoint()
            assert total == t.param * (t.param + 1) // 2, "the stream lost or repeated rows"
        elif t.middle == "slow":
            assert await (await db.execute(SLOW_SELECT, (t.param,))).get == t.param
        elif t.middle == "afn":
            assert await (await db.execute("SELECT slow_amount(1, ?)", (t.param,))).get == 1
        else:
            await self.fw.checkpoint()
        t.enter("body")
        await db.execute(
            "UPDATE accounts SET balance = balance + ? WHERE id = ?", (t.amount, t.dst)
        )
        await db.execute("INSERT INTO legs VALUES (?, ?, ?)", (t.id, t.dst, t.amount))
        await db.execute(
            "INSERT INTO transfers VALUES (mark(?), ?, ?, ?, ?, 0)",
            (t.id, t.src, t.dst, t.amount, t.route),
        )
        t.enter("commit")

    async def run(self, t: Transfer, errors: list[BaseException]) -> None:
        """Run one transfer under its cancellation and record how it ended."""
        fw = self.fw
        try:
            if t.cancel == "task":
                await self._run_as_task(t)
                return
            if t.cancel == "timeout":
                t.cancelled_at = monotonic() + t.delay
                async with fw.fail_after(t.delay):
                    await self.perform(t)
            elif t.cancel == "deadline":
                t.cancelled_at = monotonic() + t.delay
                with aiolite.contextvar_set(aiolite.deadline, aiolite.current_time() + t.delay):
                    await self.perform(t)
            else:
                await self.perform(t)
            t.outcome = "acked"
        except (TimeoutError, trio.TooSlowError) as exc:
            t.outcome = "failed" if t.cancel == "none" else "cancelled"
            errors.append(exc)
        except Exception as exc:
            t.outcome = "failed"
            t.error = exc
            errors.append(exc)

    async def _run_as_task(self, t: Transfer) -> None:
        async def perform() -> None:
            try:
                await self.perform(t)
            finally:
                if t.reached is not None:
                    t.reached.set()  # never reached its target: the canceller stops waiting

        async def cancel_later(handle: TaskHandle) -> None:
            if t.reached is not None:
                await t.reached.wait()
            for _ in range(t.checkpoints):
                await self.fw.checkpoint()
            await self.fw.sleep(t.delay)
            if not handle.finished:
                t.cancelled_at = monotonic()
                handle.cancel()

        if t.target is not None:
            t.reached = self.fw.event()
        async with self.fw.task_group() as tg:
            handle = tg.start_soon(perform)
            tg.start_soon(cancel_later, handle)
        if handle.cancelled:
            t.outcome = "cancelled"
        elif handle.error is not None:
            raise handle.error
        else:
            t.outcome = "acked"


@dataclass
class Books:
    """What the database holds once everything is closed."""

    transfers: dict[str, tuple[int, int, int, str]]
    legs: dict[str, set[tuple[int, int]]]
    balances: dict[int, int]
    integrity: str


def read_books(path: str) -> Books:
    conn = apsw.Connection(path)
    try:
        transfers = {
            row[0]: (row[1], row[2], row[3], row[4])
            for row in conn.execute("SELECT id, src, dst, amount, route FROM transfers")
        }
        legs: dict[str, set[tuple[int, int]]] = {}
        for transfer_id, account, delta in conn.execute("SELECT * FROM legs"):
            legs.setdefault(transfer_id, set()).add((account, delta))
        balances = dict(conn.execute("SELECT id, balance FROM accounts").fetchall())
        integrity = conn.execute("PRAGMA integrity_check").get
        return Books(transfers, legs, balances, str(integrity))
    finally:
        conn.close()


def unbalanced(books: Books) -> int:
    """Incomplete transfers, orphan legs and wrong balances (each counts as a lost row)."""
    bad = 0
    expected = dict.fromkeys(range(1, ACCOUNTS + 1), OPENING_BALANCE)
    for transfer_id, (src, dst, amount, _route) in books.transfers.items():
        if books.legs.get(transfer_id) != {(src, -amount), (dst, amount)}:
            bad += 1
    bad += sum(1 for transfer_id in books.legs if transfer_id not in books.transfers)
    for leg_set in books.legs.values():
        for account, delta in leg_set:
            expected[account] += delta
    bad += sum(1 for account, balance in books.balances.items() if expected[account] != balance)
    if sum(books.balances.values()) != ACCOUNTS * OPENING_BALANCE:
        bad += 1
    return bad


async def storm(
    fw: Framework, folder: Path, transfers: list[Transfer]
) -> tuple[list[BaseException], CommitClock, CommitClock]:
    db_clock, pool_clock = CommitClock(), CommitClock()
    errors: list[BaseException] = []
    async with (
        aiolite.connect(str(folder / "ledger.db")) as db,
        aiolite.open_pool(str(folder / "pool-ledger.db"), readers=2) as pool,
    ):
        await db.execute(SCHEMA)
        await pool.execute(SCHEMA)
        await db_clock.install(db, fw)
        await pool_clock.install(pool.writer_connection, fw)
        ledger = Ledger(fw, db, pool, db_clock, pool_clock)
        queue = iter(transfers)

        async def worker() -> None:
            for t in queue:
                await ledger.run(t, errors)

        try:
            async with fw.fail_after(scaled(60, 1500)), fw.task_group() as tg:
                for _ in range(WORKERS):
                    tg.start_propagating(worker)
        except BaseException:
            stuck = [t for t in transfers if t.outcome == "pending"]
            print("unfinished transfers:", *stuck[:WORKERS], sep="\n")
            raise

        # Every connection still answers, outside any transaction, and still writes.
        async with fw.fail_after(30):
            assert not db.in_transaction
            assert not pool.writer_connection.in_transaction
            assert await (await db.execute("SELECT count(*) FROM accounts")).get == ACCOUNTS
            assert await pool.fetchval("SELECT count(*) FROM accounts") == ACCOUNTS
            async with pool.reader() as reader:
                assert await (await reader.execute("PRAGMA integrity_check")).get == "ok"
            await pool.execute("UPDATE accounts SET balance = balance WHERE id = 1")
            async with db:
                await db.execute("UPDATE accounts SET balance = balance WHERE id = 1")
    return errors, db_clock, pool_clock


def is_cancellation(exc: BaseException, fw: Framework) -> bool:
    return isinstance(exc, (TimeoutError, trio.TooSlowError, fw.cancelled_error))


def on_pool(t: Transfer) -> bool:
    return t.route.startswith("pool-") or t.route == "writer"


async def test_cancellation_storm(fw: Framework, tmp_path: Path, figures: Figures) -> None:
    seed = int(os.environ.get("AIOLITE_STRESS_SEED") or random.SystemRandom().randrange(2**32))
    print(f"cancellation storm under {fw.name}: seed {seed} (AIOLITE_STRESS_SEED)")
    transfers = plan(random.Random(seed), fw, scaled(2_000, 10_000))

    errors, db_clock, pool_clock = await storm(fw, tmp_path, transfers)

    figures.ops = len(transfers)
    figures.faults = sum(t.cancel != "none" for t in transfers)
    for exc in errors:
        figures.error(exc)
    figures.errors[fw.cancelled_error.__name__] += sum(
        t.outcome == "cancelled" and t.cancel == "task" for t in transfers
    )

    # The books, read with plain APSW once every connection is closed.
    lost = 0
    committed_anyway: list[tuple[Transfer, float]] = []  # (transfer, its commit hook's time)
    for name, clock, pooled in (
        ("ledger.db", db_clock, False),
        ("pool-ledger.db", pool_clock, True),
    ):
        books = read_books(str(tmp_path / name))
        assert books.integrity == "ok", f"{name}: {books.integrity}"
        lost += unbalanced(books)
        for t in transfers:
            if on_pool(t) != pooled:
                continue
            if t.outcome == "acked" and t.id not in books.transfers:
                lost += 1
            elif t.outcome != "acked" and t.id in books.transfers:
                committed_anyway.append((t, clock.committed_at[t.id]))
    figures.rows_lost = lost

    by_outcome = Counter(t.outcome for t in transfers)
    after_commit = sum(
        t.cancelled_at is not None and t.cancelled_at >= at for t, at in committed_anyway
    )
    landed = Counter(
        t.phase for t in transfers if t.outcome == "cancelled" and t.route in BLOCK_ROUTES
    )
    callbacks = db_clock.callbacks_cancelled + pool_clock.callbacks_cancelled
    figures.notes = (
        f"seed {seed}; {by_outcome['acked']:,} acked, {by_outcome['cancelled']:,} cancelled "
        f"(blocks: {landed['start']} before BEGIN, "
        f"{landed['body'] + landed['checkpoint']} mid-body, {landed['stream']} mid-stream, "
        f"{landed['slow']} mid-statement, {landed['afn']} in an async function, "
        f"{landed['commit']} at COMMIT; {callbacks} async function calls cancelled); "
        f"cancelled but committed: {after_commit} cancelled at/after COMMIT began, "
        f"{len(committed_anyway) - after_commit} earlier, while still running (final "
        "statement, COMMIT, or the rest of their group-commit batch)"
    )
    print(figures.notes)

    unexpected = [t for t in transfers if t.outcome != "acked" and t.outcome != "cancelled"]
    assert not unexpected, f"{len(unexpected)} transfers failed: {unexpected[:3]}"
    assert all(is_cancellation(exc, fw) for exc in errors)
    for t, _ in committed_anyway:
        assert t.outcome == "cancelled"
        # A block's body is undone whatever the cancellation hit: only one whose
        # COMMIT request was already running may have committed.
        assert t.route not in BLOCK_ROUTES or t.phase == "commit", t
    # The storm reached every point it is meant to (a few dozen of each at the reduced size).
    for point in ("body", "stream", "slow", "afn", "commit"):
        assert landed[point], f"no block was cancelled at {point}: {landed}"
    assert callbacks, "no async function call was cancelled part way"
    for route in ROUTES:
        outcomes = Counter(t.outcome for t in transfers if t.route == route)
        assert outcomes["acked"], f"{route}: {outcomes}"
        assert outcomes["cancelled"], f"{route}: {outcomes}"
