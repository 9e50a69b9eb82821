"""The KV store's inline writes: one task's ``set``/``delete`` committed on the event-loop thread.

A KV ``set`` is one primary-key upsert; sending it to the writer's thread
and back costs 50-100 us, more than the commit itself. So, when nothing
stands in the way, the KV commits it on the loop thread on a connection of
its own, and falls back to the pool whenever the attempt could take long or
has to wait. (Reads need nothing of their own: the pool's readers run tiny
reads on the loop thread through the engine, see :mod:`aiolite._engine.inline`.)

* every statement has a step budget (a progress handler stops it past
  ``_STEP_BUDGET`` virtual-machine steps; the pool then does it),
* the connection never waits for a lock (no busy handler: ``BusyError`` at
  once means another connection or process is writing, so the pool's writer,
  which does wait, takes over); a write is one statement in autocommit mode,
  so a failure leaves nothing behind,
* a write runs inline only when this process's writer is idle (no group
  commit or writer block in flight, nothing queued), so it is never
  reordered against writes queued before it, and only at
  ``synchronous=NORMAL`` or ``OFF``, where a commit appends to the WAL
  without an fsync,
* the connection never checkpoints; past ``_CHECKPOINT_PAGES`` pages of WAL
  it asks the pool's writer thread to (a checkpoint is I/O-heavy and must
  not run on the loop).

A commit made here is as durable as the pool's: it has been written to the
WAL before ``set`` returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import apsw

from .._apsw import OpenOptions, SetUp, open_here

_STEP_BUDGET = 20_000
_PROGRESS_EVERY = 500
_CHECKPOINT_PAGES = 1000


class Fallback(Exception):
    """The inline attempt gave up; nothing was changed. Use the pool."""


class InlineAccess:
    """A loop-thread connection for one KV table's single-row writes."""

    __slots__ = (
        "_asked_at",
        "_checkpoint",
        "_conn",
        "_sql_delete",
        "_sql_set",
        "_steps",
        "writes",
    )

    def __init__(
        self,
        path: str,
        sql_set: str,
        sql_delete: str,
        synchronous: str,
        request_checkpoint: Callable[[], None],
    ) -> None:
        # The pool made the file WAL; this connection only adds rows to it.
        setup = SetUp(
            foreign_keys=False,
            journal="keep",
            optimize=False,
            pragmas={"synchronous": synchronous},
        )
        options = OpenOptions(
            path, flags=apsw.SQLITE_OPEN_READWRITE, setup=setup, busy_timeout=None
        )
        conn = open_here(options)
        try:
            conn.set_wal_hook(self._on_wal)  # replaces SQLite's auto-checkpoint here
            conn.set_progress_handler(self._on_progress, _PROGRESS_EVERY)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._sql_set = sql_set
        self._sql_delete = sql_delete
        self._checkpoint = request_checkpoint
        self._steps = 0
        self._asked_at = 0  # WAL pages when a checkpoint was last asked for
        self.writes = synchronous in ("OFF", "NORMAL")

    def _on_progress(self) -> bool:
        self._steps += _PROGRESS_EVERY
        return self._steps > _STEP_BUDGET

    def _on_wal(self, conn: apsw.Connection, name: str, pages: int) -> int:
        # Ask once per _CHECKPOINT_PAGES of growth, not at every commit while
        # the WAL stays long (it shrinks only when a later write restarts it).
        if pages < self._asked_at:
            self._asked_at = 0
        if pages >= self._asked_at + _CHECKPOINT_PAGES:
            self._asked_at = pages
            self._checkpoint()
        return apsw.SQLITE_OK

    def set(self, key: str, stored: str | bytes) -> None:
        """Store and commit; Fallback (nothing changed) if it could not at once."""
        self._write(self._sql_set, (key, stored))

    def delete(self, key: str) -> int:
        """Delete and commit; how many rows went (0 or 1)."""
        return self._write(self._sql_delete, (key,))

    def _write(self, sql: str, bindings: tuple[Any, ...]) -> int:
        # One statement in autocommit mode: SQLite wraps it in its own
        # transaction and commits it, or rolls it back entirely if it fails.
        conn = self._conn
        self._steps = 0
        try:
            conn.execute(sql, bindings)
        except Exception as exc:
            raise Fallback from exc  # nothing was written; the pool retries and waits
        return conn.changes()

    def close(self) -> None:
        self._conn.close(True)
