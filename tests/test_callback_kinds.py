"""Every kind of callback SQLite makes, written sync or async, under every framework.

DESIGN.md, "Callbacks": each may be a plain function (runs in the worker
thread) or an ``async def`` (runs in the event loop while the worker waits),
and context variables set where the query is issued are visible inside it.
Each scenario registers a recording callback of one kind, triggers it with
real SQL on a real database file, and checks what the callback saw: that it
ran on the thread its kind promises and that it saw the context variable.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import apsw
import pytest

import aiolite
from tests.frameworks import Framework
from tests.helpers import Db, assert_usable, db_path

issued_by: ContextVar[str] = ContextVar("issued_by", default="nobody")

MODES = ("sync", "async")


@dataclass
class Recorder:
    """Makes callbacks of one mode that record (kind, thread, context) when called."""

    fw: Framework
    mode: str
    loop_thread: threading.Thread = field(default_factory=threading.current_thread)
    calls: list[tuple[str, str, str]] = field(default_factory=list)

    def _note(self, kind: str) -> None:
        where = "loop" if threading.current_thread() is self.loop_thread else "worker"
        self.calls.append((kind, where, issued_by.get()))

    def callback(self, kind: str, result: Callable[..., Any]) -> Callable[..., Any]:
        """A callback that records its call, then returns ``result(*args)``."""
        if self.mode == "sync":

            def sync_callback(*args: Any) -> Any:
                self._note(kind)
                return result(*args)

            return sync_callback

        fw = self.fw

        async def async_callback(*args: Any) -> Any:
            await fw.checkpoint()
            self._note(kind)
            return result(*args)

        return async_callback

    def methods(self, kind: str, cls: type, names: tuple[str, ...]) -> type:
        """A subclass of ``cls`` whose ``names`` methods record, in this mode."""
        recorder = self
        body: dict[str, Any] = {}
        for name in names:
            original = getattr(cls, name)

            def make(original: Callable[..., Any], name: str) -> Callable[..., Any]:
                if recorder.mode == "sync":

                    def method(self: Any, *args: Any) -> Any:
                        recorder._note(f"{kind}.{name}")
                        return original(self, *args)

                    return method

                async def async_method(self: Any, *args: Any) -> Any:
                    await recorder.fw.checkpoint()
                    recorder._note(f"{kind}.{name}")
                    return original(self, *args)

                return async_method

            body[name] = make(original, name)
        return type(f"{self.mode.title()}{cls.__name__}", (cls,), body)

    def check(self, *kinds: str) -> None:
        seen = {kind for kind, _, _ in self.calls}
        for kind in kinds:
            assert kind in seen, f"{kind} never called; calls: {self.calls}"
        expected_place = "worker" if self.mode == "sync" else "loop"
        for kind, where, context in self.calls:
            assert where == expected_place, f"{kind} ran in the {where} thread"
            assert context == "the query's task", f"{kind} saw context {context!r}"


async def run_issued(db: Db, sql: str, bindings: Any = None) -> list[Any]:
    """Run ``sql`` from a context where ``issued_by`` is set."""
    token = issued_by.set("the query's task")
    try:
        return await (await db.execute(sql, bindings)).fetchall()
    finally:
        issued_by.reset(token)


# ----------------------------------------------------------------- scenarios


async def scalar(db: Db, rec: Recorder, tmp_path: Path) -> None:
    await db.create_scalar_function("twice", rec.callback("scalar", lambda x: x * 2), 1)
    assert await run_issued(db, "SELECT twice(21)") == [(42,)]
    rec.check("scalar")


class Total:
    def __init__(self) -> None:
        self.total = 0

    def step(self, value: int) -> None:
        self.total += value

    def final(self) -> int:
        return self.total


class MovingSum(Total):
    def inverse(self, value: int) -> None:
        self.total -= value

    def value(self) -> int:
        return self.total


FOUR = "(VALUES (1), (2), (3), (4))"


async def aggregate(db: Db, rec: Recorder, tmp_path: Path) -> None:
    factory = rec.methods("aggregate", Total, ("step", "final"))
    await db.create_aggregate_function("add_up", factory, 1)
    assert await run_issued(db, f"SELECT add_up(column1) FROM {FOUR}") == [(10,)]
    rec.check("aggregate.step", "aggregate.final")


async def aggregate_factory(db: Db, rec: Recorder, tmp_path: Path) -> None:
    """The factory itself may be async, and may return APSW's (context, step, final) tuple."""

    def make() -> tuple[Any, ...]:
        state = [0]

        def step(context: Any, value: int) -> None:
            state[0] += value

        return (None, step, lambda context: state[0])

    await db.create_aggregate_function("add_up", rec.callback("factory", make), 1)
    assert await run_issued(db, f"SELECT add_up(column1) FROM {FOUR}") == [(10,)]
    rec.check("factory")


async def window(db: Db, rec: Recorder, tmp_path: Path) -> None:
    names = ("step", "final", "value", "inverse")
    await db.create_window_function("wsum", rec.methods("window", MovingSum, names), 1)
    sql = f"SELECT wsum(column1) OVER (ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM {FOUR}"
    assert await run_issued(db, sql) == [(1,), (3,), (5,), (7,)]
    rec.check("window.step", "window.value", "window.inverse", "window.final")


async def collation(db: Db, rec: Recorder, tmp_path: Path) -> None:
    await db.create_collation("by_length", rec.callback("collation", lambda a, b: len(a) - len(b)))
    rows = await run_issued(
        db, "SELECT column1 FROM (VALUES ('ccc'), ('a'), ('bb')) ORDER BY 1 COLLATE by_length"
    )
    assert rows == [("a",), ("bb",), ("ccc",)]
    rec.check("collation")


async def update_hook(db: Db, rec: Recorder, tmp_path: Path) -> None:
    seen: list[tuple[Any, ...]] = []
    await db.set_update_hook(rec.callback("update", lambda *args: seen.append(args)))
    await run_issued(db, "INSERT INTO t VALUES (1)")
    assert seen == [(apsw.SQLITE_INSERT, "main", "t", 1)]
    rec.check("update")
    await db.set_update_hook(None)
    await db.execute("INSERT INTO t VALUES (2)")
    assert len(seen) == 1


async def commit_hook(db: Db, rec: Recorder, tmp_path: Path) -> None:
    await db.set_commit_hook(rec.callback("commit", lambda: False))
    await run_issued(db, "INSERT INTO t VALUES (1)")
    rec.check("commit")
    # a true result turns the commit into a rollback
    await db.set_commit_hook(rec.callback("veto", lambda: True))
    with pytest.raises(apsw.ConstraintError):
        await run_issued(db, "INSERT INTO t VALUES (2)")
    await db.set_commit_hook(None)
    assert await (await db.execute("SELECT x FROM t")).fetchall() == [(1,)]


async def rollback_hook(db: Db, rec: Recorder, tmp_path: Path) -> None:
    await db.set_rollback_hook(rec.callback("rollback", lambda: None))
    await run_issued(db, "BEGIN; INSERT INTO t VALUES (1); ROLLBACK")
    rec.check("rollback")


async def wal_hook(db: Db, rec: Recorder, tmp_path: Path) -> None:
    pages: list[int] = []

    def on_wal(conn: apsw.Connection, dbname: str, count: int) -> int:
        pages.append(count)
        return apsw.SQLITE_OK

    await db.set_wal_hook(rec.callback("wal", on_wal))
    await run_issued(db, "INSERT INTO t VALUES (1)")
    assert pages
    assert pages[0] > 0
    rec.check("wal")


async def preupdate_hook(db: Db, rec: Recorder, tmp_path: Path) -> None:
    seen: list[tuple[str, Any]] = []

    def on_change(update: apsw.PreUpdate) -> None:
        seen.append((update.op, update.new))

    await db.set_preupdate_hook(rec.callback("preupdate", on_change))
    await run_issued(db, "INSERT INTO t VALUES (7)")
    assert seen == [("INSERT", (7,))]
    rec.check("preupdate")


async def authorizer(db: Db, rec: Recorder, tmp_path: Path) -> None:
    def allow_but_t2(op: int, p1: Any, p2: Any, dbname: Any, trigger: Any) -> int:
        return apsw.SQLITE_DENY if p1 == "t2" else apsw.SQLITE_OK

    await db.set_authorizer(rec.callback("authorizer", allow_but_t2))
    assert await run_issued(db, "SELECT count(*) FROM t") == [(0,)]
    with pytest.raises(apsw.AuthError):
        await run_issued(db, "CREATE TABLE t2(x)")
    rec.check("authorizer")
    await db.set_authorizer(None)
    await db.execute("CREATE TABLE t2(x)")


async def busy_handler(db: Db, rec: Recorder, tmp_path: Path) -> None:
    other = apsw.Connection(db_path(tmp_path))
    other.execute("BEGIN IMMEDIATE; INSERT INTO t VALUES (0)")
    tries: list[int] = []

    def retry_twice(prior_calls: int) -> bool:
        tries.append(prior_calls)
        return prior_calls < 2

    try:
        await db.set_busy_handler(rec.callback("busy", retry_twice))
        with pytest.raises(apsw.BusyError):
            await run_issued(db, "INSERT INTO t VALUES (1)")
        assert tries == [0, 1, 2]
        rec.check("busy")
        await db.set_busy_handler(None)  # aiolite's own wait (busy_timeout) comes back
    finally:
        other.execute("ROLLBACK")
        other.close()
    await db.execute("INSERT INTO t VALUES (1)")


async def progress_handler(db: Db, rec: Recorder, tmp_path: Path) -> None:
    calls: list[int] = []
    await db.set_progress_handler(rec.callback("progress", lambda: calls.append(1)), 50)
    sql = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000) "
        "SELECT sum(x) FROM c"
    )
    assert await run_issued(db, sql) == [(2001000,)]
    assert len(calls) > 10
    rec.check("progress")
    # a true result aborts the statement, as in SQLite
    await db.set_progress_handler(rec.callback("abort", lambda: True), 50)
    with pytest.raises(apsw.InterruptError):
        await run_issued(db, sql)
    await db.set_progress_handler(None)
    assert await run_issued(db, sql) == [(2001000,)]


async def exec_trace(db: Db, rec: Recorder, tmp_path: Path) -> None:
    traced: list[str] = []

    def tracer(cursor: Any, sql: str, bindings: Any) -> bool:
        traced.append(sql)
        return "forbidden" not in sql

    await db.set_exec_trace(rec.callback("exec", tracer))
    token = issued_by.set("the query's task")
    try:
        cursor = await db.execute("SELECT 1 AS one, 2 AS two WHERE 0")  # no rows, still described
        assert cursor.description is not None
        assert [column[0] for column in cursor.description] == ["one", "two"]
        with pytest.raises(apsw.ExecTraceAbort):
            await db.execute("SELECT 'forbidden'")
    finally:
        issued_by.reset(token)
    assert traced == ["SELECT 1 AS one, 2 AS two WHERE 0", "SELECT 'forbidden'"]
    rec.check("exec")


async def row_trace(db: Db, rec: Recorder, tmp_path: Path) -> None:
    await db.set_row_trace(
        rec.callback("row", lambda cursor, row: None if row[0] == 2 else row * 2)
    )
    assert await run_issued(db, "SELECT column1 FROM (VALUES (1), (2), (3))") == [(1, 1), (3, 3)]
    rec.check("row")
    await db.set_row_trace(None)
    assert await (await db.execute("SELECT 5")).fetchall() == [(5,)]


async def trace_v2(db: Db, rec: Recorder, tmp_path: Path) -> None:
    events: list[str] = []
    await db.trace_v2(
        apsw.SQLITE_TRACE_STMT, rec.callback("trace", lambda e: events.append(e["sql"]))
    )
    await run_issued(db, "SELECT 42")
    assert "SELECT 42" in events
    rec.check("trace")
    await db.trace_v2(0, None)


async def profile(db: Db, rec: Recorder, tmp_path: Path) -> None:
    seen: list[str] = []
    await db.set_profile(rec.callback("profile", lambda sql, ns: seen.append(sql)))
    await run_issued(db, "SELECT 43")
    assert seen == ["SELECT 43"]
    rec.check("profile")


async def table_filter(db: Db, rec: Recorder, tmp_path: Path) -> None:
    await db.execute(
        "CREATE TABLE keep(id INTEGER PRIMARY KEY, v); CREATE TABLE skip(id INTEGER PRIMARY KEY, v)"
    )
    async with await db.session() as session:
        await session.table_filter(rec.callback("filter", lambda table: table == "keep"))
        await session.attach()
        await run_issued(db, "INSERT INTO keep VALUES (1, 'a'); INSERT INTO skip VALUES (1, 'b')")
        changes = await session.changeset()
    tables = {change.name for change in aiolite.Changeset.iter(changes)}
    assert tables == {"keep"}
    rec.check("filter")


async def conflict_handler(db: Db, rec: Recorder, tmp_path: Path) -> None:
    await db.execute("CREATE TABLE kv(k PRIMARY KEY, v)")
    async with await db.session() as session:
        await session.attach()
        await db.execute("INSERT INTO kv VALUES ('a', 1), ('b', 2)")
        changes = await session.changeset()
    await db.execute("DELETE FROM kv; INSERT INTO kv VALUES ('a', 100)")  # 'a' now conflicts
    reasons: list[int] = []

    def replace(reason: int, change: apsw.TableChange) -> int:
        reasons.append(reason)
        return apsw.SQLITE_CHANGESET_REPLACE

    token = issued_by.set("the query's task")
    try:
        await db.apply_changeset(changes, conflict=rec.callback("conflict", replace))
    finally:
        issued_by.reset(token)
    assert reasons == [apsw.SQLITE_CHANGESET_CONFLICT]
    assert await (await db.execute("SELECT k, v FROM kv ORDER BY k")).fetchall() == [
        ("a", 1),
        ("b", 2),
    ]
    rec.check("conflict")


class Books:
    """A minimal VTModule: one table, one cursor over fixed rows."""

    rows = (("Dune", 1965), ("Emma", 1815))

    def Create(self, db: Any, modulename: str, dbname: str, tablename: str, *args: Any) -> Any:
        return "CREATE TABLE x(title, year)", BooksTable(self)

    Connect = Create


class BooksTable:
    def __init__(self, module: Books) -> None:
        self.module = module

    def BestIndex(self, constraints: Any, orderbys: Any) -> Any:
        return None

    def Open(self) -> Any:
        return self.module.cursor_class()

    def Disconnect(self) -> None:
        pass

    Destroy = Disconnect


class BooksCursor:
    def __init__(self) -> None:
        self.position = 0

    def Filter(self, *args: Any) -> None:
        self.position = 0

    def Eof(self) -> bool:
        return self.position >= len(Books.rows)

    def Column(self, number: int) -> Any:
        return Books.rows[self.position][number]

    def Rowid(self) -> int:
        return self.position

    def Next(self) -> None:
        self.position += 1

    def Close(self) -> None:
        pass


async def virtual_table(db: Db, rec: Recorder, tmp_path: Path) -> None:
    module_class = rec.methods("module", Books, ("Create", "Connect"))
    module = module_class()
    module.cursor_class = rec.methods("cursor", BooksCursor, ("Filter", "Eof", "Column", "Next"))  # type: ignore[attr-defined]
    await db.create_module("books", module)
    await run_issued(db, "CREATE VIRTUAL TABLE shelf USING books()")
    assert await run_issued(db, "SELECT title, year FROM shelf ORDER BY year") == [
        ("Emma", 1815),
        ("Dune", 1965),
    ]
    rec.check("cursor.Filter", "cursor.Eof", "cursor.Column", "cursor.Next")


async def table_function(db: Db, rec: Recorder, tmp_path: Path) -> None:
    if rec.mode == "sync":

        def countdown(start: int) -> Any:
            rec._note("generator")
            for n in range(start, 0, -1):
                yield (n, issued_by.get())

        await db.create_table_function("countdown", countdown, columns=("n", "who"))
    else:

        async def async_countdown(start: int) -> Any:
            await rec.fw.checkpoint()
            rec._note("generator")
            for n in range(start, 0, -1):
                await rec.fw.checkpoint()
                yield (n, issued_by.get())

        await db.create_table_function("countdown", async_countdown, columns=("n", "who"))
    rows = await run_issued(db, "SELECT * FROM countdown(100) WHERE n > 97")
    assert rows == [(n, "the query's task") for n in (100, 99, 98)]
    rows = await run_issued(db, "SELECT n FROM countdown WHERE start = 3 LIMIT 1")  # stops early
    assert rows == [(3,)]
    rec.check("generator")


SCENARIOS: dict[str, Callable[[Db, Recorder, Path], Awaitable[None]]] = {
    "scalar": scalar,
    "aggregate": aggregate,
    "aggregate_factory": aggregate_factory,
    "window": window,
    "collation": collation,
    "update_hook": update_hook,
    "commit_hook": commit_hook,
    "rollback_hook": rollback_hook,
    "wal_hook": wal_hook,
    "preupdate_hook": preupdate_hook,
    "authorizer": authorizer,
    "busy_handler": busy_handler,
    "progress_handler": progress_handler,
    "exec_trace": exec_trace,
    "row_trace": row_trace,
    "trace_v2": trace_v2,
    "profile": profile,
    "session_table_filter": table_filter,
    "changeset_conflict": conflict_handler,
    "virtual_table": virtual_table,
    "table_function": table_function,
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", list(SCENARIOS))
async def test_callback_kind(fw: Framework, kind: str, mode: str, tmp_path: Path) -> None:
    async with aiolite.connect(db_path(tmp_path), busy_timeout=0.2) as db:
        await db.execute("CREATE TABLE t(x)")
        recorder = Recorder(fw, mode)
        async with fw.fail_after(15):
            await SCENARIOS[kind](db, recorder, tmp_path)
        await assert_usable(fw, db)
