"""Shared pieces of the benchmark scripts: timing, medians and the Markdown table."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypedDict

from aiolite._cli.markdown import table


class Result(TypedDict):
    """One row of a benchmark table: operations per second for aiolite and a peer."""

    workload: str
    peer: str
    aiolite: float
    other: float
    ratio: float


async def rate(operations: int, work: Callable[[], Awaitable[Any]]) -> float:
    """Operations per second of one run of ``work``."""
    started = time.perf_counter()
    await work()
    return operations / (time.perf_counter() - started)


def median(values: list[float]) -> float:
    return statistics.median(values)


def row(workload: str, peer: str, ours: list[float], theirs: list[float]) -> Result:
    a, b = median(ours), median(theirs)
    return Result(workload=workload, peer=peer, aiolite=a, other=b, ratio=a / b if b else 0.0)


def markdown(results: list[Result], title: str) -> str:
    """The results under a ``###`` heading: the rates of both sides, then their ratio."""
    rows = [
        [
            r["workload"],
            r["peer"],
            f"{r['aiolite']:,.0f}",
            f"{r['other']:,.0f}",
            f"{r['ratio']:.1f}x",
        ]
        for r in results
    ]
    header = ["workload", "peer", "aiolite ops/s", "peer ops/s", "ratio"]
    return f"### {title}\n\n" + table(header, rows, left=2)


def main(run: Callable[[bool, int], list[Result]], doc: str, title: str) -> None:
    """The command line of a benchmark script: ``[--quick] [--runs N]``, then the table."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller workloads")
    parser.add_argument("--runs", type=int, default=3, help="runs per workload (median)")
    args = parser.parse_args()
    print(markdown(run(args.quick, args.runs), title))
