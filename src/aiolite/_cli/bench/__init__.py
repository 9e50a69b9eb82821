"""``python -m aiolite bench``: aiolite against sync APSW, apsw.aio and aiosqlite.

Every library runs the same workloads in the same process, one after the
other, so the ratios compare like with like on whatever machine runs them.
Peers that are not installed are left out (``pip install 'aiolite[bench]'``
installs them, the progress bar and the chart).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .. import runners
from . import report as _report
from .suite import FULL, QUICK, Result, Task, plan


def run_bench(
    *, quick: bool = False, frameworks: Sequence[str] | None = None, chart: Path | None = None
) -> list[Result]:
    """Run the suite, print the Markdown table, and write the chart if asked.

    A framework asked for by name must be installed (the error names its
    extra); without ``frameworks``, every installed one is measured.
    """
    for framework in frameworks or ():
        runners.require(framework)
    chosen = tuple(fw for fw in (frameworks or runners.FRAMEWORKS) if runners.installed(fw))
    sizes = QUICK if quick else FULL
    tasks = list(plan(sizes, chosen))
    results: list[Result] = []
    for task in _progress(tasks, sizes.runs):
        if all(result is not task.result for result in results):  # a floor comes twice
            results.append(task.result)
    print()
    print(_report.markdown(results))
    if chart is not None:
        if _report.chart(results, chart):
            print(f"\nchart written to {chart}")
        else:
            print("\nno chart: matplotlib is not installed (pip install 'aiolite[bench]')")
    return results


def _progress(tasks: list[Task], runs: int) -> Iterable[Task]:
    """Take each task's samples, showing progress; yields each task once it is measured."""
    total = len(tasks) * runs
    bar: Any = None
    with contextlib.suppress(ImportError):
        bar = importlib.import_module("tqdm").tqdm(total=total, unit="run", file=sys.stderr)
    for task in tasks:
        label = f"{task.result.workload} / {task.result.framework} / {task.result.library}"
        for _ in range(runs):
            if bar is not None:
                bar.set_description(label[:48])
            else:
                print(f"... {label}", file=sys.stderr, flush=True)
            task.result.samples.append(task.measure())
            if bar is not None:
                bar.update(1)
        yield task
    if bar is not None:
        bar.close()
