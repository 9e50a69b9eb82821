"""Transaction blocks, and keeping other tasks out of them.

``async with db:`` (or ``db.transaction(mode)``) begins a transaction, commits
it if the block succeeds and rolls it back if the block raises or is
cancelled; a block inside a block is a savepoint.

A connection has one transaction, and tasks sharing the connection would
otherwise run their statements inside whichever transaction happens to be
open. So while a block is open, requests from other tasks wait until it ends.
"Inside the block" is carried by a context variable: the task that opened the
block, and tasks it starts from inside it (which copy its context), pass;
everyone else waits.

Why ``"immediate"`` for blocks that write to a shared file: a ``deferred``
transaction starts as a reader and upgrades to a writer at its first write.
If another connection wrote in between, the upgrade fails with
``BusyError`` at once, without waiting for the busy timeout, because waiting
could not help (the reader's snapshot is already stale). ``BEGIN IMMEDIATE``
takes the write lock up front, where waiting does help.

**A transaction stays whole.** SQLite rolls back the *whole* transaction, not
just the statement, when a write in it is interrupted (which is how aiolite
stops a cancelled or past-deadline request) and after some errors (a full
disk, an I/O error, ``SQLITE_BUSY`` or ``SQLITE_NOMEM`` at the wrong moment).
The connection is then back in autocommit, and without a check the rest of
the block would run statement by statement, each committed on its own, and
the block's ``COMMIT`` would fail with "no transaction is active" after half
of it was committed. So every request is run through the connection's
:class:`TransactionGuard`, which notices (in the worker, right after the
request that lost the transaction, so nothing later runs in autocommit) and
fails every later request of that transaction with
:class:`~aiolite.TransactionRolledBackError` until the transaction's owner
acknowledges the loss: a block by ending (its exit raises the error too), a
transaction begun with a ``BEGIN`` statement by a ``ROLLBACK`` statement.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar

import apsw

from .._engine.engine import ABORT_CANCELLED, ABORT_CLOSED, ABORT_DEADLINE
from .._errors import TransactionControlError, TransactionRolledBackError

if TYPE_CHECKING:
    from types import TracebackType

    from .._engine.engine import Engine
    from .connection import Connection

R = TypeVar("R")

TransactionMode = Literal["deferred", "immediate", "exclusive"]
_MODES = ("deferred", "immediate", "exclusive")

held_transactions: ContextVar[frozenset[object]] = ContextVar(
    "aiolite transactions held", default=frozenset()
)
"""Ownership tokens of the transaction blocks this context is inside."""

_savepoint_numbers = itertools.count(1)

# Leading white space, comments and empty statements (SQLite skips a leading
# ";", and APSW's exec tracer sees it), then the statement's first word. The
# skipping is possessive (*+): with backtracking, a run of spaces or comments
# before a non-word character took exponential time on the event loop.
_FIRST_WORD = re.compile(r"(?:\s|;|--[^\n]*|/\*.*?(?:\*/|\Z))*+(\w+)", re.DOTALL)
_TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"})

_PLAIN_ROLLBACK = re.compile(r"\s*ROLLBACK(?:\s+TRANSACTION)?\s*;?\s*\Z", re.IGNORECASE)


def is_plain_rollback(sql: str) -> bool:
    """True for the one statement that acknowledges a lost transaction (not ``ROLLBACK TO``).

    The rule of both the native connection and ``aiolite.aiosqlite``.
    """
    return _PLAIN_ROLLBACK.match(sql) is not None


def transaction_control_word(sql: str) -> str | None:
    """The first word of ``sql`` (upper case) if it is BEGIN, COMMIT, ROLLBACK...; else None."""
    match = _FIRST_WORD.match(sql)
    if match is not None:
        word = match.group(1).upper()
        if word in _TRANSACTION_CONTROL:
            return word
    return None


def refuse_transaction_control(sql: str, where: str) -> None:
    """TransactionControlError if ``sql`` starts with transaction control (``where``: where not)."""
    word = transaction_control_word(sql)
    if word is not None:
        raise TransactionControlError(f"{word} cannot run in {where}")


_ENDED_IN_BLOCK = (
    "a statement run inside the block ended its transaction (COMMIT, END, ROLLBACK or RELEASE)"
)


class _Loss:
    """Why a transaction was lost, kept until its owner acknowledges it."""

    __slots__ = ("error", "reason")

    def __init__(self, reason: str, error: BaseException | None) -> None:
        self.reason = reason
        self.error = error


class TransactionGuard:
    """One connection's watch over its open transaction (see the module docstring).

    Its methods run where the connection is used: in the worker thread, or on
    the loop thread for an inline read (the engine's lock orders the two).
    ``lost`` is also read on the loop thread, only as a hint (a request that
    sees it unset still meets the check in the worker).

    What counts as losing the transaction, judged around each request:

    * the request **failed** and the transaction open before it is gone after
      it: SQLite rolled it back (an interrupted write, a full disk...);
    * the request **succeeded** and ended the transaction of an open block:
      a ``COMMIT``/``ROLLBACK``/``END``/``RELEASE`` the block ran itself.
      The block cannot go on after that either: its later requests would
      run in autocommit. Outside blocks that is just the user ending the
      transaction they began, and nothing is lost.

    A script that ends its transaction and then fails (``"COMMIT; bad SQL"``)
    counts as the first case, though the ``COMMIT`` went through: nothing
    cheaper than parsing the script tells the two apart, and the price of the
    mistake is only a ``ROLLBACK`` to acknowledge it.
    """

    __slots__ = ("_engine", "blocks", "lost")

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.blocks: list[str] = []
        """The open blocks, outermost first, by savepoint name (worker side)."""
        self.lost: _Loss | None = None

    def run(self, conn: apsw.Connection, fn: Callable[..., R], *args: Any) -> R:
        """Run ``fn(conn, *args)`` as one request; refuse it if the transaction was lost.

        Costs one ``in_transaction`` read when no transaction is open, two when one is.
        """
        if self.lost is not None:
            self.refuse()
        if not conn.in_transaction:
            return fn(conn, *args)
        try:
            result = fn(conn, *args)
        except BaseException as exc:
            if not conn.in_transaction:
                self._lose(self._why(exc), exc)
            raise
        if self.blocks and not conn.in_transaction:
            self._lose(_ENDED_IN_BLOCK, None)
        return result

    def run_statement(
        self, conn: apsw.Connection, fn: Callable[..., R], statement: Any, sql: str, *args: Any
    ) -> R | tuple[list[Any], bool]:
        """``run`` for an ``execute``: a plain ``ROLLBACK`` outside a block acknowledges a loss.

        The transaction is already gone, so the ``ROLLBACK`` has nothing left
        to do and returns no rows (SQLite would say "no transaction is active").
        """
        if self.lost is not None:
            if self.blocks or not is_plain_rollback(sql):
                self.refuse()
            self.lost = None
            if not conn.in_transaction:
                return [], True
        return self.run(conn, fn, statement, sql, *args)

    def refuse(self) -> NoReturn:
        """Raise the error of the lost transaction (a fresh one each time, for its traceback)."""
        loss = self.lost
        assert loss is not None
        if self.blocks:
            then = "the rest of the block cannot run or commit"
        else:
            then = "every request fails until you execute ROLLBACK"
        raise TransactionRolledBackError(f"{loss.reason}: {then}") from loss.error

    def _lose(self, reason: str, error: BaseException | None) -> None:
        self.lost = _Loss(reason, error)

    def _why(self, error: BaseException) -> str:
        stopped = self._engine.stop_reason()
        if stopped == ABORT_CANCELLED:
            cause = "a statement in it was cancelled"
        elif stopped == ABORT_DEADLINE:
            cause = "a statement in it ran past its deadline"
        elif stopped == ABORT_CLOSED:
            cause = "the connection was closed while a statement in it ran"
        else:
            cause = f"a statement in it failed with {type(error).__name__}: {error}"
        return f"the transaction was rolled back because {cause}"

    def forget(self, conn: apsw.Connection) -> bool:
        """Worker side: roll back whatever transaction is open and clear a loss.

        For connections handed from caller to caller (a pool's readers), where
        nothing may outlive its caller. True if a transaction was open.
        """
        self.lost = None
        if conn.get_autocommit():
            return False
        conn.execute("ROLLBACK")
        return True


_REQUEST_SAVEPOINT_SQL = "SAVEPOINT aiolite_request"
_REQUEST_RELEASE_SQL = "RELEASE aiolite_request"
_REQUEST_UNDO_SQL = "ROLLBACK TO aiolite_request; RELEASE aiolite_request"


def run_atomically(conn: apsw.Connection, fn: Callable[..., R], *args: Any) -> R:
    """Worker side: ``fn(conn, *args)`` all or nothing, in a savepoint of its own.

    Outside a transaction the savepoint is the transaction, so its work is
    also committed once (not once per statement). On failure or interruption
    it is undone: rolled back to the savepoint inside a transaction, or the
    whole transaction it began outside one. (An interrupted write inside a
    transaction may already have made SQLite roll back everything; the
    :class:`TransactionGuard` then reports the loss.) The pool's group commit
    has its own savepoint per write, for the same reason, because it also
    undoes a write whose caller was cancelled after it ran.
    """
    outer = conn.in_transaction
    conn.execute(_REQUEST_SAVEPOINT_SQL)
    try:
        result = fn(conn, *args)
        conn.execute(_REQUEST_RELEASE_SQL)
    except BaseException:
        if conn.in_transaction:
            if outer:
                conn.execute(_REQUEST_UNDO_SQL)
            else:  # (also when the RELEASE, i.e. the COMMIT, failed: no lock is kept)
                conn.execute("ROLLBACK")
        raise
    return result


def begin_in_worker(
    conn: apsw.Connection, guard: TransactionGuard, mode: str, savepoint: str, began: list[str]
) -> bool:
    """Begin the block; True if it is a savepoint (nested, or inside a manual BEGIN).

    ``began`` records what actually ran, for :func:`undo_begin_in_worker`. A
    block opened inside a lost transaction fails at once, like any request.
    """
    if guard.lost is not None:
        guard.refuse()
    if conn.in_transaction:
        conn.execute(f"SAVEPOINT {savepoint}")
        began.append(savepoint)
        guard.blocks.append(savepoint)
        return True
    conn.execute(f"BEGIN {mode}")
    began.append("")
    guard.blocks.append(savepoint)
    return False


def undo_begin_in_worker(
    conn: apsw.Connection, guard: TransactionGuard, began: list[str], name: str
) -> None:
    """Undo a begin whose caller never learned that it ran (it was cancelled meanwhile).

    Posted right after the begin request, so it runs after it: if the begin
    ran, its transaction (or savepoint) is rolled back; if the begin was
    skipped or failed, there is nothing to undo.
    """
    if name in guard.blocks:
        guard.blocks.remove(name)
    if began:
        _roll_back(conn, began[0] or None)


def finish_in_worker(
    conn: apsw.Connection,
    guard: TransactionGuard,
    name: str,
    savepoint: str | None,
    commit: bool,
) -> None:
    """Commit or roll back the block; a failed commit rolls back before it raises.

    If the block's transaction was lost, there is nothing left to commit or
    roll back: a block ending normally raises the loss's error, and the block
    that began the transaction clears the loss (the connection is whole
    again). A savepoint block leaves it to the block or ``BEGIN`` around it.
    May run twice for one block (a commit that failed, then the rollback
    posted after it): the second run finds nothing to do.
    """
    if guard.lost is not None:
        try:
            if commit:
                guard.refuse()
        finally:
            if name in guard.blocks:
                guard.blocks.remove(name)
                if savepoint is None:
                    guard.lost = None
        return
    if name in guard.blocks:
        guard.blocks.remove(name)
    if commit:
        try:
            conn.execute(f"RELEASE {savepoint}" if savepoint else "COMMIT")
        except BaseException:
            _roll_back(conn, savepoint)
            raise
    else:
        _roll_back(conn, savepoint)


def _roll_back(conn: apsw.Connection, savepoint: str | None) -> None:
    # SQLite may already have rolled the whole transaction back (an interrupted
    # write does that); then there is nothing left to undo.
    if not conn.in_transaction:
        return
    if savepoint is None:
        conn.execute("ROLLBACK")
        return
    with contextlib.suppress(apsw.SQLError):  # the savepoint went with an outer rollback
        conn.execute(f"ROLLBACK TO {savepoint}; RELEASE {savepoint}")


class Transaction:
    """One ``async with`` transaction block on a connection.

    >>> import asyncio, aiolite
    >>> async def main():
    ...     async with aiolite.connect(":memory:") as db:
    ...         await db.execute("CREATE TABLE acct(id, bal)")
    ...         await db.execute("INSERT INTO acct VALUES (1, 10), (2, 0)")
    ...         async with db.transaction("immediate"):
    ...             await db.execute("UPDATE acct SET bal = bal - 3 WHERE id = 1")
    ...             await db.execute("UPDATE acct SET bal = bal + 3 WHERE id = 2")
    ...         return await (await db.execute("SELECT bal FROM acct ORDER BY id")).get
    >>> asyncio.run(main())
    [7, 3]
    """

    __slots__ = ("_connection", "_held_reset", "_mode", "_name", "_owner", "_savepoint")

    def __init__(self, connection: Connection[Any], mode: TransactionMode = "deferred") -> None:
        if mode not in _MODES:
            raise ValueError(f"transaction mode must be one of {_MODES}, not {mode!r}")
        self._connection = connection
        self._mode = mode
        self._owner: object | None = None
        self._held_reset: Token[frozenset[object]] | None = None
        self._savepoint: str | None = None
        self._name = ""

    async def __aenter__(self) -> Transaction:
        connection = self._connection
        engine = connection._engine
        guard = connection._tx_guard
        name = self._name = f"aiolite_{next(_savepoint_numbers)}"
        if not connection._in_own_transaction():
            self._owner = await connection._acquire_transaction()
            self._held_reset = held_transactions.set(held_transactions.get() | {self._owner})
        began: list[str] = []
        try:
            if await engine.submit(begin_in_worker, guard, self._mode, name, began):
                self._savepoint = name
        except BaseException:
            # Cancelled (or timed out) while the BEGIN was in flight: it may have
            # run all the same, and a transaction left open would swallow every
            # later block on this connection as a never-committed savepoint.
            engine.post(undo_begin_in_worker, guard, began, name)
            self._release()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        engine = self._connection._engine
        finish = (self._connection._tx_guard, self._name, self._savepoint)
        try:
            if exc_type is None:
                try:
                    await engine.submit(finish_in_worker, *finish, True)
                except BaseException:
                    # Cancelled before the commit ran, or it failed: leave no
                    # transaction open behind us, whatever happened.
                    engine.post(finish_in_worker, *finish, False)
                    raise
            else:
                with engine.adapter.shield():
                    await engine.submit(finish_in_worker, *finish, False, cancellable=False)
        finally:
            self._release()

    def _release(self) -> None:
        if self._owner is not None:
            if self._held_reset is not None:
                held_transactions.reset(self._held_reset)
            self._connection._release_transaction(self._owner)
            self._owner = None
