"""Crash safety: a process writing through a pool, killed with SIGKILL again and again.

One database file, many lives: each child (``crash_child.py``) opens a pool
on the same file and writes acknowledged rows from concurrent tasks
(group-committed ``pool.execute``, ``pool.executemany``, ``pool.writer()``
transactions) until it is killed with SIGKILL at a random (seeded) moment:
some right at start-up while the pool opens, some in a checkpoint-heavy
phase (``wal_autocheckpoint`` of 4 pages and big rows, so most commits are
followed by a checkpoint), some during steady writing, and some while it
writes through a KV store instead (``kv.set`` commits inline on the event
loop's thread, on a connection of its own). After every kill,
the file must pass ``PRAGMA integrity_check``, hold every write any child had
acknowledged, and hold each request's rows all or none.

It runs at ``synchronous`` OFF, NORMAL (the pool's default) and FULL. What
it shows: surviving the *process* being killed needs only that COMMIT
returned, i.e. that SQLite handed the WAL frames to the operating system
with write(); the kernel's page cache outlives the process whatever
``synchronous`` says. ``synchronous`` decides only when SQLite calls fsync,
which matters for a power cut or an OS crash, which no test here can
produce.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import apsw
import pytest

from tests.stress.conftest import Figures, scaled

CHILD = Path(__file__).with_name("crash_child.py")
KILLS = scaled(8, 100)
"""SIGKILLs per synchronous level, all on one database file."""
PHASES = ("startup", "checkpoint", "steady", "kv")
START_SECONDS = 30.0
"""Bounds waiting for a child to start (generous: the machine is shared)."""


class Child:
    """One writing process and what it printed, read by a thread so its pipe never fills."""

    def __init__(self, path: Path, synchronous: str, phase: str, base: int, seed: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(CHILD), str(path), synchronous, phase, str(base), str(seed)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parents[2],
        )
        self.acks: list[list[int]] = []
        self.kv_acks: list[int] = []
        self.errors: list[str] = []
        self.opening = threading.Event()
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._read, name="crash-child-stdout")
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                message: dict[str, Any] = json.loads(line)
            except ValueError:
                continue  # the last line, cut short by the kill: not acknowledged
            if "ack" in message:
                self.acks.append(message["ack"])
            elif "kv" in message:
                self.kv_acks.append(message["kv"])
            elif "error" in message:
                self.errors.append(message["error"])
            elif "opening" in message:
                self.opening.set()
            elif "ready" in message:
                self.ready.set()
        self.opening.set()
        self.ready.set()  # at EOF: nobody waits for ever on a child that died

    def wait_for(self, event: threading.Event) -> None:
        assert event.wait(START_SECONDS), "the child did not start in time"
        if self.process.poll() is not None:
            stderr = self.process.stderr.read() if self.process.stderr else ""
            pytest.fail(f"the child exited by itself ({self.process.returncode}):\n{stderr}")

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no clean-up of any kind
        self.process.wait(timeout=START_SECONDS)
        self._reader.join(START_SECONDS)
        if self.process.stderr is not None:
            self.process.stderr.close()
        assert self.process.returncode == -9, f"the child exited with {self.process.returncode}"


def check_file(path: Path) -> tuple[str, set[int], list[Any]]:
    """Integrity, stored row ids and half-written requests, as a fresh process would see them.

    The checking connection never checkpoints on close, so the next child
    starts on the WAL exactly as the killed one left it.
    """
    if not path.exists():
        return "ok", set(), []
    conn = apsw.Connection(str(path))
    try:
        conn.config(apsw.SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1)
        integrity = str(conn.pragma("integrity_check"))
        if not conn.table_exists(None, "t"):
            return integrity, set(), []
        stored = {i for (i,) in conn.execute("SELECT id FROM t")}
        if conn.table_exists(None, "kv"):
            stored |= {int(v) for (v,) in conn.execute("SELECT value FROM kv")}
        torn = conn.execute(
            "SELECT grp, max(size), count(*) FROM t GROUP BY grp HAVING count(*) != max(size)"
        ).fetchall()
        return integrity, stored, torn
    finally:
        conn.close()


@pytest.mark.parametrize("synchronous", ["OFF", "NORMAL", "FULL"])
def test_sigkill_never_loses_an_acknowledged_write(
    synchronous: str, tmp_path: Path, figures: Figures
) -> None:
    rng = random.Random(f"aiolite crash safety {synchronous}")
    path = tmp_path / "crash.db"
    acknowledged: set[int] = set()
    kills = dict.fromkeys(PHASES, 0)
    for life in range(KILLS):
        phase = PHASES[life % len(PHASES)]
        child = Child(path, synchronous, phase, (life + 1) * 10_000_000, rng.randrange(2**31))
        try:
            if phase == "startup":
                child.wait_for(child.opening)
                time.sleep(rng.uniform(0.0, 0.03))  # somewhere inside opening the pool
            else:
                child.wait_for(child.ready)
                time.sleep(rng.uniform(0.0, 0.4))
        finally:
            child.kill()
        kills[phase] += 1
        figures.faults += 1
        figures.ops += len(child.acks) + len(child.kv_acks)
        for error in child.errors:
            figures.errors[error.split(":")[0]] += 1
        acknowledged.update(i for ack in child.acks for i in ack)
        acknowledged.update(child.kv_acks)
        integrity, stored, torn = check_file(path)
        figures.rows_lost = len(acknowledged - stored)
        assert integrity == "ok", f"after kill {life + 1} ({phase}): {integrity}"
        assert figures.rows_lost == 0, f"after kill {life + 1} ({phase})"
        assert torn == [], f"half-written requests after kill {life + 1} ({phase}): {torn}"
        assert child.errors == [], child.errors
    figures.notes = (
        f"synchronous={synchronous}: {KILLS} SIGKILLs on one file ({kills['startup']} at "
        f"start-up, {kills['checkpoint']} checkpoint-heavy, {kills['steady']} steady, "
        f"{kills['kv']} in KV writes), "
        f"{len(acknowledged):,} acknowledged rows"
    )
    assert len(acknowledged) > 0, "no child acknowledged anything: the kills came too early"
