"""``python -m aiolite bench``: aiolite against sync APSW, the raw hand-off, apsw.aio and aiosqlite.

Every library runs the same workloads in the same process, one after the
other, at its own fastest idiom and with the same warm-up, so the ratios
compare like with like on whatever machine runs them. Each row is the
median of several runs (the count is printed with the table, beside the
library versions), and the goals of ``shared/DESIGN.md`` are printed as
measured ratios, met or not. Peers that are not installed are left out
(``pip install 'aiolite[bench]'`` installs them, the progress bar and the
chart); a framework asked for by name must be installed.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import apsw

from .. import runners
from . import chart as _chart
from . import goals as _goals
from . import report as _report
from .suite import FULL, QUICK, Group, Result, Sizes, plan

QUICK_FRAMEWORKS = ("asyncio", "trio")
"""What ``--quick`` measures when no ``--framework`` is given: the two loops the goals name."""

_PACKAGES = {
    "uvloop": ("uvloop", "uvloop"),
    "trio": ("trio", "trio"),
    "anyio-asyncio": ("anyio", "anyio"),
    "anyio-trio": ("anyio and trio", "anyio,trio"),
}
"""What each framework needs: the packages, and the extras that install them."""


def framework_problems(frameworks: Sequence[str]) -> list[str]:
    """Why each named framework cannot be measured (unknown or not installed); empty if all can."""
    problems = []
    for name in frameworks:
        if name not in runners.FRAMEWORKS:
            problems.append(f"unknown framework {name!r}; one of {', '.join(runners.FRAMEWORKS)}")
        elif not runners.installed(name):
            needs, extras = _PACKAGES.get(name, (name, name))
            problems.append(
                f"--framework {name} needs {needs}, which is not installed:"
                f' pip install "aiolite[{extras}]"'
            )
    return problems


def chosen_frameworks(frameworks: Sequence[str] | None, quick: bool) -> tuple[str, ...]:
    """The frameworks to run: the ones named, else every one installed (two with --quick)."""
    if frameworks:
        problems = framework_problems(frameworks)
        if problems:
            raise ValueError("; ".join(problems))
        return tuple(dict.fromkeys(frameworks))
    default = QUICK_FRAMEWORKS if quick else runners.FRAMEWORKS
    return tuple(fw for fw in default if runners.installed(fw))


def run_bench(
    *, quick: bool = False, frameworks: Sequence[str] | None = None, chart: Path | None = None
) -> list[Result]:
    """Run the suite, print the tables and the goals, and write the chart if asked.

    Raises ValueError before measuring anything if a named framework is not
    installed or the chart cannot be written where asked.
    """
    chosen = chosen_frameworks(frameworks, quick)
    if chart is not None and (problem := _chart.check_path(chart)):
        raise ValueError(problem)
    sizes = QUICK if quick else FULL
    results = measure(list(plan(sizes, chosen)), sizes.runs)
    print()
    print(heading(sizes, chosen, quick))
    print()
    print(_report.markdown(results))
    print()
    print("Goals (shared/DESIGN.md), from the medians above:\n")
    print(_goals.markdown(results))
    if chart is not None:
        if _chart.write(results, chart):
            print(f"\nchart written to {chart}")
        else:
            print("\nno chart: matplotlib is not installed (pip install 'aiolite[bench]')")
    return results


def heading(sizes: Sizes, frameworks: tuple[str, ...], quick: bool) -> str:
    """What was measured, with what, how often: the context every figure needs."""
    names = ["aiolite", "apsw", "aiosqlite", "sqlalchemy", "uvloop", "trio", "anyio"]
    versions = [f"{name} {_version(name)}" for name in names]
    versions.insert(2, f"SQLite {apsw.sqlite_lib_version()}")
    versions.append(f"Python {platform.python_version()}")
    lines = [
        f"## aiolite bench{' --quick' if quick else ''}",
        "",
        "Versions: " + ", ".join(versions[:4]) + ",",
        ", ".join(versions[4:]) + ".",
        f"Each row is the median of {sizes.runs} runs, taken in turn with the rows it is",
        f"compared with, in this one process; frameworks: {', '.join(frameworks)}.",
        f"Sizes: aio_bench to {sizes.aio_rows:,} rows at defaults, {sizes.batch_rows:,} at "
        f"batches {', '.join(map(str, sizes.batches))}; {sizes.point_queries:,} sequential and",
        f"{sizes.gathered:,} gathered point queries; {sizes.orm_handlers:,} ORM handlers; "
        f"a {sizes.long_query_seconds:g} s long query.",
    ]
    if quick:
        lines += [
            "--quick: small sizes, so these figures are NOISY (a rough look only; ratios can",
            "swing by tens of percent). Run without --quick for figures to quote.",
        ]
    return "\n".join(lines)


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def measure(groups: list[Group], runs: int) -> list[Result]:
    """Sample every group round-robin ``runs`` times, showing progress; the results."""
    total = sum(len(group) for group in groups) * runs
    bar: Any = None
    with contextlib.suppress(ImportError):
        bar = importlib.import_module("tqdm").tqdm(total=total, unit="run", file=sys.stderr)
    try:
        for group in groups:
            for _ in range(runs):
                for task in group:
                    label = (
                        f"{task.result.workload} / {task.result.framework} / {task.result.library}"
                    )
                    if bar is not None:
                        bar.set_description(label[:48])
                    else:
                        print(f"... {label}", file=sys.stderr, flush=True)
                    task.result.samples.append(task.measure())
                    if bar is not None:
                        bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return [task.result for group in groups for task in group]
