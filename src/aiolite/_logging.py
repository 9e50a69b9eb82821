"""aiolite's loggers: one per subject, all under ``aiolite``, silent unless configured.

``aiolite.sql``
    Each statement run through ``execute``/``executemany`` and the pool's
    reads, at DEBUG with its time; cancelled ones and ones stopped by a
    deadline at DEBUG too; with ``slow_query=seconds`` (an option of
    ``connect()`` and ``open_pool()``), any slower statement at WARNING.
``aiolite.connection``, ``aiolite.pool``, ``aiolite.kv``
    A connection, pool or KV store garbage-collected while still open, at
    WARNING (with the ``ResourceWarning`` Python's own objects give).

Nothing is paid when nothing is logged: a connection decides when it opens
whether to time its statements at all (``aiolite.sql`` enabled for DEBUG,
or a ``slow_query`` threshold given), so a program that configures logging
should do so before it connects. Like every library, aiolite only adds a
``NullHandler``: where the records go is the application's choice.
"""

from __future__ import annotations

import contextlib
import logging

root = logging.getLogger("aiolite")
root.addHandler(logging.NullHandler())

sql = logging.getLogger("aiolite.sql")
connection = logging.getLogger("aiolite.connection")
pool = logging.getLogger("aiolite.pool")
kv = logging.getLogger("aiolite.kv")


def unclosed(logger: logging.Logger, what: str) -> None:
    """Log that ``what`` was garbage-collected while open (safe from a finalizer)."""
    with contextlib.suppress(Exception):  # (at interpreter exit, logging may be torn down)
        logger.warning("%s was never closed: close it, or open it with 'async with'", what)
