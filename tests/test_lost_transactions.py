"""A transaction is all or nothing whatever happens inside it (DESIGN.md, "Transactions").

SQLite rolls back the *whole* transaction, not just the statement, when a
write in it is interrupted (how aiolite stops a cancelled or past-deadline
request) and after some errors. Code that catches the cancellation and
carries on used to run the rest of its block in autocommit: each later
statement committed on its own, and the block's exit failed with "cannot
commit - no transaction is active" (issue 12). Now every later request of
that transaction fails with ``aiolite.TransactionRolledBackError``, the
block's exit raises it, nothing of the block is committed, and the
connection is whole again once the block ends (or, after a ``BEGIN`` run as
a statement, once a ``ROLLBACK`` acknowledges the loss).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import anyio
import apsw
import pytest

import aiolite
from tests.frameworks import Framework
from tests.helpers import ENDLESS_INSERT, GUARD, Db, assert_usable, count_rows, db_path, values

STOP_AFTER = 0.15
"""How long the endless write runs (and writes rows) before it is stopped."""

LOST = aiolite.TransactionRolledBackError
CANCELLED = "because a statement in it was cancelled"
DEADLINE = "because a statement in it ran past its deadline"

# The endless write, plus a sync function that tells the test when it has written rows:
# a cancellation from another task must land while the statement runs, not while it waits.
NOTED_ENDLESS_INSERT = (
    "INSERT INTO t(x) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
    "SELECT note(x) FROM c WHERE x % 1000 = 0"
)


def deadline_in(seconds: float) -> AbstractContextManager[object]:
    return aiolite.contextvar_set(aiolite.deadline, aiolite.current_time() + seconds)


async def make_table(db: Db) -> None:
    await db.execute("CREATE TABLE t(x)")


class Writing:
    """A sync SQL function ``note(x)`` that says when a statement has written a few rows."""

    def __init__(self) -> None:
        self.rows = threading.Event()

    def note(self, x: int) -> int:
        if x >= 3000:
            self.rows.set()
        return x

    async def wait(self) -> None:
        assert await anyio.to_thread.run_sync(self.rows.wait, GUARD), "no rows were written"


async def stop_a_write(fw: Framework, db: Db, how: str, writing: Writing | None = None) -> str:
    """Run an endless INSERT on ``db``, stop it ``how``, catch that; return what the cause says."""
    if how == "timeout":
        with pytest.raises(fw.timeout_error):
            async with fw.fail_after(STOP_AFTER):
                await db.execute(ENDLESS_INSERT)
        # Under trio and anyio a timeout is a scope deadline, which the worker
        # itself sees pass; under asyncio it arrives as a cancellation.
        return CANCELLED if fw.kind == "asyncio" and not fw.anyio else f"({CANCELLED}|{DEADLINE})"
    if how == "deadline":
        with deadline_in(STOP_AFTER), pytest.raises(aiolite.DeadlineExceeded):
            await db.execute(ENDLESS_INSERT)
        return DEADLINE
    assert how == "task"
    assert writing is not None
    # A task started inside the block (so part of it) is cancelled while it writes.
    async with fw.fail_after(GUARD), fw.task_group() as group:
        child = group.start_soon(db.execute, NOTED_ENDLESS_INSERT)
        await writing.wait()
        child.cancel()
    assert child.cancelled
    return CANCELLED


async def prepared(db: Db, how: str) -> Writing | None:
    if how != "task":
        return None
    writing = Writing()
    await db.create_scalar_function("note", writing.note, 1)
    return writing


# ------------------------------------------------------------------ async with db


@pytest.mark.parametrize("how", ["timeout", "deadline", "task"])
async def test_a_write_stopped_and_caught_inside_a_block_fails_the_rest_of_it(
    fw: Framework, tmp_path: Path, how: str
) -> None:
    """The issue's repro: it ended with t == ['b'] and "cannot commit - no transaction"."""
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db, aiolite.connect(path) as other:
        await make_table(db)
        writing = await prepared(db, how)
        assert await count_rows(db) == 0  # (a tiny read: it may run on the loop thread later)
        later: list[BaseException] = []

        async def block() -> None:
            async with db:
                await db.execute("INSERT INTO t VALUES ('a')")
                cause = await stop_a_write(fw, db, how, writing)
                for request in (
                    lambda: db.execute("INSERT INTO t VALUES ('b')"),
                    lambda: count_rows(db),  # a read too: it would have run outside the block
                    lambda: db.executemany("INSERT INTO t VALUES (?)", [("c",)]),
                    lambda: db.pragma("user_version"),
                ):
                    with pytest.raises(LOST, match=cause):
                        await request()
                with pytest.raises(LOST) as nested:
                    async with db:  # a savepoint of a transaction that is gone
                        await db.execute("INSERT INTO t VALUES ('nested')")
                later.append(nested.value)

        with pytest.raises(LOST, match="cannot run or commit") as exited:
            await block()
        assert isinstance(exited.value, apsw.Error)
        assert isinstance(exited.value.__cause__, apsw.InterruptError)
        assert len(later) == 1
        assert later[0] is not exited.value
        assert not db.in_transaction
        assert await count_rows(db) == 0
        assert await count_rows(other) == 0
        # The connection is whole again: blocks and plain statements commit.
        async with db:
            await db.execute("INSERT INTO t VALUES ('after')")
        await db.execute("INSERT INTO t VALUES ('plain')")
        assert await values(other) == ["after", "plain"]


async def test_the_error_raised_inside_the_block_rolls_it_back(
    fw: Framework, tmp_path: Path
) -> None:
    """Not caught, the later request's error ends the block, which rolls back and re-raises it."""
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db:
        await make_table(db)
        raised_inside: list[BaseException] = []

        async def block() -> None:
            async with db:
                await db.execute("INSERT INTO t VALUES ('a')")
                await stop_a_write(fw, db, "timeout")
                try:
                    await db.execute("INSERT INTO t VALUES ('b')")
                except LOST as exc:
                    raised_inside.append(exc)
                    raise

        with pytest.raises(LOST) as raised:
            await block()
        assert raised.value is raised_inside[0]
        assert await count_rows(db) == 0
        await assert_usable(fw, db)


async def test_an_error_that_rolls_back_the_transaction_names_itself(
    fw: Framework, tmp_path: Path
) -> None:
    """Not only cancellation: here a constraint with ON CONFLICT ROLLBACK, no timing involved."""
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db, aiolite.connect(path) as other:
        await db.execute("CREATE TABLE t(x UNIQUE)")

        async def block() -> None:
            async with db:
                await db.execute("INSERT INTO t VALUES ('a')")
                with pytest.raises(aiolite.ConstraintError):
                    await db.execute("INSERT OR ROLLBACK INTO t VALUES ('a')")
                await db.execute("INSERT INTO t VALUES ('b')")

        with pytest.raises(LOST, match="failed with ConstraintError: UNIQUE constraint failed"):
            await block()
        assert await count_rows(other) == 0
        async with db:
            await db.execute("INSERT INTO t VALUES ('b')")
        assert await values(other) == ["b"]


async def test_a_statement_ending_the_blocks_transaction_stops_the_block(
    fw: Framework, tmp_path: Path
) -> None:
    """A COMMIT run inside the block: its later statements would otherwise be autocommitted."""
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db, aiolite.connect(path) as other:
        await make_table(db)

        async def block() -> None:
            async with db:
                await db.execute("INSERT INTO t VALUES ('a')")
                await db.execute("COMMIT")  # the user's own choice: 'a' is committed
                await db.execute("INSERT INTO t VALUES ('b')")

        with pytest.raises(LOST, match="a statement run inside the block ended its transaction"):
            await block()
        assert await values(other) == ["a"]
        async with db:
            await db.execute("INSERT INTO t VALUES ('c')")
        assert await values(other) == ["a", "c"]


async def test_nested_blocks_inside_a_lost_transaction(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db, aiolite.connect(path) as other:
        await make_table(db)
        inner_exit: list[BaseException] = []

        async def block() -> None:
            async with db:
                await db.execute("INSERT INTO t VALUES ('outer')")
                try:
                    async with db:
                        await db.execute("INSERT INTO t VALUES ('inner')")
                        await stop_a_write(fw, db, "timeout")
                except LOST as exc:  # the inner block cannot commit either
                    inner_exit.append(exc)
                await db.execute("INSERT INTO t VALUES ('outer again')")

        with pytest.raises(LOST):
            await block()
        assert len(inner_exit) == 1
        assert await count_rows(other) == 0
        await assert_usable(fw, db)


async def test_other_tasks_are_not_touched_by_a_lost_block(fw: Framework, tmp_path: Path) -> None:
    """Another task's write waits for the block, as always, and then runs on its own."""
    async with aiolite.connect(db_path(tmp_path)) as db:
        await make_table(db)
        inside = fw.event()

        async def lost_block() -> None:
            async with db:
                await db.execute("INSERT INTO t VALUES ('lost')")
                await stop_a_write(fw, db, "timeout")
                inside.set()
                await fw.sleep(0.05)  # the other task's write is waiting for this block
                await db.execute("INSERT INTO t VALUES ('after loss')")

        async def other_task() -> None:
            await inside.wait()
            await db.execute("INSERT INTO t VALUES ('other')")

        async with fw.fail_after(GUARD), fw.task_group() as group:
            lost = group.start_soon(lost_block)
            other = group.start_soon(other_task)
        assert isinstance(lost.error, LOST)
        assert other.error is None
        assert other.finished
        assert await values(db) == ["other"]


# -------------------------------------------------------------- a manual BEGIN


@pytest.mark.parametrize("how", ["timeout", "deadline"])
async def test_a_lost_begin_transaction_fails_every_request_until_rollback(
    fw: Framework, tmp_path: Path, how: str
) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db, aiolite.connect(path) as other:
        await make_table(db)
        await db.execute("BEGIN")
        await db.execute("INSERT INTO t VALUES ('a')")
        cause = await stop_a_write(fw, db, how)
        requests: list[Callable[[], Awaitable[Any]]] = [
            lambda: db.execute("INSERT INTO t VALUES ('b')"),
            lambda: db.execute("COMMIT"),  # never "succeeds" over a transaction that is gone
            lambda: db.execute("END"),
            lambda: db.execute("ROLLBACK TO x"),
            lambda: db.execute("ROLLBACK; INSERT INTO t VALUES ('sneaky')"),
            lambda: db.execute("BEGIN"),
            lambda: count_rows(db),
        ]
        for request in requests:
            with pytest.raises(LOST, match=f"{cause}.*until you execute ROLLBACK"):
                await request()
        with pytest.raises(LOST):
            async with db:
                pass
        assert await count_rows(other) == 0
        # ROLLBACK acknowledges it; from then on the connection is in autocommit.
        cursor = await db.execute(" rollback transaction ;")
        assert await cursor.fetchall() == []
        await db.execute("INSERT INTO t VALUES ('c')")
        assert await values(other) == ["c"]
        with pytest.raises(aiolite.SQLError, match="no transaction is active"):
            await db.execute("ROLLBACK")  # an ordinary ROLLBACK again
        await db.execute("BEGIN")
        await db.execute("INSERT INTO t VALUES ('d')")
        await db.execute("COMMIT")
        assert await values(other) == ["c", "d"]


async def test_a_block_inside_a_lost_begin_transaction(fw: Framework, tmp_path: Path) -> None:
    """The block fails at its exit; the BEGIN around it still needs its ROLLBACK."""
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db, aiolite.connect(path) as other:
        await make_table(db)
        await db.execute("BEGIN")
        await db.execute("INSERT INTO t VALUES ('manual')")

        async def block() -> None:
            async with db:
                await db.execute("INSERT INTO t VALUES ('block')")
                await stop_a_write(fw, db, "timeout")

        with pytest.raises(LOST, match="cannot run or commit"):
            await block()
        with pytest.raises(LOST, match="until you execute ROLLBACK"):
            await db.execute("INSERT INTO t VALUES ('b')")
        await db.execute("ROLLBACK")
        assert await count_rows(other) == 0
        await assert_usable(fw, db)


async def test_committing_or_rolling_back_a_begin_transaction_is_not_a_loss(
    fw: Framework, tmp_path: Path
) -> None:
    """Outside blocks, ending the transaction one began is the point of COMMIT and ROLLBACK."""
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db, aiolite.connect(path) as other:
        await make_table(db)
        for end in ("COMMIT", "ROLLBACK", "END"):
            await db.execute("BEGIN")
            await db.execute("INSERT INTO t VALUES (?)", (end,))
            await db.execute(end)
            await db.execute("INSERT INTO t VALUES (?)", (f"after {end}",))
        await db.execute("BEGIN; INSERT INTO t VALUES ('script'); COMMIT")
        expected = ["COMMIT", "after COMMIT", "after ROLLBACK", "END", "after END", "script"]
        assert await values(other) == expected


# ------------------------------------------------------------------------ pool


@pytest.mark.parametrize("how", ["timeout", "deadline"])
async def test_a_write_stopped_and_caught_inside_a_writer_block(
    fw: Framework, tmp_path: Path, how: str
) -> None:
    async with aiolite.open_pool(db_path(tmp_path), readers=1) as pool:
        await pool.execute("CREATE TABLE t(x)")
        await pool.execute("INSERT INTO t VALUES ('before')")

        async def block() -> None:
            async with pool.writer() as db:
                await pool.execute("INSERT INTO t VALUES ('a')")
                await db.execute("INSERT INTO t VALUES ('b')")
                cause = await stop_a_write(fw, db, how)
                for request in (
                    lambda: pool.execute("INSERT INTO t VALUES ('c')"),  # used to autocommit
                    lambda: pool.executemany("INSERT INTO t VALUES (?)", [("d",)]),
                    lambda: pool.fetchall("SELECT x FROM t"),  # in the block: on the writer
                    lambda: db.execute("INSERT INTO t VALUES ('e')"),
                ):
                    with pytest.raises(LOST, match=cause):
                        await request()

        with pytest.raises(LOST, match="cannot run or commit"):
            await block()
        assert await pool.fetchall("SELECT x FROM t") == [("before",)]
        assert not pool.writer_connection.in_transaction
        # The pool is whole again: group commits and writer blocks.
        await pool.execute("INSERT INTO t VALUES ('group')")
        async with pool.writer() as db:
            await db.execute("INSERT INTO t VALUES ('block')")
        assert await pool.fetchall("SELECT x FROM t") == [("before",), ("group",), ("block",)]
