"""The stress suite's sizes and its per-scenario figures.

``make test`` runs every scenario at a reduced size that fits the suite's
time budget; ``make stress`` sets ``AIOLITE_STRESS=full`` for the sizes the
reliability issue asks for. Each scenario fills a :class:`Figures` (the
``figures`` fixture) with what it did and what it saw; the fixture adds the
wall time and the threads left behind, fails the test if any row was lost
or any thread leaked, and the session ends with one table of all scenarios,
printed and written to ``build/stress-report.md``.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from aiolite._cli.markdown import table
from tests.conftest import STRESS_PROPERTY, join_aiolite_threads

FULL = os.environ.get("AIOLITE_STRESS", "").lower() == "full"
"""True under ``make stress``: run the sizes the issue asks for."""

REPORT = Path(os.environ.get("AIOLITE_STRESS_REPORT", "build/stress-report.md"))


def scaled(reduced: int, full: int) -> int:
    """The reduced size for ``make test``, the full one for ``make stress``."""
    return full if FULL else reduced


@dataclass
class Figures:
    """What one scenario did and saw; the closing table is made of these."""

    scenario: str
    ops: int = 0
    """Requests issued (or processes killed, or examples tried)."""
    faults: int = 0
    """Faults injected: cancellations, kills, I/O errors, bad inputs."""
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    """Exceptions seen by the scenario's callers, by type name."""
    rows_lost: int | None = None
    """Acknowledged rows missing afterwards; the scenario must set it."""
    threads_leaked: int = 0
    wall: float = 0.0
    notes: str = ""

    def error(self, exc: BaseException) -> None:
        self.errors[type(exc).__name__] += 1

    def cells(self) -> list[str]:
        """This scenario's row of the closing table (text columns first, as COLUMNS)."""
        errors = ", ".join(f"{name} {n}" for name, n in self.errors.most_common()) or "none"
        return [
            self.scenario,
            errors,
            self.notes,
            f"{self.ops:,}",
            f"{self.faults:,}",
            str(self.rows_lost),
            str(self.threads_leaked),
            f"{self.wall:.1f} s",
        ]


COLUMNS = ["scenario", "errors seen (by type)", "notes"]
NUMBER_COLUMNS = ["ops", "faults", "rows lost", "threads leaked", "wall"]


def _threads_left(before: set[threading.Thread]) -> list[threading.Thread]:
    """Threads started during the scenario that are still alive and would matter.

    Worker threads are aiolite's own; any other new non-daemon thread would
    keep the interpreter from exiting. Trio's idle thread cache and asyncio's
    executors are daemon threads that their frameworks own and reap.
    """
    join_aiolite_threads()
    return [
        t
        for t in threading.enumerate()
        if t not in before and t.is_alive() and (t.name.startswith("aiolite-") or not t.daemon)
    ]


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    """Figures for this scenario; fails the test on a lost row or a leaked thread."""
    record = Figures(scenario=request.node.name)
    before = set(threading.enumerate())
    started = time.perf_counter()
    yield record
    record.wall = time.perf_counter() - started
    leaked = _threads_left(before)
    record.threads_leaked = len(leaked)
    request.node.user_properties.append((STRESS_PROPERTY, record.cells()))
    assert record.rows_lost is not None, "the scenario never checked for lost rows"
    assert record.rows_lost == 0, f"{record.rows_lost} acknowledged rows lost"
    assert not leaked, f"threads leaked: {leaked}"


def write_report(terminalreporter: Any, rows: list[list[str]]) -> None:
    """Print the scenarios' table and write it to ``REPORT``.

    Called from tests/conftest.py's summary, which runs where the terminal is
    (the xdist controller) and gets the rows from the test reports.
    """
    size = "full (make stress)" if FULL else "reduced (make test)"
    report = table(COLUMNS + NUMBER_COLUMNS, rows, left=len(COLUMNS))
    lines = [f"Stress scenarios, {size} sizes", "", *report.splitlines()]
    terminalreporter.section("stress figures")
    for line in lines:
        terminalreporter.write_line(line)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n")
