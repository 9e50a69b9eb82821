"""The API's traps, closed: state flags are plain values, slips name their fix, objects say
what they are (issue #16).

``if db.in_transaction:`` used to be always true (a coroutine), ``await
cur.get()`` failed, a forgotten ``await`` or a plain ``with`` gave Python's
generic errors, and reprs said little. Each test here failed before.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import aiolite
from tests.frameworks import Framework
from tests.helpers import ENDLESS_INSERT, GUARD, db_path

ENDLESS_READ = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c"
)

# ------------------------------------------------------- in_transaction is a bool


async def test_in_transaction_follows_begin_commit_and_rollback(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        assert db.in_transaction is False
        await db.execute("CREATE TABLE t(x)")
        await db.execute("BEGIN")
        assert db.in_transaction is True
        await db.execute("INSERT INTO t VALUES (1)")
        assert db.in_transaction is True
        await db.execute("COMMIT")
        assert db.in_transaction is False
        await db.execute("BEGIN IMMEDIATE; INSERT INTO t VALUES (2)")
        assert db.in_transaction is True
        await db.execute("ROLLBACK")
        assert db.in_transaction is False
        await db.run(lambda conn: conn.execute("BEGIN"))  # any request, not only execute
        assert db.in_transaction is True
        await db.execute("ROLLBACK")
    assert db.in_transaction is False  # closed


async def test_in_transaction_after_a_failed_statement(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x PRIMARY KEY)")
        with pytest.raises(aiolite.SQLError):
            await db.execute("BEGIN; SELECT no_such_column FROM t")
        assert db.in_transaction is True  # the BEGIN ran; the failure did not end it
        await db.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(aiolite.ConstraintError):
            await db.execute("INSERT INTO t VALUES (1)")
        assert db.in_transaction is True
        await db.execute("ROLLBACK")
        with pytest.raises(aiolite.SQLError):
            await db.execute("SELECT no_such_column FROM t")
        assert db.in_transaction is False


async def test_in_transaction_inside_transaction_blocks(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x)")
        async with db.transaction("immediate"):
            assert db.in_transaction is True
            async with db:  # a savepoint
                assert db.in_transaction is True
            assert db.in_transaction is True
        assert db.in_transaction is False

        async def fail_in_block() -> None:
            async with db:
                await db.execute("INSERT INTO t VALUES (1)")
                assert db.in_transaction is True
                raise ZeroDivisionError

        with pytest.raises(ZeroDivisionError):
            await fail_in_block()
        assert db.in_transaction is False


async def test_in_transaction_after_cancelled_requests(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x)")
        # A cancelled read leaves the transaction open...
        await db.execute("BEGIN")
        with pytest.raises(fw.timeout_error):
            async with fw.fail_after(0.05):
                await db.execute(ENDLESS_READ)
        async with fw.fail_after(GUARD):
            await db.execute("SELECT 1")  # queued behind it: the worker has stopped it
        assert db.in_transaction is True
        await db.execute("COMMIT")
        assert db.in_transaction is False
        # ...a cancelled write makes SQLite roll all of it back.
        await db.execute("BEGIN")
        with pytest.raises(fw.timeout_error):
            async with fw.fail_after(0.05):
                await db.execute(ENDLESS_INSERT)
        with pytest.raises(aiolite.TransactionRolledBackError):
            async with fw.fail_after(GUARD):
                await db.execute("SELECT 1")
        assert db.in_transaction is False
        await db.execute("ROLLBACK")  # acknowledges the loss
        assert db.in_transaction is False


async def test_in_transaction_of_a_pool_writer_block(fw: Framework, tmp_path: Path) -> None:
    async with aiolite.open_pool(db_path(tmp_path), readers=1) as pool:
        async with pool.writer() as writer:
            assert writer.in_transaction is True
        assert pool.writer_connection.in_transaction is False


# ------------------------------------------------ await cursor.get, with or without ()


async def test_cursor_get_awaits_as_attribute_and_as_call(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        assert await (await db.execute("SELECT 1 UNION ALL SELECT 2")).get == [1, 2]
        assert await (await db.execute("SELECT 3")).get() == 3
        assert await db.system_errno == 0
        assert await db.system_errno() == 0
        cursor = await db.execute("SELECT 0")
        with pytest.raises(TypeError, match="forget `await`"):
            bool(cursor.get)  # `if cursor.get:` would be true whatever the result
        assert await cursor.get == 0


# ------------------------------------------------------------- a forgotten await


def test_a_connector_used_as_a_connection_asks_for_await() -> None:
    connector = aiolite.connect(":memory:")  # nothing runs until awaited
    with pytest.raises(AttributeError, match=r"did you forget to await aiolite\.connect\("):
        _ = connector.execute
    with pytest.raises(AttributeError, match="did you forget to await"):
        _ = connector.filename  # an attribute Connection sets in __init__
    with pytest.raises(AttributeError) as plain:
        _ = connector.no_such_name  # type: ignore[attr-defined]
    assert "await" not in str(plain.value)
    # Probes of dunder and private names are untouched.
    assert not hasattr(connector, "execute")
    assert not hasattr(connector, "_no_such_private")
    assert hasattr(connector, "__aenter__")
    assert not hasattr(connector, "__iter__")


def test_a_pool_opener_used_as_a_pool_asks_for_await() -> None:
    with pytest.raises(AttributeError, match=r"did you forget to await aiolite\.open_pool\("):
        _ = aiolite.open_pool(":memory:").fetchall  # type: ignore[attr-defined]


async def test_a_pending_cursor_used_as_a_cursor_asks_for_await(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        pending = db.execute("SELECT 1")
        with pytest.raises(AttributeError, match=r"did you forget to await db\.execute\("):
            _ = pending.fetchall  # type: ignore[attr-defined]
        with pytest.raises(AttributeError, match="did you forget to await"):
            _ = pending.description  # type: ignore[attr-defined]
        assert not hasattr(pending, "cr_code")  # what asyncio probes stays plain
        assert (await pending).description is not None


# --------------------------------------------------------------- a plain `with`


async def test_a_plain_with_says_async_with(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db, aiolite.open_pool(path, readers=0) as pool:
        cursor = await db.execute("SELECT 1")
        pending = db.execute("SELECT 1")
        managers: list[Any] = [
            aiolite.connect(path),
            aiolite.open_pool(path),
            db,
            db.transaction(),
            pending,
            cursor,
            pool,
            aiolite.KV(path),
        ]
        for manager in managers:
            with pytest.raises(TypeError, match="use `async with`, not `with`"), manager:
                pass
        await pending
        assert db.in_transaction is False  # nothing began


# -------------------------------------------------------------------------- reprs


async def test_reprs_say_what_and_where(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    connector = aiolite.connect(path)
    assert repr(connector) == f"<aiolite.Connector for {path!r} (not awaited yet)>"
    async with connector as db:
        name = db.framework
        assert repr(db) == f"<aiolite.Connection {path!r} open ({name})>"
        await db.execute("CREATE TABLE t(x); INSERT INTO t VALUES (zeroblob(8))")
        pending = db.execute("SELECT x FROM t")
        assert repr(pending) == "<aiolite.PendingCursor execute('SELECT x FROM t') not run yet>"
        cursor = await pending
        assert repr(pending).endswith(" done>")
        assert repr(cursor) == f"<aiolite.Cursor on {path!r} 1 row buffered, done>"
        await cursor.aclose()
        assert repr(cursor) == f"<aiolite.Cursor on {path!r} closed>"
        block = db.transaction("immediate")
        assert repr(block) == f"<aiolite.Transaction immediate on {path!r} not open>"
        async with block:
            assert repr(db) == f"<aiolite.Connection {path!r} open, in transaction ({name})>"
            assert repr(block) == f"<aiolite.Transaction immediate on {path!r} open>"
            async with db.transaction() as inner:
                assert "open, savepoint aiolite_" in repr(inner)
        async with await db.blob_open("main", "t", "x", 1, False) as blob:
            assert repr(blob) == f"<aiolite.Blob on {path!r} 0 of 8 bytes>"
        assert repr(blob) == f"<aiolite.Blob on {path!r} closed>"
        async with await db.session() as session:
            assert repr(session) == f"<aiolite.Session on {path!r}>"
    assert repr(db) == f"<aiolite.Connection {path!r} closed ({name})>"
    opener = aiolite.open_pool(path, readers=1)
    assert repr(opener) == f"<aiolite.PoolOpener for {path!r} (not awaited yet)>"
    async with opener as pool:
        assert repr(pool) == f"<aiolite.Pool {path!r} readers=1 open>"
    async with aiolite.KV(path) as kv:
        assert repr(kv) == f"<aiolite.KV {path!r} table='data' open>"


async def test_framework_names_the_loop(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        expected = {"asyncio": "asyncio", "uvloop": "uvloop", "trio": "trio"}.get(fw.name, fw.kind)
        assert db.framework == expected
        assert f"({expected})>" in repr(db)


@pytest.mark.frameworks("asyncio", "uvloop")
async def test_an_asyncio_task_running_a_statement_names_it(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        task = asyncio.ensure_future(db.execute("SELECT 42"))
        assert "execute('SELECT 42')" in repr(task)
        assert "without __name__" not in repr(task)
        assert await (await task).get == 42


# ------------------------------------------- one name for what to open, everywhere


@pytest.mark.frameworks("asyncio", "trio")
async def test_connect_open_pool_and_kv_name_their_file_database(
    fw: Framework, tmp_path: Path
) -> None:
    """As in ``sqlite3.connect(database)``: the same keyword opens all three."""
    path = str(tmp_path / "one.db")
    async with aiolite.connect(database=path) as db:
        await db.execute("CREATE TABLE t(x)")
    async with aiolite.open_pool(database=path) as pool:
        assert await pool.fetchall("SELECT name FROM sqlite_schema") == [("t",)]
    async with aiolite.KV(database=path) as kv:
        await kv.set("k", 1)
        assert await kv.get("k") == 1
    for opener in (aiolite.connect, aiolite.open_pool, aiolite.KV):
        with pytest.raises(TypeError, match="database must be a str or path"):
            opener(42)  # type: ignore[arg-type]
