"""Cancellation, deadlines, errors and misuse reach callbacks of every kind.

DESIGN.md, "Callbacks" and "Cancellation and deadlines": an async callback's
task is cancelled with the request; a slow sync callback is stopped through
the progress handler (SQL it runs) or :func:`aiolite.should_stop` (a plain
Python loop); an exception raised in a callback reaches the awaiting caller
as itself; an async callback awaiting its own connection fails at once with
``CallbackDeadlockError``; a sync one may use the worker's connection.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import apsw
import pytest

import aiolite
from aiolite._frameworks import current_adapter
from aiolite._frameworks._base import CallbackCall
from tests.frameworks import Framework
from tests.helpers import ENDLESS_QUERY, GUARD, Db, EndlessCallback, assert_usable, count_rows

SHORT = 0.2

Register = Callable[[Db, Callable[..., Any]], Awaitable[str]]
"""Registers ``callback`` as one kind of callback; returns SQL that makes SQLite call it."""


def methods_of(callback: Callable[..., Any], names: tuple[str, ...]) -> type:
    body: dict[str, Any] = {}
    for name in names:

        async def method(self: Any, *args: Any) -> Any:
            return await callback(*args)

        body[name] = method
    return type("Methods", (), body)


async def scalar(db: Db, cb: Callable[..., Any]) -> str:
    await db.create_scalar_function("cb", cb)
    return "SELECT cb(1)"


async def aggregate(db: Db, cb: Callable[..., Any]) -> str:
    await db.create_aggregate_function("cb", methods_of(cb, ("step", "final")), 1)
    return "SELECT cb(1)"


async def window(db: Db, cb: Callable[..., Any]) -> str:
    await db.create_window_function("cb", methods_of(cb, ("step", "final", "value", "inverse")), 1)
    return "SELECT cb(column1) OVER () FROM (VALUES (1))"


async def collation(db: Db, cb: Callable[..., Any]) -> str:
    await db.create_collation("cb", cb)
    return "SELECT column1 FROM (VALUES ('a'), ('b')) ORDER BY 1 COLLATE cb"


async def update_hook(db: Db, cb: Callable[..., Any]) -> str:
    await db.set_update_hook(cb)
    return "INSERT INTO t VALUES (1)"


async def authorizer(db: Db, cb: Callable[..., Any]) -> str:
    await db.set_authorizer(cb)
    return "SELECT 1"


async def progress(db: Db, cb: Callable[..., Any]) -> str:
    await db.set_progress_handler(cb, 10)
    return ENDLESS_QUERY


async def commit_hook(db: Db, cb: Callable[..., Any]) -> str:
    await db.set_commit_hook(cb)
    return "INSERT INTO t VALUES (1)"


async def table_function(db: Db, cb: Callable[..., Any]) -> str:
    async def rows() -> Any:
        yield (await cb(),)

    await db.create_table_function("cb", rows, columns=("x",))
    return "SELECT * FROM cb"


KINDS: dict[str, Register] = {
    "scalar": scalar,
    "aggregate": aggregate,
    "window": window,
    "collation": collation,
    "update_hook": update_hook,
    "commit_hook": commit_hook,
    "authorizer": authorizer,
    "progress_handler": progress,
    "table_function": table_function,
}


KEEPS_ITS_ROW = {"update_hook"}
"""The update hook is told of a change already made; failing cannot undo it (as in APSW)."""


async def check_after(fw: Framework, db: Db, kind: str) -> None:
    await assert_usable(fw, db)
    assert await count_rows(db) == (1 if kind in KEEPS_ITS_ROW else 0)


class Endless(EndlessCallback):
    """Waits for ever the first time (recording its cancellation); later calls,
    the checks after it, return 0 (``SQLITE_OK``) at once."""

    calls = 0

    async def __call__(self, *args: Any) -> Any:  # type: ignore[override]
        self.calls += 1
        if self.calls > 1:
            return 0
        return await super().__call__(0)


@pytest.mark.frameworks("asyncio", "trio", "anyio-asyncio")
@pytest.mark.parametrize("how", ["timeout", "cancel", "deadline"])
@pytest.mark.parametrize("kind", list(KINDS))
async def test_async_callback_is_cancelled(fw: Framework, kind: str, how: str) -> None:
    endless = Endless(fw)
    async with aiolite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x)")
        sql = await KINDS[kind](db, endless)
        if how == "timeout":
            with pytest.raises(fw.timeout_error):
                async with fw.fail_after(SHORT):
                    await db.execute(sql)
        elif how == "deadline":
            with (
                pytest.raises(TimeoutError),
                aiolite.contextvar_set(aiolite.deadline, fw.now() + SHORT),
            ):
                await db.execute(sql)
        else:
            async with fw.fail_after(GUARD), fw.task_group() as group:
                query = group.start_soon(db.execute, sql)
                await endless.entered.wait()
                query.cancel()
            assert query.cancelled
        await assert_usable(fw, db)  # only once the callback has ended
        assert endless.saw_cancellation
        await check_after(fw, db, kind)  # the statement's changes were rolled back


async def test_callback_cancelled_before_its_first_step_releases_the_worker(
    fw: Framework,
) -> None:
    """The request's cancellation reaches the callback's task before the task first runs.

    An asyncio task cancelled then never runs its body, so a body that
    reports the outcome to the waiting worker never reported it: the worker
    (blocked inside SQLite) and every later request on its connection hung.
    The storm in tests/stress hit it under uvloop; here the cancellation
    comes in the same loop step that starts the callback.
    """
    adapter = current_adapter()
    entered: list[bool] = []

    async def callback() -> int:
        await fw.sleep(GUARD)
        entered.append(True)
        return 1

    call = CallbackCall(callback, (), contextvars.copy_context(), None)
    adapter._start_callback(call)  # type: ignore[attr-defined]
    adapter.cancel_callback(call)
    async with fw.fail_after(GUARD):
        while not call.done.is_set():
            await fw.sleep(0.001)
    assert call.outcome == CallbackCall.CANCELLED
    assert not entered


class Boom(Exception):
    pass


@pytest.mark.frameworks("asyncio", "trio")
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("table_function",)])
async def test_callback_exception_reaches_the_caller(fw: Framework, kind: str, mode: str) -> None:
    calls = 0

    def sync_raise(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise Boom(kind)
        return 0

    async def async_raise(*args: Any) -> Any:
        return sync_raise()

    async with aiolite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x)")
        sql = await KINDS[kind](db, async_raise if mode == "async" else sync_raise)
        with pytest.raises(Boom, match=kind):
            async with fw.fail_after(GUARD):
                await db.execute(sql)
        await check_after(fw, db, kind)


@pytest.mark.frameworks("asyncio", "trio")
@pytest.mark.parametrize("kind", list(KINDS))
async def test_async_callback_awaiting_its_connection_fails_at_once(
    fw: Framework, kind: str
) -> None:
    holder: list[Db] = []
    calls = 0

    async def reenter(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls > 1:
            return 0
        return await (await holder[0].execute("SELECT 1")).get

    async with aiolite.connect(":memory:") as db:
        holder.append(db)
        await db.execute("CREATE TABLE t(x)")
        sql = await KINDS[kind](db, reenter)
        with pytest.raises(aiolite.CallbackDeadlockError):
            async with fw.fail_after(GUARD):
                await db.execute(sql)
        await assert_usable(fw, db)


@pytest.mark.frameworks("asyncio", "trio")
async def test_async_callback_may_use_another_connection(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db, aiolite.connect(":memory:") as other:

        async def lookup(x: int) -> int:
            value: int = await (await other.execute("SELECT ? * 10", (x,))).get
            return value

        await db.create_scalar_function("lookup", lookup, 1)
        assert await (await db.execute("SELECT lookup(4)")).get == 40


@pytest.mark.frameworks("asyncio", "trio")
async def test_sync_callback_may_use_the_worker_connection(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        conn = await db.run(lambda c: c)
        await db.execute("CREATE TABLE t(x); INSERT INTO t VALUES (5)")

        def lookup() -> int:
            value: int = conn.execute("SELECT x FROM t").get  # type: ignore[assignment]
            return value

        await db.create_scalar_function("lookup", lookup, 0)
        seen: list[int] = []
        await db.set_update_hook(
            lambda *args: seen.append(conn.execute("SELECT count(*) FROM t").get)
        )  # type: ignore[arg-type]
        assert await (await db.execute("SELECT lookup()")).get == 5
        await db.execute("INSERT INTO t VALUES (6)")
        assert seen == [2]


# ----------------------------------------------------------- slow sync callbacks


@pytest.mark.frameworks("asyncio", "trio", "anyio-trio")
@pytest.mark.parametrize("how", ["timeout", "deadline"])
@pytest.mark.parametrize("kind", ["scalar", "aggregate_step", "update_hook"])
async def test_slow_sync_callback_running_sql_stops(fw: Framework, kind: str, how: str) -> None:
    """The progress handler reaches SQL a sync callback runs on the worker's connection."""
    async with aiolite.connect(":memory:") as db:
        conn = await db.run(lambda c: c)
        await db.execute("CREATE TABLE t(x)")
        entered = threading.Event()

        def endless(*args: Any) -> None:
            if not entered.is_set():
                entered.set()
                conn.execute(ENDLESS_QUERY).fetchall()

        if kind == "scalar":
            await db.create_scalar_function("slow", endless)
            sql = "SELECT slow()"
        elif kind == "aggregate_step":
            await db.create_aggregate_function("slow", lambda: (None, endless, lambda c: 0))
            sql = "SELECT slow(1)"
        else:
            await db.set_update_hook(endless)
            sql = "INSERT INTO t VALUES (1)"
        started = time.monotonic()
        if how == "timeout":
            with pytest.raises(fw.timeout_error):
                async with fw.fail_after(SHORT):
                    await db.execute(sql)
        else:
            with (
                pytest.raises(TimeoutError),
                aiolite.contextvar_set(aiolite.deadline, fw.now() + SHORT),
            ):
                await db.execute(sql)
        assert entered.is_set()
        assert time.monotonic() - started < GUARD
        await check_after(fw, db, kind)


@pytest.mark.frameworks("asyncio", "trio", "anyio-asyncio")
@pytest.mark.parametrize("how", ["timeout", "cancel", "deadline"])
async def test_slow_sync_python_loop_stops_with_should_stop(fw: Framework, how: str) -> None:
    loops = 0
    entered = threading.Event()

    def busy(x: int) -> int:
        nonlocal loops
        entered.set()
        while not aiolite.should_stop():
            loops += 1
            time.sleep(0.002)
        raise apsw.InterruptError("stopped")

    async with aiolite.connect(":memory:") as db:
        await db.create_scalar_function("busy", busy, 1)
        if how == "timeout":
            with pytest.raises(fw.timeout_error):
                async with fw.fail_after(SHORT):
                    await db.execute("SELECT busy(1)")
        elif how == "deadline":
            with (
                pytest.raises(TimeoutError),
                aiolite.contextvar_set(aiolite.deadline, fw.now() + SHORT),
            ):
                await db.execute("SELECT busy(1)")
        else:
            async with fw.fail_after(GUARD), fw.task_group() as group:
                query = group.start_soon(db.execute, "SELECT busy(1)")
                while not entered.is_set():
                    await fw.sleep(0.01)
                query.cancel()
            assert query.cancelled
        await assert_usable(fw, db)
        assert loops > 0
        assert not aiolite.should_stop()  # outside a worker: always False


@pytest.mark.frameworks("asyncio", "trio")
async def test_busy_handler_is_skipped_once_cancelled(fw: Framework, tmp_path: Any) -> None:
    """A user busy handler that would retry for ever still lets a deadline stop the wait."""
    path = str(tmp_path / "busy.db")
    async with aiolite.connect(path) as db:
        await db.execute("CREATE TABLE t(x)")
        other = apsw.Connection(path)
        other.execute("BEGIN IMMEDIATE")
        calls: list[int] = []

        def forever(prior: int) -> bool:
            calls.append(prior)
            time.sleep(0.005)
            return True

        try:
            await db.set_busy_handler(forever)
            with pytest.raises(fw.timeout_error):
                async with fw.fail_after(SHORT):
                    await db.execute("INSERT INTO t VALUES (1)")
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert calls
        await assert_usable(fw, db)


# ----------------------------------------------------------------- bad input


@pytest.mark.frameworks("asyncio", "trio")
async def test_wrong_types_are_refused_before_anything_runs(fw: Framework) -> None:
    async with aiolite.connect(":memory:") as db:
        await db.execute("CREATE TABLE t(x); INSERT INTO t VALUES (x'00')")
        served = db._engine.requests_served
        with pytest.raises(TypeError, match="factory must be callable"):
            await db.create_aggregate_function("f", 42)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="name must be a str"):
            await db.create_window_function(7, lambda: None)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="callback must be callable"):
            await db.create_collation("c", "nope")  # type: ignore[arg-type]
        for setter in (
            db.set_update_hook,
            db.set_commit_hook,
            db.set_rollback_hook,
            db.set_wal_hook,
            db.set_preupdate_hook,
            db.set_authorizer,
            db.set_busy_handler,
            db.set_exec_trace,
            db.set_row_trace,
            db.set_profile,
        ):
            with pytest.raises(TypeError, match="must be callable or None"):
                await setter("nope")  # type: ignore[operator]
        with pytest.raises(ValueError, match="nsteps"):
            await db.set_progress_handler(lambda: False, 0)
        with pytest.raises(TypeError, match="columns"):
            await db.create_table_function("tf", list, columns="abc")
        with pytest.raises(TypeError, match="must be callable"):
            await db.create_table_function("tf", None, columns=("a",))  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="rowid"):
            await db.blob_open("main", "t", "x", "1", False)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="sourceconnection"):
            await db.backup("main", "other.db", "main")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="its own connection"):
            await db.backup("main", db, "main")
        with pytest.raises(TypeError, match="changeset must be bytes"):
            await db.apply_changeset("text")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="conflict"):
            await db.apply_changeset(b"", conflict=3)  # type: ignore[arg-type]
        assert db._engine.requests_served == served  # nothing reached the worker
        await assert_usable(fw, db)
        assert await count_rows(db) == 1


@pytest.mark.frameworks("asyncio", "trio")
async def test_async_hooks_called_while_the_connection_closes(fw: Framework, tmp_path: Any) -> None:
    """SQLite rolls back an open transaction and reports the close outside any request;
    async callbacks still run, in the loop that is awaiting ``close()``."""
    seen: list[str] = []
    loop_thread = threading.current_thread()

    async def on_rollback() -> None:
        await fw.checkpoint()
        seen.append(f"rollback in loop: {threading.current_thread() is loop_thread}")

    async def on_trace(event: dict[str, Any]) -> None:
        await fw.checkpoint()
        seen.append(f"close event: {event['code'] == apsw.SQLITE_TRACE_CLOSE}")

    db = await aiolite.connect(str(tmp_path / "closing.db"))
    await db.execute("CREATE TABLE t(x)")
    await db.set_rollback_hook(on_rollback)
    await db.trace_v2(apsw.SQLITE_TRACE_CLOSE, on_trace)
    await db.execute("BEGIN; INSERT INTO t VALUES (1)")
    async with fw.fail_after(GUARD):
        await db.close()
    assert sorted(seen) == ["close event: True", "rollback in loop: True"]
