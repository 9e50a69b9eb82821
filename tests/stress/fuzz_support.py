"""What the fuzz scenarios share: the documented errors, the settings, the loop portal.

**Documented errors, in one place.** ``DOCUMENTED`` lists, for each API the
fuzzers call, the exception types its documentation allows for bad input
(the README's *Errors*, *Pool and KV store* and *Migrating from aiosqlite*
sections, and APSW's documentation for what it raises unchanged). A fuzz
example may succeed or raise one of these; any other exception (an
``AssertionError``, ``RuntimeError``, ``SystemError``, a closed-connection
error from an open connection...) fails the scenario, and so does a hang.

**How examples run.** Hypothesis drives plain functions, and the fuzzed
APIs are async. Each scenario is an ordinary ``fw`` test: it opens its
database once on the framework's loop, then :func:`drive` runs the
hypothesis test (a sync ``@given`` function) in a worker thread while the
loop keeps running; each example hands its async body back to the loop
through a portal (``asyncio.run_coroutine_threadsafe``,
``trio.from_thread.run`` or ``anyio.from_thread.run``) and blocks until it
is done. So every example runs on the real loop, on one long-lived
connection (cheap: a round trip, not a connection opening per example), and
the loop is free between examples as it would be in an application. Each
example is bounded by the framework's own timeout (:data:`EXAMPLE_TIMEOUT`);
running into it is reported as a hang. Hypothesis's own ``deadline`` is off
(timing on a shared 2-core machine is noise).

**Sizes.** ``make test`` runs 80-150 examples per scenario, derandomized
(the same examples every run, so CI is deterministic); ``make stress`` runs
thousands, randomly.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

import anyio
import anyio.from_thread
import anyio.to_thread
import apsw
import trio
from hypothesis import HealthCheck, settings

import aiolite
from tests.frameworks import Framework
from tests.stress.conftest import FULL, Figures, scaled

EXAMPLE_TIMEOUT = 30.0
"""Seconds one example may take on the loop before it counts as a hang."""


def fuzz_settings(reduced: int, full: int) -> settings:
    """Hypothesis settings: ``reduced`` derandomized examples, or ``full`` random ones."""
    return settings(
        max_examples=scaled(reduced, full),
        derandomize=not FULL,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.filter_too_much,
        ],
    )


# ------------------------------------------------------------ documented errors

_BINDING_ERRORS: tuple[type[BaseException], ...] = (
    apsw.BindingsError,  # wrong number of bindings, a dict for '?' placeholders
    TypeError,  # a value SQLite cannot store, bindings that are neither dict nor sequence
    OverflowError,  # an int beyond 64 bits
    UnicodeEncodeError,  # a str holding a lone surrogate
    KeyError,  # a name missing from a dict of named bindings
    BufferError,  # a buffer that is not contiguous (memoryview(b)[::2])
)
"""APSW's binding errors (README *Errors*: bad bindings; APSW's *Bindings* docs)."""

_SQL_ERRORS: tuple[type[BaseException], ...] = (
    apsw.SQLError,  # syntax errors, no such table/column, nested transactions...
    apsw.ConstraintError,
    apsw.MismatchError,  # a non-integer rowid
    apsw.TooBigError,  # a string or blob past SQLite's length limit
    apsw.RangeError,
    ValueError,  # APSW: a NUL character in the SQL text
    UnicodeEncodeError,  # APSW: SQL text holding a lone surrogate
    UnicodeDecodeError,  # APSW: a TEXT result that is not UTF-8 (CAST(x'ff' AS TEXT))
)
"""What SQLite (through APSW, unchanged) says about bad SQL text (README *Errors*)."""

DOCUMENTED: dict[str, tuple[type[BaseException], ...]] = {
    "Connection.execute": _SQL_ERRORS + _BINDING_ERRORS,
    "Connection.executemany": _SQL_ERRORS + _BINDING_ERRORS,
    # Readers are read-only: a write, ATTACH or a pragma that sets a value is
    # refused with ReaderReadOnlyError (query_only's ReadOnlyError behind it). README
    # *Pool*: transaction control is refused with TransactionControlError.
    "Pool.fetch": (
        *_SQL_ERRORS,
        *_BINDING_ERRORS,
        apsw.ReadOnlyError,
        aiolite.ReaderReadOnlyError,
        aiolite.TransactionControlError,
    ),
    "Pool.execute": (*_SQL_ERRORS, *_BINDING_ERRORS, aiolite.TransactionControlError),
    # README *KV store*: TypeError for any key or value that cannot round-trip,
    # KeyError from delete of a missing key (like dict).
    "KV": (TypeError,),
    "KV.delete": (TypeError, KeyError),
    # README *KV store*, table helpers: a name, order_by term or limit that is
    # not plain is a ValueError before any SQL runs; 'where' is SQL the
    # programmer wrote, so SQLite's errors and the binding errors apply to it.
    # The definitions are SQL: SQLite may refuse them (or a name it reserves:
    # sqlite_*) with its SQLError; constraints they declare raise ConstraintError.
    "KV.create_table": (ValueError, apsw.SQLError),
    "KV.sql_insert": (
        ValueError,
        apsw.SQLError,
        apsw.ConstraintError,
        apsw.MismatchError,  # a rowid (or INTEGER PRIMARY KEY) that is not an integer
        *_BINDING_ERRORS,
    ),
    "KV.query": (ValueError, *_SQL_ERRORS, *_BINDING_ERRORS),
    # README *Migrating from aiosqlite*: sqlite3's semantics and exceptions.
    "aiosqlite": (
        sqlite3.ProgrammingError,  # bad SQL text, binding counts, unsupported types
        sqlite3.OperationalError,  # SQL errors
        sqlite3.IntegrityError,
        sqlite3.DataError,
        sqlite3.InterfaceError,
        OverflowError,  # an int beyond 64 bits
        ValueError,  # executescript: a NUL character in the script
        UnicodeEncodeError,  # a lone surrogate
    ),
}
"""Per API, the exception types its documentation allows for bad input: exact types.

Exact, not ``isinstance``: ``UnicodeDecodeError`` is a ``ValueError`` and
``ConnectionClosedError`` an ``apsw.Error``, and neither may hide behind its
base class.
"""


class UndocumentedError(AssertionError):
    """An API raised an exception type its documentation does not list."""


def expect_documented(api: str, exc: BaseException, figures: Figures) -> None:
    """Count ``exc`` as a refused bad input if ``api`` documents its type; fail otherwise."""
    if type(exc) not in DOCUMENTED[api]:
        raise UndocumentedError(f"{api} raised {type(exc).__name__}: {exc}") from exc
    figures.error(exc)
    figures.faults += 1


# ---------------------------------------------------------------- loop portal

Portal: TypeAlias = Callable[..., Any]
"""``portal(async_fn, *args)``: run ``async_fn(*args)`` on the loop, return its result."""


class ExampleHung(AssertionError):
    """One example ran past :data:`EXAMPLE_TIMEOUT`."""


async def _bounded(fw: Framework, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> Any:
    started = fw.now()
    try:
        async with fw.fail_after(EXAMPLE_TIMEOUT):
            return await fn(*args)
    except (TimeoutError, trio.TooSlowError):
        if fw.now() - started >= EXAMPLE_TIMEOUT:
            raise ExampleHung(f"an example ran longer than {EXAMPLE_TIMEOUT} s") from None
        raise  # a TimeoutError of the API under test: the example judges it


async def drive(fw: Framework, body: Callable[[Portal], None]) -> None:
    """Run ``body(portal)`` in a thread while this loop serves its examples."""
    if fw.anyio:

        def anyio_portal(fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
            return anyio.from_thread.run(_bounded, fw, fn, args)

        await anyio.to_thread.run_sync(body, anyio_portal)
    elif fw.kind == "trio":

        def trio_portal(fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
            return trio.from_thread.run(_bounded, fw, fn, args)

        await trio.to_thread.run_sync(body, trio_portal)
    else:
        loop = asyncio.get_running_loop()

        def asyncio_portal(fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
            return asyncio.run_coroutine_threadsafe(_bounded(fw, fn, args), loop).result()

        await asyncio.to_thread(body, asyncio_portal)


# ------------------------------------------------------------------- sentinel

SENTINEL = "sentinel_7d"
"""A table no fuzz example names: it must read the same after every example."""

SENTINEL_ROWS: list[tuple[Any, ...]] = [
    (1, "keep me"),
    (2, b"\x00\xff"),
    (3, 2**62),
    (4, -0.0),
    (5, None),
    (6, "x'); DROP TABLE sentinel_7d; --"),
]

SENTINEL_CREATE = f"CREATE TABLE {SENTINEL}(k INTEGER PRIMARY KEY, v)"
SENTINEL_INSERT = f"INSERT INTO {SENTINEL}(k, v) VALUES (?, ?)"
SENTINEL_SELECT = f"SELECT k, v FROM {SENTINEL} ORDER BY k"


async def plant_sentinel(db: aiolite.Connection[Any]) -> None:
    await db.execute(SENTINEL_CREATE)
    await db.executemany(SENTINEL_INSERT, SENTINEL_ROWS)


async def plant_sentinel_in(path: str) -> None:
    """The sentinel table in the database file ``path`` (before a pool opens it)."""
    async with aiolite.connect(path) as db:
        await plant_sentinel(db)


def count_lost(figures: Figures, changed: int, what: object) -> None:
    """Add ``changed`` sentinel rows (or acknowledged writes) to the figures; fail if any."""
    figures.rows_lost = (figures.rows_lost or 0) + changed
    assert changed == 0, f"{changed} sentinel rows or acknowledged writes changed after {what!r}"


def rows_changed(expected: list[Any], seen: list[Any]) -> int:
    """How many rows of ``expected`` are missing from ``seen`` or different (type-exact)."""
    seen_keys = {same_key(row) for row in seen}
    return sum(1 for row in expected if same_key(row) not in seen_keys) + max(
        0, len(seen) - len(expected)
    )


def same_key(value: Any) -> Any:
    """A hashable form of ``value`` that tells apart what ``==`` does not.

    ``1 == 1.0 == True`` and ``0.0 == -0.0``, but a round trip must keep
    the type and the sign: so each scalar carries its type, and floats their
    sign (NaN is equal to itself here).
    """
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(same_key(item) for item in value))
    if isinstance(value, dict):
        return ("dict", tuple((same_key(k), same_key(v)) for k, v in value.items()))
    if type(value) is float:
        if math.isnan(value):
            return ("float", "nan")
        return ("float", value, math.copysign(1.0, value))
    return (type(value).__name__, value)
