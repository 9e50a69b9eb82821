"""The exceptions aiolite adds to APSW's.

SQLite errors are APSW's own classes, raised unchanged (``aiolite.BusyError``
is ``apsw.BusyError``), so code written against APSW keeps its ``except``
clauses. The classes here cover what only an async bridge can get wrong: the
wrong event loop, a callback that would deadlock, and a deadline.
"""

from __future__ import annotations

import apsw

ConnectionClosedError = apsw.ConnectionClosedError
"""Raised by every call on a connection that is closed or closing.

It is APSW's own class, so ``except apsw.ConnectionClosedError`` catches both
the sync and the async flavour of the mistake.
"""


class WrongEventLoopError(RuntimeError):
    """A connection was used outside the event loop that opened it.

    Each connection delivers its results to one event loop; awaiting it from
    another loop, another thread or another framework could never complete,
    so aiolite refuses at the call instead of hanging.
    """


class CallbackDeadlockError(RuntimeError):
    """An async callback awaited the connection that is waiting for it.

    While SQLite runs an async callback (a function, hook or virtual table
    method written as ``async def``), the connection's worker thread is
    blocked inside SQLite until the callback returns. A request to that same
    connection from inside the callback could never run, so it fails at once.
    Do the work in a sync callback (it runs in the worker and may use the
    connection it is given) or on another connection.
    """


class DeadlineExceeded(TimeoutError):
    """``aiolite.deadline`` passed before the request finished.

    It is a :class:`TimeoutError`; under trio it is also a
    ``trio.TooSlowError``, so both the portable and the trio-native
    ``except`` clause catch it.
    """
