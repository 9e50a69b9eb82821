"""Errors: SQLite's reach the caller as APSW's own classes; misuse fails early and clearly."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import apsw
import pytest

import aiolite
from tests.frameworks import Framework
from tests.helpers import assert_usable, count_rows, db_path


def still_running(names: list[str]) -> list[str]:
    """Those of the named threads still alive after a bounded wait for them to exit."""
    threads = [t for t in threading.enumerate() if t.name in names]
    for thread in threads:
        thread.join(10)
    return [t.name for t in threads if t.is_alive()]


@pytest.fixture
def started_workers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of aiolite worker threads started during the test."""
    started: list[str] = []
    original = threading.Thread.start

    def start(self: threading.Thread) -> None:
        if self.name.startswith("aiolite-"):
            started.append(self.name)
        original(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    return started


# ---------------------------------------------------------- errors from statements


async def test_wrong_number_of_bindings(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x, y)")
        with pytest.raises(aiolite.BindingsError):
            await db.execute("INSERT INTO t VALUES (?, ?)", (1,))
        await assert_usable(fw, db)
        with pytest.raises(aiolite.BindingsError):
            await db.execute("INSERT INTO t VALUES (?, ?)", (1, 2, 3))
        await assert_usable(fw, db)
        assert await count_rows(db) == 0


async def test_unbindable_value(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x)")
        with pytest.raises(TypeError):
            await db.execute("INSERT INTO t VALUES (?)", (object(),))
        with pytest.raises(TypeError):
            await db.execute("INSERT INTO t VALUES (:x)", {"x": object()})
        assert not db.in_transaction
        await assert_usable(fw, db)
        assert await count_rows(db) == 0


async def test_syntax_error_names_the_problem(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        with pytest.raises(aiolite.SQLError) as raised:
            await db.execute("SELEC 1")
        assert "SELEC" in str(raised.value)
        assert "syntax error" in str(raised.value)
        with pytest.raises(aiolite.SQLError, match="no such table: missing"):
            await db.execute("SELECT * FROM missing")
        await assert_usable(fw, db)


async def test_constraint_violation(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x PRIMARY KEY)")
        await db.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(aiolite.ConstraintError, match="UNIQUE"):
            await db.execute("INSERT INTO t VALUES (1)")
        await assert_usable(fw, db)
        assert await count_rows(db) == 1


async def test_sql_must_be_a_string(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        served = db._engine.requests_served
        with pytest.raises(TypeError):
            await db.execute(b"SELECT 1")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await db.execute(None)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await db.executemany(42, [()])  # type: ignore[arg-type]
        assert db._engine.requests_served == served  # refused before the worker saw it
        await assert_usable(fw, db)


# ------------------------------------------------------------- exception classes


def test_every_apsw_exception_is_reexported() -> None:
    classes = {
        name: value
        for name in dir(apsw)
        if isinstance(value := getattr(apsw, name), type) and issubclass(value, BaseException)
    }
    assert len(classes) > 30
    assert {"Error", "BusyError", "SQLError", "ConstraintError"} <= set(classes)
    for name, cls in classes.items():
        assert getattr(aiolite, name, None) is cls, f"aiolite.{name} is not apsw.{name}"
        assert name in aiolite.__all__


def test_connection_closed_error_is_apsws() -> None:
    assert aiolite.ConnectionClosedError is apsw.ConnectionClosedError


async def test_use_after_close(fw: Framework) -> None:
    db = await aiolite.connect(":memory:")
    await assert_usable(fw, db)
    await db.close()
    assert db.closed
    with pytest.raises(aiolite.ConnectionClosedError):
        await db.execute("SELECT 1")
    with pytest.raises(aiolite.ConnectionClosedError):
        await db.changes()
    with pytest.raises(aiolite.ConnectionClosedError):
        async with db:
            pass
    with pytest.raises(apsw.ConnectionClosedError):  # the same class, caught either way
        await db.run(lambda conn: None)
    await db.close()  # idempotent
    assert db.closed


# ------------------------------------------------------------------ bad options


def test_unknown_option_is_a_type_error(started_workers: list[str]) -> None:
    with pytest.raises(TypeError, match="colour"):
        aiolite.connect(":memory:", colour="blue")  # type: ignore[call-overload]
    assert started_workers == []


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"prefetch": 0}, "prefetch"),
        ({"prefetch": -5}, "prefetch"),
        ({"max_batch": 1, "prefetch": 8}, "max_batch"),
        ({"busy_timeout": -1}, "busy_timeout"),
        ({"pragmas": {"cache size": 100}}, "pragma"),
        ({"pragmas": {"user_version; DROP TABLE t": 1}}, "pragma"),
        ({"check_progress_steps": 0}, "check_progress_steps"),
    ],
    ids=repr,
)
async def test_bad_option_values_fail_before_a_thread_starts(
    fw: Framework,
    tmp_path: Path,
    started_workers: list[str],
    options: dict[str, Any],
    complaint: str,
) -> None:
    path = db_path(tmp_path)
    with pytest.raises(ValueError, match=complaint):
        await aiolite.connect(path, **options)
    with pytest.raises(ValueError, match=complaint):
        async with aiolite.connect(path, **options):
            pytest.fail("opened with bad options")
    assert started_workers == []
    assert files_in(tmp_path) == []  # no database file was created either


async def test_missing_directory_is_cant_open(
    fw: Framework, tmp_path: Path, started_workers: list[str]
) -> None:
    with pytest.raises(aiolite.CantOpenError):
        await aiolite.connect(str(tmp_path / "no such directory" / "test.db"))
    with pytest.raises(aiolite.CantOpenError):
        async with aiolite.connect(str(tmp_path / "no such directory" / "test.db")):
            pytest.fail("opened a database in a missing directory")
    assert still_running(started_workers) == []


async def test_readonly_connection(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db:
        await db.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2)")
    async with aiolite.connect(path, readonly=True) as db:
        assert await db.readonly("main")
        with pytest.raises(aiolite.ReadOnlyError):
            await db.execute("INSERT INTO t VALUES (3)")
        with pytest.raises(aiolite.ReadOnlyError):
            await db.execute("CREATE TABLE u(y)")
        assert await (await db.execute("SELECT x FROM t ORDER BY x")).get == [1, 2]
    async with aiolite.connect(path) as db:
        assert await count_rows(db) == 2


# ---------------------------------------------------------------- event loops


def test_connect_needs_no_event_loop_until_awaited(
    fw: Framework, tmp_path: Path, started_workers: list[str]
) -> None:
    connector = aiolite.connect(db_path(tmp_path))  # plain sync code, no loop running
    assert isinstance(connector, aiolite.Connector)
    assert started_workers == []

    async def use() -> Any:
        async with connector as db:
            assert db.framework == ("uvloop" if fw.name == "uvloop" else fw.kind)
            return await (await db.execute("SELECT 42")).get

    assert fw.run(use) == 42
    assert len(started_workers) == 1


def test_awaiting_connect_without_an_event_loop(started_workers: list[str]) -> None:
    waiting = aiolite.connect(":memory:").__await__()
    with pytest.raises(RuntimeError, match="running event loop"):
        waiting.send(None)
    assert started_workers == []


def test_connection_used_from_another_run(fw: Framework) -> None:
    async def open_it() -> aiolite.Connection[Any]:
        return await aiolite.connect(":memory:")

    db = fw.run(open_it)
    try:

        async def use() -> None:
            await db.execute("SELECT 1")

        with pytest.raises(aiolite.WrongEventLoopError):
            fw.run(use)
    finally:
        db.stop()
    assert db.closed


# ----------------------------------------------------------------- callbacks


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_function_error_reaches_the_caller(fw: Framework, kind: str) -> None:
    raised_inside: list[ValueError] = []

    def check(x: int) -> int:
        if x == 3:
            raised_inside.append(ValueError(f"bad value {x}"))
            raise raised_inside[-1]
        return x

    async def check_async(x: int) -> int:
        await fw.checkpoint()
        return check(x)

    async with aiolite.connect(":memory:") as db:
        await db.create_scalar_function("check_value", check if kind == "sync" else check_async, 1)
        assert await (await db.execute("SELECT check_value(2)")).get == 2
        with pytest.raises(ValueError, match="bad value 3") as raised:
            await db.execute("SELECT check_value(3)")
        assert raised.value is raised_inside[0]  # the very exception, not a copy
        await assert_usable(fw, db)


async def test_async_function_awaiting_its_own_connection(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        attempts: list[str] = []

        async def reenter(x: int) -> Any:
            attempts.append("called")
            return await (await db.execute("SELECT ?", (x,))).get

        await db.create_scalar_function("reenter", reenter, 1)
        started = time.monotonic()
        async with fw.fail_after(10):
            with pytest.raises(aiolite.CallbackDeadlockError):
                await db.execute("SELECT reenter(1)")
        assert time.monotonic() - started < 5
        assert attempts == ["called"]
        await assert_usable(fw, db)
