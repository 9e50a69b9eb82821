"""Processes writing to one file through pools: no lock error, no lost write.

Three processes write concurrently (waves of 50 concurrent requests each)
while a fourth is killed with SIGKILL part way: every write any of them had
acknowledged must be in the file afterwards (a returned WAL commit survives
a process kill at any synchronous level).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import apsw

PROCESSES = 3
WRITES_EACH = 2000


def start(path: str, worker: int, count: int) -> subprocess.Popen[str]:
    script = Path(__file__).with_name("mp_writer.py")
    return subprocess.Popen(
        [sys.executable, str(script), path, str(worker), str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent,
    )


def reports(lines: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines.splitlines() if line.startswith("{")]


def test_processes_write_concurrently_and_survive_a_kill(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    workers = [start(path, n, WRITES_EACH) for n in range(PROCESSES)]
    victim = start(path, PROCESSES, 100_000)
    victim_reports: list[dict[str, Any]] = []
    assert victim.stdout is not None
    while sum(len(r["acknowledged"]) for r in victim_reports) < 500:
        line = victim.stdout.readline()
        assert line, victim.stderr.read() if victim.stderr else "the victim exited"
        victim_reports.extend(reports(line))
    victim.kill()  # SIGKILL: no clean-up, no close
    victim.wait(timeout=30)
    all_reports = list(victim_reports)
    for worker in workers:
        out, err = worker.communicate(timeout=50)
        assert worker.returncode == 0, err
        all_reports.extend(reports(out))
    errors = [e for r in all_reports for e in r["errors"]]
    acknowledged = {i for r in all_reports for i in r["acknowledged"]}
    conn = apsw.Connection(path)
    stored = {i for (i,) in conn.execute("SELECT id FROM t")}
    conn.close()
    missing = acknowledged - stored
    print(
        f"\n{PROCESSES} processes x {WRITES_EACH} writes + 1 killed: acknowledged "
        f"{len(acknowledged)}, errors {len(errors)}, missing {len(missing)}, rows {len(stored)}"
    )
    assert errors == []
    assert missing == set()
    assert len(acknowledged) >= PROCESSES * WRITES_EACH + 500
