"""Keeping a transaction whole: the guard every request of a connection runs through.

SQLite rolls back the *whole* transaction, not just the statement, when a
write in it is interrupted (which is how aiolite stops a cancelled or
past-deadline request) and after some errors (a full disk, an I/O error,
``SQLITE_BUSY`` or ``SQLITE_NOMEM`` at the wrong moment). The connection is
then back in autocommit, and without a check the rest of a block would run
statement by statement, each committed on its own, and the block's
``COMMIT`` would fail with "no transaction is active" after half of it was
committed. So every request is run through the connection's
:class:`TransactionGuard`, which notices (in the worker, right after the
request that lost the transaction, so nothing later runs in autocommit) and
fails every later request of that transaction with
:class:`~aiolite.TransactionRolledBackError` until the transaction's owner
acknowledges the loss: a block by ending (its exit raises the error too), a
transaction begun with a ``BEGIN`` statement by a ``ROLLBACK`` statement.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import apsw

from .._engine import ABORT_CANCELLED, ABORT_CLOSED, ABORT_DEADLINE
from .._errors import TransactionRolledBackError
from .transaction_control import is_plain_rollback

if TYPE_CHECKING:
    from .._engine import Engine

R = TypeVar("R")

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

    __slots__ = ("_engine", "blocks", "in_transaction", "lost")

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.blocks: list[str] = []
        """The open blocks, outermost first, by savepoint name (worker side)."""
        self.lost: _Loss | None = None
        self.in_transaction = False
        """Whether a transaction was open when the last request ended (written where it ran,
        before its caller hears of it; read on the loop thread as ``db.in_transaction``)."""

    def run(self, conn: apsw.Connection, fn: Callable[..., R], *args: Any) -> R:
        """Run ``fn(conn, *args)`` as one request; refuse it if the transaction was lost.

        Costs two ``in_transaction`` reads: before, and after to note the state.
        """
        if self.lost is not None:
            self.refuse()
        if not conn.in_transaction:
            try:
                return fn(conn, *args)
            finally:
                self.in_transaction = conn.in_transaction
        self.in_transaction = True
        try:
            result = fn(conn, *args)
        except BaseException as exc:
            if not conn.in_transaction:
                self.in_transaction = False
                self._lose(self._why(exc), exc)
            raise
        if not conn.in_transaction:
            self.in_transaction = False
            if self.blocks:
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
                self.in_transaction = False
                return [], True
        elif not conn.in_transaction:
            try:  # (run's first case, without the call)
                return fn(conn, statement, sql, *args)
            finally:
                self.in_transaction = conn.in_transaction
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
        self.in_transaction = False
        if conn.get_autocommit():
            return False
        conn.execute("ROLLBACK")
        return True
