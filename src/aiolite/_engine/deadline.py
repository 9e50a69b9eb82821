"""Deadlines that travel with a request into the worker thread.

A deadline is an absolute time on the running framework's clock
(``loop.time()`` under asyncio, ``trio.current_time()`` under trio, which has
a random offset, ``anyio.current_time()`` under anyio). It is read when a
request is made, converted to the worker's monotonic clock, and checked by the
progress handler, so a long query or a loop of sync callbacks stops on time
even while the event loop is busy.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import TypeVar

T = TypeVar("T")

deadline: ContextVar[float | None] = ContextVar("aiolite.deadline", default=None)
"""Absolute time (framework clock) by which requests made in this context must finish.

Past it a request fails with :class:`aiolite.DeadlineExceeded` (a
``TimeoutError``; also a ``trio.TooSlowError`` under trio). The value is read
when the call is made; later changes do not affect a request already made::

    with aiolite.contextvar_set(aiolite.deadline, aiolite.current_time() + 0.5):
        rows = await (await db.execute(slow_query)).fetchall()
"""


@contextmanager
def contextvar_set(var: ContextVar[T], value: T) -> Iterator[Token[T]]:
    """Set ``var`` to ``value`` for the ``with`` block, then restore it.

    Python 3.14 lets a ``ContextVar`` token be used as a context manager;
    this gives the same on every supported version, and never leaves the
    variable set by mistake (each unreset ``set`` keeps the old value alive).

    >>> import contextvars
    >>> v = contextvars.ContextVar("v", default=0)
    >>> with contextvar_set(v, 5):
    ...     v.get()
    5
    >>> v.get()
    0
    """
    token = var.set(value)
    try:
        yield token
    finally:
        var.reset(token)
