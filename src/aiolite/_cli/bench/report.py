"""Turning results into the Markdown table and the PNG chart."""

from __future__ import annotations

import importlib
from collections import defaultdict
from pathlib import Path

from ..markdown import table
from .suite import Result

PEERS = ("apsw.aio", "aiosqlite")


def markdown(results: list[Result]) -> str:
    """One row per workload and framework: the medians, then aiolite against the others.

    "x floor" is aiolite's time over sync APSW's (1.00 is no overhead at
    all); "x faster than" is how many times better aiolite did than a peer.
    """
    by_row: dict[tuple[str, str], dict[str, Result]] = defaultdict(dict)
    floors: dict[str, Result] = {}
    for result in results:
        if result.library == "sync":
            floors[result.workload] = result
        else:
            by_row[(result.workload, result.framework)][result.library] = result
    header = ["workload", "framework", "sync APSW", "aiolite", *PEERS, "aiolite x floor"]
    header += [f"faster than {peer}" for peer in PEERS]
    rows: list[list[str]] = []
    for (workload, framework), row in by_row.items():
        floor = floors.get(_family(workload))
        mine = row.get("aiolite")
        cells = [workload, framework, _shown(floor)]
        cells += [_shown(row.get(name)) for name in ("aiolite", *PEERS)]
        cells.append(_ratio(mine, floor))
        cells += [_ratio(row.get(peer), mine) for peer in PEERS]
        rows.append(cells)
    return table(header, rows, left=2)


def _family(workload: str) -> str:
    """The floor a workload is measured against: ``aio_bench batch 1`` -> ``aio_bench``."""
    return workload.split(" ")[0]


def _shown(result: Result | None) -> str:
    if result is None:
        return "-"
    value = result.value
    if result.unit == "q/s":
        return f"{value:,.0f} q/s"
    if result.unit == "ms":
        return f"{value:.2f} ms"
    return f"{value:.3f} s"


def _ratio(numerator: Result | None, denominator: Result | None) -> str:
    """How many times worse ``numerator`` is than ``denominator`` (rates are flipped)."""
    if numerator is None or denominator is None or numerator.unit == "ms":
        return "-"
    a, b = numerator.value, denominator.value
    if numerator.unit == "q/s":
        a, b = b, a
    if b == 0:
        return "-"
    return f"{a / b:.2f}x"


def chart(results: list[Result], path: Path) -> bool:
    """Bars of each library's cost relative to sync APSW, per workload (asyncio).

    Returns False when matplotlib is not installed (``pip install 'aiolite[bench]'``).
    """
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        return False
    matplotlib.use("Agg")
    pyplot = importlib.import_module("matplotlib.pyplot")
    floors = {r.workload: r for r in results if r.library == "sync"}
    rows = [  # the floor itself is the line at 1.0
        r
        for r in results
        if r.framework == "asyncio" and r.library != "sync" and _family(r.workload) in floors
    ]
    workloads = list(dict.fromkeys(r.workload for r in rows))
    libraries = list(dict.fromkeys(r.library for r in rows))
    figure, axes = pyplot.subplots(figsize=(11, 5))
    width = 0.8 / max(1, len(libraries))
    for index, library in enumerate(libraries):
        heights = []
        for workload in workloads:
            match = [r for r in rows if r.workload == workload and r.library == library]
            floor = floors[_family(workload)]
            if not match:
                heights.append(0.0)
            elif floor.unit == "q/s":
                heights.append(floor.value / match[0].value)
            else:
                heights.append(match[0].value / floor.value)
        positions = [w + index * width for w in range(len(workloads))]
        axes.bar(positions, heights, width, label=library)
    axes.set_yscale("log")
    axes.axhline(1.0, color="black", linewidth=0.8)
    axes.set_xticks([w + width * (len(libraries) - 1) / 2 for w in range(len(workloads))])
    axes.set_xticklabels(workloads, rotation=15)
    axes.set_ylabel("time relative to sync APSW (log; lower is better)")
    axes.set_title("aiolite and its peers on asyncio")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    pyplot.close(figure)
    return True
