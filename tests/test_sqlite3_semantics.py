"""sqlite3's semantics on APSW, checked against the standard library itself.

``aiolite.aiosqlite`` runs on its own sync core (``aiolite.aiosqlite._dbapi``)
instead of ``sqlite3``, so that one process uses one SQLite library. Each
scenario below runs twice, once on ``sqlite3.connect`` and once on the core's
``connect``, each on its own database, and must give the same record: the
same values, or an exception of the same sqlite3 class (with the same message
where users match on it). The standard library is the oracle.
"""

from __future__ import annotations

import datetime
import sqlite3
import sys
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from aiolite.aiosqlite import _dbapi

Connect = Callable[..., Any]
Scenario = Callable[[Connect, Path], list[Any]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(function: Scenario) -> Scenario:
    SCENARIOS[function.__name__] = function
    return function


def attempt(record: list[Any], action: Callable[[], Any], *, message: bool = True) -> Any:
    """Record ``action()``'s value, or its exception's class (and message)."""
    try:
        value = action()
    except Exception as exc:
        record.append(("raised", type(exc).__name__, str(exc) if message else None))
        return None
    record.append(value)
    return value


@scenario
def implicit_transactions(connect: Connect, tmp: Path) -> list[Any]:
    record: list[Any] = []
    db = connect(tmp / "t.db")
    db.execute("CREATE TABLE t(x INTEGER PRIMARY KEY, y TEXT UNIQUE)")
    record.append(db.in_transaction)  # DDL opens no transaction
    cur = db.execute("INSERT INTO t(y) VALUES ('a')")
    record += [db.in_transaction, cur.rowcount, cur.lastrowid, cur.description]
    cur = db.execute("SELECT * FROM t WHERE 0")
    record += [cur.rowcount, cur.description, cur.fetchall()]
    db.commit()
    record += [db.in_transaction, db.total_changes]
    cur = db.executemany("INSERT INTO t(y) VALUES (?)", [("b",), ("c",), ("d",)])
    record += [cur.rowcount, cur.lastrowid, db.in_transaction]
    db.rollback()
    record.append(db.execute("SELECT count(*) FROM t").fetchone())
    cur = db.execute("UPDATE t SET y = y || '!' ")
    record += [cur.rowcount, db.total_changes]
    cur = db.execute("INSERT INTO t(y) VALUES ('z') RETURNING x, y")
    record += [cur.rowcount, cur.fetchall(), cur.rowcount]
    db.executescript("INSERT INTO t(y) VALUES ('s');")  # commits what was pending first
    record.append(db.in_transaction)
    db.close()
    again = connect(tmp / "t.db")
    record.append(again.execute("SELECT y FROM t ORDER BY x").fetchall())
    again.close()
    return record


@scenario
def isolation_levels(connect: Connect, tmp: Path) -> list[Any]:
    record: list[Any] = []
    db = connect(tmp / "i.db", isolation_level=None)
    db.execute("CREATE TABLE t(x)")
    db.execute("INSERT INTO t VALUES (1)")
    record += [db.in_transaction, db.isolation_level]
    db.isolation_level = "IMMEDIATE"
    db.execute("INSERT INTO t VALUES (2)")
    record += [db.in_transaction, db.isolation_level]
    db.isolation_level = None  # commits the pending transaction
    record.append(db.in_transaction)
    attempt(record, lambda: setattr(db, "isolation_level", "SOMETIMES"))
    attempt(record, lambda: setattr(db, "isolation_level", 5))
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (3)")
    db.rollback()
    record.append(db.execute("SELECT x FROM t ORDER BY x").fetchall())
    with db:
        db.execute("INSERT INTO t VALUES (4)")
    attempt(record, lambda: db.execute("COMMIT"))
    db.close()
    return record


@scenario
def errors_and_messages(connect: Connect, tmp: Path) -> list[Any]:
    record: list[Any] = []
    db = connect(tmp / "e.db")
    db.execute("CREATE TABLE t(x UNIQUE NOT NULL)")
    db.execute("INSERT INTO t VALUES (1)")
    attempt(record, lambda: db.execute("INSERT INTO t VALUES (1)"))
    attempt(record, lambda: db.execute("INSERT INTO t VALUES (NULL)"))
    attempt(record, lambda: db.execute("SELECT * FROM nowhere"))
    attempt(record, lambda: db.execute("SELEC 1"))
    attempt(record, lambda: db.execute("SELECT ?", (1, 2)))
    attempt(record, lambda: db.execute("SELECT ?", {"a": 1}))
    attempt(record, lambda: db.execute("SELECT :a", {"b": 1}))
    attempt(record, lambda: db.execute("SELECT ?", ([1],)))
    attempt(record, lambda: db.execute("SELECT ?", 5))
    attempt(record, lambda: db.execute("SELECT ?", (2**70,)), message=False)
    attempt(record, lambda: db.execute("SELECT 1; SELECT 2"))
    attempt(record, lambda: db.executemany("SELECT ?", [(1,)]))
    attempt(record, lambda: db.execute("SELECT 1\x00"))
    attempt(record, lambda: db.execute(5))
    try:
        db.execute("INSERT INTO t VALUES (1)")
    except sqlite3.IntegrityError as exc:
        record += [exc.sqlite_errorcode, exc.sqlite_errorname]  # type: ignore[attr-defined]
    cursor = db.cursor()
    cursor.close()
    attempt(record, lambda: cursor.execute("SELECT 1"))
    db.close()
    attempt(record, lambda: db.execute("SELECT 1"))
    db.close()  # idempotent
    attempt(record, lambda: connect(tmp / "no" / "such" / "dir.db"))
    return record


@scenario
def rows(connect: Connect, tmp: Path) -> list[Any]:
    record: list[Any] = []
    db = connect(":memory:")
    db.row_factory = sqlite3.Row
    row = db.execute("SELECT 1 AS Id, 'Ada' AS name").fetchone()
    record += [row["id"], row["NAME"], row[0], row[-1], row[0:2], row.keys(), len(row)]
    record += [tuple(row), dict(row), row == db.execute("SELECT 1 AS Id, 'Ada' AS name").fetchone()]
    record.append(hash(row) == hash(db.execute("SELECT 1 AS Id, 'Ada' AS name").fetchone()))
    attempt(record, lambda: row["missing"])
    attempt(record, lambda: row[5])
    db.row_factory = lambda cursor, values: (cursor.description[0][0], values)
    record.append(db.execute("SELECT 7 AS seven").fetchall())
    cursor = db.cursor()
    cursor.row_factory = None
    record.append(cursor.execute("SELECT 1, 2").fetchall())
    cursor.arraysize = 2
    record.append(cursor.execute("VALUES (1), (2), (3)").fetchmany())
    record.append(list(cursor.execute("VALUES (4), (5)")))
    db.close()
    return record


@scenario
def adapters_and_converters(connect: Connect, tmp: Path) -> list[Any]:
    class Point:
        def __init__(self, x: float, y: float) -> None:
            self.x, self.y = x, y

        def __conform__(self, protocol: Any) -> str | None:
            return f"{self.x};{self.y}" if protocol is sqlite3.PrepareProtocol else None

    class Money:
        def __init__(self, cents: int) -> None:
            self.cents = cents

    sqlite3.register_adapter(Money, lambda money: f"${money.cents}")
    sqlite3.register_converter("POINT", lambda text: tuple(map(float, text.split(b";"))))
    try:
        record: list[Any] = []
        flags = sqlite3.PARSE_DECLTYPES | sqlite3.PARSE_COLNAMES
        db = connect(":memory:", detect_types=flags)
        db.execute("CREATE TABLE t(p POINT, m TEXT, n INTEGER NOT NULL, d DATE, ts TIMESTAMP)")
        today = datetime.date(2026, 12, 2)
        moment = datetime.datetime(2026, 12, 2, 15, 48, 13)
        values = (Point(1, 2), Money(5), 3, today, moment)
        with warnings.catch_warnings():  # the default date adapters are deprecated on 3.12+
            warnings.simplefilter("ignore", DeprecationWarning)
            db.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?)", values)
            row = db.execute("SELECT p, m, n, d, ts FROM t").fetchone()
        record.append(row)
        cur = db.execute('SELECT p AS "p [POINT]", n AS "n [nosuch]" FROM t')
        record += [cur.description, cur.fetchall()]
        attempt(record, lambda: db.execute("SELECT ?", (Money,)))
        db.text_factory = bytes
        record.append(db.execute("SELECT 'héllo', 1, NULL").fetchone())
        db.text_factory = lambda data: data.decode().upper()
        record.append(db.execute("SELECT 'abc'").fetchone())
        db.close()
        return record
    finally:
        del sqlite3.adapters[(Money, sqlite3.PrepareProtocol)]
        del sqlite3.converters["POINT"]


@scenario
def callbacks(connect: Connect, tmp: Path) -> list[Any]:
    record: list[Any] = []
    db = connect(":memory:")
    db.create_function("double", 1, lambda x: x * 2, deterministic=True)
    db.create_function("boom", 0, lambda: 1 / 0)
    record.append(db.execute("SELECT double(21), double('ab')").fetchone())
    attempt(record, lambda: db.execute("SELECT boom()").fetchone())

    class Total:
        def __init__(self) -> None:
            self.total = 0

        def step(self, value: int) -> None:
            self.total += value

        def finalize(self) -> int:
            return self.total

    class Broken(Total):
        def step(self, value: int) -> None:
            raise ValueError("no")

    class Sliding(Total):
        def inverse(self, value: int) -> None:
            self.total -= value

        def value(self) -> int:
            return self.total

    db.create_aggregate("total_of", 1, Total)
    db.create_aggregate("broken", 1, Broken)
    db.create_window_function("sliding", 1, Sliding)
    record.append(db.execute("SELECT total_of(value) FROM json_each('[1,2,3]')").fetchone())
    attempt(record, lambda: db.execute("SELECT broken(value) FROM json_each('[1]')").fetchone())
    record.append(
        db.execute(
            "SELECT sliding(value) OVER (ORDER BY key ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) "
            "FROM json_each('[1,2,3,4]')"
        ).fetchall()
    )
    db.create_collation("reverse", lambda a, b: (a < b) - (a > b))
    record.append(
        db.execute(
            "SELECT * FROM (VALUES ('a'), ('c'), ('b')) ORDER BY 1 COLLATE reverse"
        ).fetchall()
    )
    traced: list[str] = []
    db.set_trace_callback(traced.append)
    db.execute("SELECT 40 + 2").fetchall()
    db.execute("SELECT ? || ?", (40, "two")).fetchall()
    db.execute("CREATE TABLE log(x)")
    db.execute("CREATE TRIGGER logged AFTER INSERT ON log BEGIN SELECT 1; END")
    db.execute("INSERT INTO log VALUES (?)", ("a",))
    db.commit()
    db.set_trace_callback(None)
    record.append(traced)
    db.set_authorizer(lambda action, *rest: sqlite3.SQLITE_DENY if action == 21 else 0)
    attempt(record, lambda: db.execute("SELECT 1"))  # 21 = SQLITE_SELECT
    db.set_authorizer(None)
    db.set_progress_handler(lambda: 1, 1)
    attempt(record, lambda: db.execute("SELECT 1"))
    db.set_progress_handler(None, 1)
    record.append(db.execute("SELECT 1").fetchall())
    db.close()
    return record


@scenario
def whole_database(connect: Connect, tmp: Path) -> list[Any]:
    record: list[Any] = []
    db = connect(tmp / "w.db")
    db.execute("CREATE TABLE t(x INTEGER PRIMARY KEY, b BLOB)")
    db.execute("INSERT INTO t VALUES (1, zeroblob(8))")
    db.commit()
    record.append(list(db.iterdump()))
    with db.blobopen("t", "b", 1) as blob:
        blob.write(b"abc")
        attempt(record, lambda: blob.write(b"123456789"))
        blob.seek(0)
        record += [blob.read(3), blob.tell(), len(blob), blob[1], blob[-8], blob[0:2]]
        attempt(record, lambda: blob[8])
        attempt(record, lambda: blob.seek(99))
    db.commit()
    copy = connect(":memory:")
    progress: list[tuple[int, int, int]] = []
    db.backup(copy, pages=1, progress=lambda *status: progress.append(status))
    record += [len(progress) > 0, progress[-1][1], copy.execute("SELECT x, b FROM t").fetchall()]
    image = db.serialize()
    other = connect(":memory:")
    other.deserialize(image)
    record.append(other.execute("SELECT count(*) FROM t").fetchone())
    record += [db.getlimit(sqlite3.SQLITE_LIMIT_LENGTH) > 0]
    for conn in (db, copy, other):
        conn.close()
    return record


@scenario
def shared_memory(connect: Connect, tmp: Path) -> list[Any]:
    record: list[Any] = []
    for database in ("file:books?mode=memory&cache=shared", "file::memory:?cache=shared"):
        first = connect(database, uri=True, isolation_level=None)
        first.execute("CREATE TABLE t(x)")
        first.execute("INSERT INTO t VALUES (1)")
        second = connect(database, uri=True)
        record.append(second.execute("SELECT x FROM t").fetchall())  # one database
        private = connect("file:books?mode=memory", uri=True)
        attempt(record, partial(private.execute, "SELECT x FROM t"))  # not shared
        for conn in (first, second, private):
            conn.close()
        again = connect(database, uri=True)  # freed with its last connection
        attempt(record, partial(again.execute, "SELECT x FROM t"))
        again.close()
    return record


if sys.version_info >= (3, 12):

    @scenario
    def autocommit_modes(connect: Connect, tmp: Path) -> list[Any]:
        record: list[Any] = []
        db = connect(tmp / "a.db", autocommit=False)
        record += [db.autocommit, db.in_transaction]
        db.execute("CREATE TABLE t(x)")
        db.commit()
        record.append(db.in_transaction)
        db.execute("INSERT INTO t VALUES (1)")
        db.rollback()
        record += [db.in_transaction, db.execute("SELECT count(*) FROM t").fetchone()]
        db.autocommit = True
        record.append(db.in_transaction)
        db.execute("INSERT INTO t VALUES (2)")
        db.commit()  # does nothing in autocommit mode
        record.append(db.in_transaction)
        attempt(record, lambda: setattr(db, "autocommit", "yes"))
        db.close()
        return record


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_matches_sqlite3(name: str, tmp_path: Path) -> None:
    (tmp_path / "ours").mkdir()
    (tmp_path / "oracle").mkdir()
    ours = SCENARIOS[name](_dbapi.connect, tmp_path / "ours")
    oracle = SCENARIOS[name](sqlite3.connect, tmp_path / "oracle")
    assert ours == oracle


def test_reports_the_sqlite_really_in_use() -> None:
    import apsw

    from aiolite import aiosqlite

    assert aiosqlite.sqlite_version == apsw.sqlite_lib_version()
    assert aiosqlite.sqlite_version_info == tuple(
        int(part) for part in apsw.sqlite_lib_version().split(".")[:3]
    )
    db = _dbapi.connect(":memory:")
    assert db.execute("SELECT sqlite_version()").fetchone() == (apsw.sqlite_lib_version(),)
    db.close()
