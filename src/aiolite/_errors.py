"""The exceptions aiolite adds to APSW's.

SQLite errors are APSW's own classes, raised unchanged (``aiolite.BusyError``
is ``apsw.BusyError``), so code written against APSW keeps its ``except``
clauses. The classes here cover what only an async bridge can get wrong: the
wrong event loop, a callback that would deadlock or has no loop to run it,
and a deadline; and what aiolite refuses so that a transaction stays whole:
transaction control where it cannot run, and requests in a transaction
SQLite has rolled back.

Each of them is an :class:`AioliteError` as well as the standard class it
refines (``RuntimeError``, ``TimeoutError``, ``apsw.Error``), so code can
catch "anything aiolite itself refused" in one clause while ``except
TimeoutError`` and ``except apsw.Error`` keep working.
"""

from __future__ import annotations

import apsw

ConnectionClosedError = apsw.ConnectionClosedError
"""Raised by every call on a connection that is closed or closing.

It is APSW's own class, so ``except apsw.ConnectionClosedError`` catches both
the sync and the async flavour of the mistake.
"""


class AioliteError(Exception):
    """The base of every exception aiolite itself defines.

    SQLite's errors stay APSW's classes (``aiolite.Error`` is ``apsw.Error``)
    and are not AioliteErrors: they come from the database, not from the
    bridge. Catch this to handle everything aiolite refuses on its own:

    >>> import aiolite
    >>> issubclass(aiolite.PoolTimeout, aiolite.AioliteError)
    True
    >>> issubclass(aiolite.PoolTimeout, TimeoutError)
    True
    >>> issubclass(aiolite.BusyError, aiolite.AioliteError)
    False
    """


class WrongEventLoopError(AioliteError, RuntimeError):
    """A connection was used outside the event loop that opened it.

    Each connection delivers its results to one event loop; awaiting it from
    another loop, another thread or another framework could never complete,
    so aiolite refuses at the call instead of hanging.
    """


class CallbackDeadlockError(AioliteError, RuntimeError):
    """An async callback awaited the connection that is waiting for it.

    While SQLite runs an async callback (a function, hook or virtual table
    method written as ``async def``), the connection's worker thread is
    blocked inside SQLite until the callback returns. A request to that same
    connection from inside the callback could never run, so it fails at once.
    Do the work in a sync callback (it runs in the worker and may use the
    connection it is given) or on another connection.
    """


class NoEventLoopError(AioliteError, RuntimeError):
    """An async callback was called where no aiolite event loop can run it.

    Async callbacks run in the event loop of the aiolite connection whose
    worker thread SQLite called them from. A callback reached from anywhere
    else (a plain ``apsw.Connection`` using an async VFS, another thread) has
    no loop waiting to run it; use a sync method there.
    """

    __module__ = "aiolite"


class DeadlineExceeded(AioliteError, TimeoutError):
    """``aiolite.deadline`` passed before the request finished.

    It is a :class:`TimeoutError`; under trio it is also a
    ``trio.TooSlowError``, so both the portable and the trio-native
    ``except`` clause catch it.
    """


class TransactionControlError(AioliteError, apsw.SQLError):
    """Transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT...) where it cannot run.

    A pool's single-statement write runs inside the pool's shared
    transaction, and a read on a connection other callers share must not
    leave one open; use ``pool.writer()`` (or ``pool.reader()`` for reads)
    for a transaction of your own. ``executemany`` runs its statement many
    times as one all-or-nothing unit, which a statement ending or beginning
    the transaction would break. Raised before anything runs.
    """


class TransactionRolledBackError(AioliteError, apsw.Error):
    """SQLite rolled back the open transaction under the code that was using it.

    SQLite rolls back a whole transaction, not just the failing statement,
    when a write in it is interrupted (aiolite interrupts a cancelled or
    past-deadline request that way) and after some errors (``FullError``,
    ``IOError``, ``BusyError``, ``NoMemError``, a constraint with ``ON
    CONFLICT ROLLBACK``). Carrying on would run the rest of the transaction's
    statements each in its own autocommit transaction, so a block would
    commit half of itself. Instead every later request in that transaction
    fails with this error, naming the cause (also its ``__cause__``):

    * inside ``async with db:`` (or ``pool.writer()``), until the block ends;
      the block's exit raises it too, so a block whose body carried on past
      the rollback never ends as if it had committed;
    * after a ``BEGIN`` run as a statement, until a ``ROLLBACK`` statement
      acknowledges it (``COMMIT`` fails with it: the transaction is gone).

    Nothing of the transaction is committed. The same error is raised when a
    statement run inside a block ends the block's transaction itself
    (``COMMIT``, ``END``, ``ROLLBACK``, ``RELEASE``): the rest of the block
    would otherwise run outside any transaction.

    It is an ``apsw.Error`` (``aiolite.Error``): a database failure, caught
    where SQLite's own errors are.
    """

    __module__ = "aiolite"


class ReaderReadOnlyError(AioliteError, apsw.ReadOnlyError, apsw.AuthError):
    """A pool reader refused a statement that would change the database or the connection.

    A pool's reader connections are shared: each ``pool.fetch*`` runs on
    whichever reader is least busy, and a ``pool.reader()`` block gets one
    for a while. So a reader must look the same to every caller, and it
    refuses, when the statement is prepared and before anything runs:

    * writes (``INSERT``, ``UPDATE``, ``DELETE``, ``CREATE``, ``DROP``,
      ``ALTER``, ``REINDEX``, ``ANALYZE``), temporary tables, views and
      triggers included: they would outlive the caller that made them;
    * ``ATTACH`` and ``DETACH`` (an attached file stays attached for every
      later read; ``VACUUM INTO`` attaches its target, so it is refused too);
    * a pragma that sets a value (``PRAGMA query_only=0``, ``PRAGMA
      foreign_keys=0``...) or acts (``optimize``, ``wal_checkpoint``,
      ``incremental_vacuum``, ``shrink_memory``). Reading a setting (``PRAGMA
      user_version``) and the pragmas whose argument names what to read
      (``PRAGMA table_info(t)``, ``index_list``, ``integrity_check``...) work.

    Write with ``pool.execute`` or in ``async with pool.writer()``; give
    every connection a pragma with ``open_pool(pragmas=...)``. It is an
    ``apsw.ReadOnlyError`` (what a ``query_only`` connection raises for a
    write) and an ``apsw.AuthError`` (what SQLite raises for a statement an
    authorizer denied), so either ``except`` clause catches it.
    """

    __module__ = "aiolite"


class PoolTimeout(AioliteError, TimeoutError):
    """A pool wait passed ``acquire_timeout``.

    Raised when a writer block, a reader block or a group-commit write could
    not get its connection in time: the writer was held by other work in this
    process for longer, or another process held the database's write lock
    past the busy timeout. Nothing of the request ran. It is a
    :class:`TimeoutError`, so ``except TimeoutError`` catches it too.
    """

    __module__ = "aiolite"


def missing_extra(what: str, package: str, extra: str) -> ModuleNotFoundError:
    """The error for an optional dependency that is not installed.

    Its message names the extra that installs it, so the fix is in the
    traceback; it stays a ``ModuleNotFoundError`` whose ``name`` is the
    missing package, so ``except ImportError`` around optional features
    keeps working.

    >>> print(missing_extra("the dialect", "sqlalchemy", "sqlalchemy"))
    the dialect needs sqlalchemy, which is not installed: pip install "aiolite[sqlalchemy]"
    """
    return ModuleNotFoundError(
        f'{what} needs {package}, which is not installed: pip install "aiolite[{extra}]"',
        name=package,
    )
