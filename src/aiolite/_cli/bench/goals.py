"""The performance goals (``shared/DESIGN.md``), each as a measured ratio: met or not.

A goal compares two rows of the same run. Ratios are written so that the
goal reads as a bound: "x aiosqlite's time" is aiolite's time per request
over aiosqlite's (lower is better, met when at most the target), "x
aiosqlite's rate" is aiolite's throughput over aiosqlite's (higher is
better, met when at least the target). A row that was not measured (a peer
not installed, a framework not chosen) leaves its goal "not measured".
"""

from __future__ import annotations

from dataclasses import dataclass

from ..markdown import table
from .suite import GATHERS, ORM_WORKLOAD, Result
from .workloads import AIOLITE, AIOSQLITE, APSW_AIO, DROP_IN, NOT_INLINE, RAW, SYNC

PERF_SCRIPT = "bench/aiosqlite_perf.py"


@dataclass(frozen=True)
class Goal:
    text: str
    target: float
    at_most: bool  # True: the ratio must be <= target; False: >= target
    ratio: float | None  # None: not measured in this run

    @property
    def met(self) -> bool | None:
        if self.ratio is None:
            return None
        return self.ratio <= self.target if self.at_most else self.ratio >= self.target

    def cells(self) -> list[str]:
        bound = f"{'<=' if self.at_most else '>='} {self.target:g}x"
        if self.ratio is None:
            return [self.text, "-", bound, "not measured"]
        return [self.text, f"{self.ratio:.2f}x", bound, "met" if self.met else "NOT met"]


class _Rows:
    def __init__(self, results: list[Result]) -> None:
        self._by = {(r.workload, r.framework, r.library): r.value for r in results}

    def get(self, workload: str, framework: str, library: str) -> float | None:
        return self._by.get((workload, framework, library))

    def ratio(self, workload: str, framework: str, top: str, bottom: str) -> float | None:
        """``top``'s value over ``bottom``'s, both on ``framework``."""
        a, b = self.get(workload, framework, top), self.get(workload, framework, bottom)
        return None if a is None or b is None or b == 0 else a / b


def evaluate(results: list[Result]) -> list[Goal]:
    rows = _Rows(results)
    goals: list[Goal] = []
    for lib in (NOT_INLINE, DROP_IN):
        # Rates are requests per second: time per request of A over B is rate B / rate A.
        goals.append(
            Goal(
                f"crossing, {lib}: time vs aiosqlite",
                0.8,
                True,
                rows.ratio("sequential", "asyncio", AIOSQLITE, lib),
            )
        )
        goals.append(
            Goal(
                f"crossing, {lib}: time vs raw hand-off",
                1.2,
                True,
                rows.ratio("sequential", "asyncio", RAW, lib),
            )
        )
    for workload, _warm in GATHERS:
        goals.append(
            Goal(
                f"{workload}, aiolite: rate vs aiosqlite",
                3.0,
                False,
                rows.ratio(workload, "asyncio", AIOLITE, AIOSQLITE),
            )
        )
        goals.append(
            Goal(
                f"{workload}, aiolite.aiosqlite: rate vs aiosqlite",
                2.0,
                False,
                rows.ratio(workload, "asyncio", DROP_IN, AIOSQLITE),
            )
        )
        goals.append(
            Goal(
                f"{workload}, inline path: rate vs inline=False",
                1.0,
                False,
                rows.ratio(workload, "asyncio", AIOLITE, NOT_INLINE),
            )
        )
    peers = [rows.get("sequential", "asyncio", lib) for lib in (APSW_AIO, AIOSQLITE)]
    fastest = max((p for p in peers if p is not None), default=None)
    mine = rows.get("sequential", "asyncio", AIOLITE)
    goals.append(
        Goal(
            "sequential, aiolite: rate vs the faster peer",
            10.0,
            False,
            None if mine is None or not fastest else mine / fastest,
        )
    )
    for framework, target in (("asyncio", 1.3), ("trio", 1.5)):
        goals.append(
            Goal(
                f"aio_bench defaults, aiolite: time vs sync APSW ({framework})",
                target,
                True,
                rows.ratio("aio_bench defaults", framework, AIOLITE, SYNC),
            )
        )
    goals.append(
        Goal(
            "ORM handlers, sqlite+aiolite: rate vs sqlite+aiosqlite",
            1.5,
            False,
            rows.ratio(ORM_WORKLOAD, "asyncio", "sqlite+aiolite", "sqlite+aiosqlite"),
        )
    )
    return goals


def markdown(results: list[Result]) -> str:
    """The goals as a table (asyncio unless a framework is named), then what runs elsewhere."""
    header = ["goal (asyncio unless named)", "measured", "target", "verdict"]
    rows = [goal.cells() for goal in evaluate(results)]
    return "\n".join(
        [
            table(header, rows, left=1),
            "",
            "aiosqlite's own perf workloads (each >= 1.5x aiosqlite, open/close >= 1x) run",
            f"apart: `python {PERF_SCRIPT}` prints its own goal lines.",
        ]
    )
