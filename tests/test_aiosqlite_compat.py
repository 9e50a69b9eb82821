"""aiolite.aiosqlite beyond aiosqlite's own suite (tests/aiosqlite_suite runs that one).

What aiosqlite cannot do and aiolite.aiosqlite must: really stop a cancelled
query and stay usable, run under trio and anyio, exit without hanging,
cancel ``connect()`` without leaking, read rows ahead without changing what
sqlite3 would return, and fail bad input with sqlite3's own errors.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from aiolite import aiosqlite
from tests.frameworks import Framework
from tests.helpers import ENDLESS_INSERT, ENDLESS_QUERY, GUARD

SUBPROCESS_SECONDS = 20.0


async def _usable(fw: Framework, db: aiosqlite.Connection) -> None:
    async with fw.fail_after(GUARD):
        assert await db.execute_fetchall("SELECT 1") == [(1,)]


async def _times_out(fw: Framework, db: aiosqlite.Connection, sql: str) -> None:
    """Run ``sql`` under a 0.2 s timeout that must stop it (the timeout is caught)."""
    with pytest.raises(fw.timeout_error):
        async with fw.fail_after(0.2):
            await db.execute(sql)


# ------------------------------------------------------------- every framework


async def test_sqlite3_semantics_under_every_framework(fw: Framework, tmp_path: Path) -> None:
    async with aiosqlite.connect(tmp_path / "a.db") as db:
        await db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT)")
        assert await db.execute_insert("INSERT INTO t(name) VALUES (?)", ("Ada",)) == (1,)
        assert db.in_transaction  # sqlite3's implicit BEGIN before DML
        await db.rollback()
        assert not db.in_transaction
        assert await db.execute_fetchall("SELECT * FROM t") == []
        await db.executemany("INSERT INTO t(name) VALUES (?)", [("Ada",), ("Bob",)])
        await db.commit()
        db.row_factory = aiosqlite.Row
        async with db.execute("SELECT id, name FROM t ORDER BY id") as cursor:
            rows = [dict(row) async for row in cursor]
        assert rows == [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Bob"}]
        assert [line async for line in db.iterdump()][-1] == "COMMIT;"
        assert [tuple(row) async for row in db.execute("SELECT 7")] == [(7,)]  # no inner await
        assert await db._execute(round, 2.5, ndigits=None) == 2  # aiosqlite's private entry
    assert not db._running


async def test_async_callbacks_run_in_the_event_loop(fw: Framework) -> None:
    async def double(x: int) -> int:
        await fw.checkpoint()
        return x * 2

    seen: list[str] = []

    async def trace(sql: str) -> None:
        seen.append(sql)

    async with aiosqlite.connect(":memory:") as db:
        await db.create_function("double", 1, double)
        await db.set_trace_callback(trace)
        assert await db.execute_fetchall("SELECT double(21)") == [(42,)]
        assert "SELECT double(21)" in seen


async def test_cancelled_query_is_interrupted_and_connection_stays_usable(
    fw: Framework, tmp_path: Path
) -> None:
    async with aiosqlite.connect(tmp_path / "c.db") as db:
        await db.execute("CREATE TABLE t(x)")
        await db.commit()
        started = time.monotonic()
        await _times_out(fw, db, ENDLESS_QUERY)
        await _times_out(fw, db, ENDLESS_INSERT)
        await _usable(fw, db)
        assert time.monotonic() - started < GUARD
        assert await db.execute_fetchall("SELECT count(*) FROM t") == [(0,)]  # nothing written
        await db.execute("INSERT INTO t VALUES (1)")
        await db.commit()
        assert await db.execute_fetchall("SELECT x FROM t") == [(1,)]


async def test_user_progress_handler_is_chained_and_cancellation_still_works(
    fw: Framework,
) -> None:
    calls = 0

    def count() -> int:
        nonlocal calls
        calls += 1
        return 0

    async with aiosqlite.connect(":memory:") as db:
        await db.set_progress_handler(count, 1000)
        await _times_out(fw, db, ENDLESS_QUERY)
        assert calls > 0
        await db.set_progress_handler(lambda: 1, 1)
        with pytest.raises(sqlite3.OperationalError, match="interrupted"):
            await db.execute(ENDLESS_QUERY)
        await db.set_progress_handler(None, 0)
        await _usable(fw, db)


async def test_cancelled_connect_leaks_nothing(fw: Framework) -> None:
    gate = threading.Event()
    opened: list[sqlite3.Connection] = []

    def slow_connector() -> sqlite3.Connection:
        gate.wait(GUARD)
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        opened.append(conn)
        return conn

    connection = aiosqlite.Connection(slow_connector, 64)
    with pytest.raises(fw.timeout_error):
        async with fw.fail_after(0.1):
            await connection
    assert not connection._running
    gate.set()
    connection._thread.join(GUARD)
    assert not connection._thread.is_alive()
    assert len(opened) == 1
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        opened[0].execute("SELECT 1")  # the worker closed what it had opened
    with pytest.raises(ValueError, match="no active connection"):
        await connection.execute("SELECT 1")


async def test_stop_closes_without_a_loop_future_under_trio(fw: Framework) -> None:
    db = await aiosqlite.connect(":memory:")
    result = db.stop()
    if fw.kind == "trio":
        assert result is None  # aiosqlite's stop() returns an asyncio future or None
    else:
        assert result is not None
        await result
    db._thread.join(GUARD)
    assert not db._thread.is_alive()
    await db.close()  # no error once stopped


# ------------------------------------------------------------ sqlite3 semantics


async def test_bad_input_raises_sqlite3_errors_and_writes_nothing(
    fw: Framework, tmp_path: Path
) -> None:
    async with aiosqlite.connect(tmp_path / "b.db") as db:
        await db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, x NOT NULL)")
        await db.commit()
        with pytest.raises(sqlite3.OperationalError, match="syntax error"):
            await db.execute("SELEKT 1")
        with pytest.raises(sqlite3.ProgrammingError, match="bindings"):
            await db.execute("INSERT INTO t(x) VALUES (?)", (1, 2))
        with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
            await db.execute("INSERT INTO t(x) VALUES (NULL)")
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            await db.execute_fetchall("SELECT * FROM missing")
        cursor = await db.execute("SELECT 1")
        await cursor.close()
        with pytest.raises(sqlite3.ProgrammingError, match="closed cursor"):
            await cursor.fetchone()
        await db.commit()
        assert await db.execute_fetchall("SELECT count(*) FROM t") == [(0,)]
    with pytest.raises(ValueError, match="no active connection"):  # as aiosqlite says
        await db.execute("SELECT 1")
    with pytest.raises(ValueError, match="no active connection"):
        _ = db.in_transaction
    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        await aiosqlite.connect(tmp_path / "missing" / "x.db")
    with pytest.raises(TypeError):
        await aiosqlite.connect(":memory:", no_such_option=1)


def _failing_rows_sqlite3(sql: str) -> list[Any]:
    """What plain sqlite3 returns, fetch by fetch, for a query whose third row fails."""
    conn = sqlite3.connect(":memory:")
    conn.create_function("check3", 1, _check3)
    outcomes: list[Any] = []
    cursor = conn.execute(sql)
    for _ in range(4):
        try:
            outcomes.append(cursor.fetchone())
        except sqlite3.Error as exc:
            outcomes.append(type(exc))
    conn.close()
    return outcomes


def _check3(x: int) -> int:
    if x == 3:
        raise ValueError("row three")
    return x


async def test_rows_read_ahead_match_sqlite3_fetch_by_fetch(fw: Framework) -> None:
    sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 5) "
    sql += "SELECT check3(x) FROM c"
    async with aiosqlite.connect(":memory:") as db:
        await db.create_function("check3", 1, _check3)
        cursor = await db.execute(sql)
        outcomes: list[Any] = []
        for _ in range(4):
            try:
                outcomes.append(await cursor.fetchone())
            except sqlite3.Error as exc:
                outcomes.append(type(exc))
        assert outcomes == _failing_rows_sqlite3(sql)
        with pytest.raises(sqlite3.OperationalError):  # fetchall raises at once, as sqlite3's
            await (await db.execute(sql)).fetchall()
        await _usable(fw, db)


async def test_row_factory_in_force_at_fetch_time_is_used(fw: Framework) -> None:
    async with aiosqlite.connect(":memory:") as db:
        cursor = await db.execute("SELECT 1 AS a, 2 AS b UNION ALL SELECT 3, 4")
        assert cursor.row_factory is None
        cursor.row_factory = aiosqlite.Row
        row = await cursor.fetchone()
        assert isinstance(row, aiosqlite.Row)
        assert (row["a"], row["b"]) == (1, 2)
        cursor.row_factory = lambda cur, values: sum(values)
        assert await cursor.fetchall() == [7]
        many = await db.execute("SELECT value FROM json_each('[1,2,3,4,5]')")
        assert await many.fetchmany(2) == [(1,), (2,)]
        assert await many.fetchmany() == [(3,)]  # arraysize 1, as sqlite3
        assert [row async for row in many] == [(4,), (5,)]


async def test_blobopen(fw: Framework) -> None:
    async with aiosqlite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(b BLOB)")
        await db.execute("INSERT INTO t VALUES (zeroblob(8))")
        async with await db.blobopen("t", "b", 1) as blob:
            await blob.write(b"abcd")
            assert await blob.tell() == 4
            assert await blob.length() == 8
            await blob.seek(0)
            assert await blob.read(4) == b"abcd"
            with pytest.raises(ValueError, match="longer than blob"):
                await blob.write(b"too long for the rest")
        with pytest.raises(sqlite3.OperationalError):
            await db.blobopen("t", "b", 99)


async def test_isolation_level_can_be_set_from_the_event_loop(fw: Framework) -> None:
    async with aiosqlite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x)")
        assert db.in_transaction is False
        await db.execute("INSERT INTO t VALUES (1)")
        assert db.in_transaction
        db.isolation_level = None  # commits, in the worker (sqlite3 refuses other threads)
        assert db.isolation_level is None
        await db.execute("INSERT INTO t VALUES (2)")
        assert not db.in_transaction  # autocommit mode: no implicit BEGIN
        db.isolation_level = "IMMEDIATE"
        await db.execute("INSERT INTO t VALUES (3)")
        assert db.in_transaction
        assert db.isolation_level == "IMMEDIATE"
        await db.rollback()
        assert await db.execute_fetchall("SELECT x FROM t") == [(1,), (2,)]
        with pytest.raises(ValueError, match="isolation_level"):
            db.isolation_level = "SOMETIMES"  # type: ignore[assignment]
        assert db.isolation_level == "IMMEDIATE"


@pytest.mark.skipif(sys.version_info < (3, 12), reason="sqlite3's autocommit is Python 3.12+")
async def test_autocommit_is_passed_through(fw: Framework) -> None:
    async with aiosqlite.connect(":memory:", autocommit=False) as db:
        assert db.autocommit is False
        assert db.in_transaction  # autocommit=False keeps a transaction open, as in sqlite3
        await db.execute("CREATE TABLE t(x)")
        db.autocommit = True  # commits, in the worker
        assert db.autocommit is True
        await db.execute("INSERT INTO t VALUES (1)")
        assert not db.in_transaction
        with pytest.raises(ValueError, match="autocommit"):
            db.autocommit = "yes"


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="Python 3.11's sqlite3 has no autocommit")
async def test_autocommit_is_missing_before_python_3_12(fw: Framework) -> None:
    async with aiosqlite.connect(":memory:") as db:
        with pytest.raises(AttributeError, match="autocommit"):
            _ = db.autocommit
        with pytest.raises(TypeError):
            await aiosqlite.connect(":memory:", autocommit=True)


# ----------------------------------------------------------------------- exit


EXIT_SCRIPT = """
import asyncio, sys
from aiolite import aiosqlite

async def main():
    db = await aiosqlite.connect(sys.argv[1])
    await db.execute("CREATE TABLE IF NOT EXISTS t(x)")
    await db.execute("INSERT INTO t VALUES (1)")
    print("left open", flush=True)

asyncio.run(main())
"""


def test_process_exits_promptly_with_a_connection_left_open(tmp_path: Path) -> None:
    script = tmp_path / "exit.py"
    script.write_text(EXIT_SCRIPT)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "e.db")],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "left open"
    assert time.monotonic() - started < SUBPROCESS_SECONDS
    for text in ("Traceback", "Event loop is closed", "Exception ignored"):
        assert text not in done.stderr
    check = sqlite3.connect(tmp_path / "e.db")
    assert check.execute("SELECT count(*) FROM t").fetchone() == (0,)  # uncommitted: rolled back
    assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    check.close()


# ------------------------------------------- a transaction rolled back underneath


async def test_cancelled_write_in_an_implicit_transaction_loses_nothing_silently(
    fw: Framework, tmp_path: Path
) -> None:
    """sqlite3 would carry on in autocommit and commit 'b' alone; the block must stay whole."""
    async with aiosqlite.connect(tmp_path / "lost.db") as db:
        await db.execute("CREATE TABLE t(x)")
        await db.commit()
        await db.execute("INSERT INTO t VALUES ('a')")  # implicit BEGIN
        await _times_out(fw, db, ENDLESS_INSERT)
        # SQLite rolled the whole transaction back; 'a' is gone.
        with pytest.raises(sqlite3.OperationalError, match="transaction was rolled back"):
            await db.execute("INSERT INTO t VALUES ('b')")
        with pytest.raises(sqlite3.OperationalError, match="interrupted"):
            await db.commit()  # never returns normally over the lost statements
        with pytest.raises(sqlite3.OperationalError, match="transaction was rolled back"):
            await db.executemany("INSERT INTO t VALUES (?)", [("c",)])
        await db.rollback()  # acknowledges it
        assert await db.execute_fetchall("SELECT x FROM t") == []
        await db.execute("INSERT INTO t VALUES ('d')")
        await db.commit()
        assert await db.execute_fetchall("SELECT x FROM t") == [("d",)]
    async with aiosqlite.connect(tmp_path / "lost.db") as db:
        assert await db.execute_fetchall("SELECT x FROM t") == [("d",)]


async def test_a_rollback_statement_acknowledges_a_lost_transaction(
    fw: Framework, tmp_path: Path
) -> None:
    async with aiosqlite.connect(tmp_path / "manual.db", isolation_level=None) as db:
        await db.execute("CREATE TABLE t(x)")
        await db.execute("BEGIN")
        await db.execute("INSERT INTO t VALUES (1)")
        await _times_out(fw, db, ENDLESS_INSERT)
        with pytest.raises(sqlite3.OperationalError, match="transaction was rolled back"):
            await db.execute("COMMIT")
        await db.execute("ROLLBACK")  # nothing left to undo: acknowledged, not an error
        assert await db.execute_fetchall("SELECT count(*) FROM t") == [(0,)]
        await _usable(fw, db)


async def test_a_write_cancelled_in_its_own_implicit_transaction_is_just_a_failed_statement(
    fw: Framework, tmp_path: Path
) -> None:
    """No earlier statement was at stake, so nothing needs acknowledging."""
    async with aiosqlite.connect(tmp_path / "own.db") as db:
        await db.execute("CREATE TABLE t(x)")
        await db.commit()
        await _times_out(fw, db, ENDLESS_INSERT)
        await db.execute("INSERT INTO t VALUES (1)")
        await db.commit()
        assert await db.execute_fetchall("SELECT x FROM t") == [(1,)]
