"""VFSes for the fault-injection stress scenarios, built on ``aiolite.VFS``.

:class:`FaultyVFS` passes everything through to SQLite's default VFS, but a
:class:`FaultPlan` makes chosen ``xWrite`` (and optionally ``xSync`` and
``xTruncate``) calls fail with an I/O error (``SQLITE_IOERR_WRITE`` and
friends, ``apsw.IOError``) or a full disk (``SQLITE_FULL``,
``apsw.FullError``), and counts what it injected. Its files come in two
flavours, with plain or ``async def`` x-methods, so the scenarios cover both
of aiolite's VFS paths (the async one runs in the event loop while the
worker waits).

:class:`PowerCutVFS` journals, per file, the bytes each write overwrote
since that file's last ``xSync``; :meth:`PowerCutVFS.cut` then drops every
later write and :meth:`PowerCutVFS.restore` puts every file back in its
last-synced state, which is what survives a power cut.
"""

from __future__ import annotations

import collections
import itertools
import os
import random
import threading
from dataclasses import dataclass, field
from typing import Any

import apsw

import aiolite

_names = itertools.count(1)

KINDS = ("db", "wal", "journal")
_ERROR_CODES = {
    "xWrite": apsw.SQLITE_IOERR_WRITE,
    "xSync": apsw.SQLITE_IOERR_FSYNC,
    "xTruncate": apsw.SQLITE_IOERR_TRUNCATE,
}


def file_kind(flags: list[int]) -> str:
    """``db``, ``wal``, ``journal`` or ``other`` (temp files and the like)."""
    if flags[0] & apsw.SQLITE_OPEN_MAIN_DB:
        return "db"
    if flags[0] & apsw.SQLITE_OPEN_WAL:
        return "wal"
    if flags[0] & apsw.SQLITE_OPEN_MAIN_JOURNAL:
        return "journal"
    return "other"


def file_path(name: Any) -> str | None:
    if name is None:
        return None
    if isinstance(name, apsw.URIFilename):
        return str(name.filename())
    return str(name)


@dataclass
class FaultPlan:
    """Which calls fail, chosen deterministically from ``seed``.

    Disarmed, nothing fails. Armed, an eligible call (a method in
    ``methods`` on a file of a kind in ``kinds``) fails when it is the
    ``nth`` eligible call since arming, or any call from the ``after``-th on
    ("the disk died"), or with probability ``rate``; the error is an I/O
    error or a full disk, drawn from the seeded random with ``full_share``.
    """

    seed: int
    kinds: frozenset[str] = frozenset(KINDS)
    methods: frozenset[str] = frozenset({"xWrite"})
    rate: float = 0.0
    full_share: float = 0.5
    nth: int | None = None
    after: int | None = None
    armed: bool = False
    calls: int = 0
    injected: collections.Counter[str] = field(default_factory=collections.Counter)
    _random: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    @property
    def faults(self) -> int:
        return sum(self.injected.values())

    def arm(self, *, rate: float = 0.0, nth: int | None = None, after: int | None = None) -> None:
        with self._lock:
            self.rate, self.nth, self.after = rate, nth, after
            self.calls = 0
            self.armed = True

    def disarm(self) -> None:
        with self._lock:
            self.armed = False

    def check(self, kind: str, method: str) -> None:
        """Raise the injected error if this call is chosen to fail."""
        error = self._choose(kind, method)
        if error is not None:
            raise error

    def _choose(self, kind: str, method: str) -> Exception | None:
        with self._lock:
            if not self.armed or kind not in self.kinds or method not in self.methods:
                return None
            self.calls += 1
            chosen = (
                self.calls == self.nth
                or (self.after is not None and self.calls >= self.after)
                or self._random.random() < self.rate
            )
            if not chosen:
                return None
            full = self._random.random() < self.full_share
            code = apsw.SQLITE_FULL if full else _ERROR_CODES[method]
            error = apsw.exception_for(code)
            error.args = (f"injected {'disk full' if full else 'I/O error'} in {kind} {method}",)
            self.injected[f"{kind}.{method} {type(error).__name__}"] += 1
            return error


class SyncFaultyFile(aiolite.VFSFile):
    """A file whose chosen writes, syncs or truncates fail (plain x-methods)."""

    def __init__(self, plan: FaultPlan, name: Any, flags: list[int]) -> None:
        self.plan = plan
        self.kind = file_kind(flags)
        super().__init__("", name, flags)

    def xWrite(self, data: bytes, offset: int) -> None:
        self.plan.check(self.kind, "xWrite")
        super().xWrite(data, offset)

    def xSync(self, flags: int) -> None:
        self.plan.check(self.kind, "xSync")
        super().xSync(flags)

    def xTruncate(self, newsize: int) -> None:
        self.plan.check(self.kind, "xTruncate")
        super().xTruncate(newsize)


class AsyncFaultyFile(aiolite.VFSFile):
    """The same, with ``async def`` x-methods: aiolite runs them in the event loop."""

    def __init__(self, plan: FaultPlan, name: Any, flags: list[int]) -> None:
        self.plan = plan
        self.kind = file_kind(flags)
        super().__init__("", name, flags)

    async def xWrite(self, data: bytes, offset: int) -> None:  # type: ignore[override]
        self.plan.check(self.kind, "xWrite")
        super().xWrite(data, offset)

    async def xSync(self, flags: int) -> None:  # type: ignore[override]
        self.plan.check(self.kind, "xSync")
        super().xSync(flags)

    async def xTruncate(self, newsize: int) -> None:  # type: ignore[override]
        self.plan.check(self.kind, "xTruncate")
        super().xTruncate(newsize)


class FaultyVFS(aiolite.VFS):
    """Pass-through to the default VFS, with faults from ``plan``.

    ``async_methods`` picks the flavour of its files. Unregister it
    (:meth:`unregister`) when done: a VFS is process-wide.
    """

    def __init__(self, plan: FaultPlan, *, async_methods: bool) -> None:
        self.plan = plan
        self.file_class = AsyncFaultyFile if async_methods else SyncFaultyFile
        self.name = f"stress-faulty-{next(_names)}"
        super().__init__(self.name, "")

    def xOpen(self, name: Any, flags: list[int]) -> apsw.VFSFile:
        return self.file_class(self.plan, name, flags)


# ------------------------------------------------------------------ power cut


@dataclass
class _FileState:
    """One file's writes since its last sync, oldest first: (offset, old, new).

    A truncate is recorded as a write of the tail it cut off, with no new bytes.
    """

    synced_size: int
    undo: list[tuple[int, bytes, bytes | None]] = field(default_factory=list)


class PowerCutFile(aiolite.VFSFile):
    """Journals what each write or truncate overwrote until the file is synced."""

    def __init__(self, vfs: PowerCutVFS, name: Any, flags: list[int]) -> None:
        self.vfs = vfs
        self.path = file_path(name)
        super().__init__("", name, flags)
        if self.path is not None:
            vfs.track(self.path, self.xFileSize())

    def _old_bytes(self, offset: int, amount: int) -> bytes:
        size = self.xFileSize()
        if offset >= size or amount <= 0:
            return b""
        return bytes(super().xRead(min(amount, size - offset), offset))

    def xWrite(self, data: bytes, offset: int) -> None:
        with self.vfs.lock:
            if self.vfs.power_off:
                return
            if self.path is not None:
                old = self._old_bytes(offset, len(data))
                self.vfs.states[self.path].undo.append((offset, old, bytes(data)))
            super().xWrite(data, offset)

    def xTruncate(self, newsize: int) -> None:
        with self.vfs.lock:
            if self.vfs.power_off:
                return
            if self.path is not None:
                tail = self._old_bytes(newsize, self.xFileSize() - newsize)
                self.vfs.states[self.path].undo.append((newsize, tail, None))
            super().xTruncate(newsize)

    def xSync(self, flags: int) -> None:
        with self.vfs.lock:
            if self.vfs.power_off:
                return
            super().xSync(flags)
            if self.path is not None:
                self.vfs.synced(self.path, self.xFileSize())


class PowerCutVFS(aiolite.VFS):
    """A VFS whose files can be put back to their last-synced state.

    ``syncs`` counts successful syncs of each file kind's path (the scenario
    uses the WAL's to know which acknowledged commits were on stable storage
    when the power went).
    """

    def __init__(self) -> None:
        self.name = f"stress-power-{next(_names)}"
        self.lock = threading.RLock()
        self.states: dict[str, _FileState] = {}
        self.sync_count: collections.Counter[str] = collections.Counter()
        self.power_off = False
        super().__init__(self.name, "")

    def xOpen(self, name: Any, flags: list[int]) -> apsw.VFSFile:
        return PowerCutFile(self, name, flags)

    def xDelete(self, filename: str, syncdir: bool) -> None:
        with self.lock:
            if self.power_off:
                return
            self.states.pop(filename, None)
            super().xDelete(filename, syncdir)

    def track(self, path: str, size: int) -> None:
        """A file opened: what it holds now counts as synced (it predates us)."""
        with self.lock:
            self.states.setdefault(path, _FileState(size))

    def synced(self, path: str, size: int) -> None:
        state = self.states[path]
        state.synced_size = size
        state.undo.clear()
        self.sync_count[path] += 1

    def cut(self) -> None:
        """The power goes: from now on no write, truncate, sync or delete happens."""
        with self.lock:
            self.power_off = True

    def restore(self, writeback: float = 0.0, rng: random.Random | None = None) -> int:
        """Put every file back as it was at its last sync; the writes undone.

        ``writeback`` is the chance that the operating system had written an
        unsynced write to disk anyway, in any order (drawn from ``rng``); 0
        puts every file back exactly in its last-synced state. Call it after
        the connections closed (their last writes were dropped). The ``-shm``
        files are removed too: shared memory does not survive a power cut
        (SQLite rebuilds the WAL index from the WAL).
        """
        undone = 0
        with self.lock:
            for path, state in self.states.items():
                if not os.path.exists(path):
                    continue
                with open(path, "r+b") as file:
                    for offset, old, _ in reversed(state.undo):
                        file.seek(offset)
                        file.write(old)
                    file.truncate(state.synced_size)
                    for offset, _, new in state.undo:
                        if new is not None and rng is not None and rng.random() < writeback:
                            file.seek(offset)
                            file.write(new)
                        else:
                            undone += 1
            for path in self.states:
                if path.endswith("-wal") and os.path.exists(path[:-4] + "-shm"):
                    os.remove(path[:-4] + "-shm")
            self.states.clear()
            self.power_off = False
        return undone
