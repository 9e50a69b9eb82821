"""The PNG chart: each library's time relative to its floor, per workload (asyncio)."""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path

from .suite import Result
from .workloads import SYNC


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def check_path(path: Path) -> str | None:
    """Why the chart could not be written to ``path``, or None if it can.

    Checked before the run, so that a typo costs seconds rather than the
    whole run; nothing is left behind at ``path``.
    """
    if path.is_dir():
        return f"{str(path)!r} is a directory; give a file path ending in .png"
    if path.suffix.lower() != ".png":
        return f"the chart is a PNG: give a path ending in .png, not {str(path)!r}"
    folder = path.parent
    if not folder.is_dir():
        return f"the folder {str(folder)!r} for the chart does not exist"
    existed = path.exists()
    try:
        with open(path, "ab"):
            pass
    except OSError as error:
        return f"cannot write the chart to {str(path)!r}: {error.strerror or error}"
    if not existed:
        os.unlink(path)
    return None


def write(results: list[Result], path: Path) -> bool:
    """Draw the chart; False when matplotlib is not installed (``aiolite[bench]``)."""
    if not available():
        return False
    matplotlib = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    pyplot = importlib.import_module("matplotlib.pyplot")
    floors = {(r.workload, r.framework): r for r in results if r.library == SYNC}
    rows = [  # the floor itself is the line at 1.0
        r
        for r in results
        if r.framework == "asyncio" and r.library != SYNC and (r.workload, "asyncio") in floors
    ]
    workloads = list(dict.fromkeys(r.workload for r in rows))
    libraries = list(dict.fromkeys(r.library for r in rows))
    figure, axes = pyplot.subplots(figsize=(11, 5))
    width = 0.8 / max(1, len(libraries))
    for index, library in enumerate(libraries):
        heights = []
        for workload in workloads:
            match = [r for r in rows if r.workload == workload and r.library == library]
            floor = floors[(workload, "asyncio")]
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
