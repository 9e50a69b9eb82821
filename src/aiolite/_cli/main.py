"""``python -m aiolite``: the guided tour and the benchmarks."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .._version import __version__
from . import runners


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aiolite", description=__doc__)
    parser.add_argument("--version", action="version", version=f"aiolite {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    tour = commands.add_parser("tour", help="a guided run of every feature, printing each step")
    tour.add_argument(
        "--framework",
        choices=("all", "asyncio", "trio", "anyio"),
        default="all",
        help="run the tour's sections under one framework only",
    )
    bench = commands.add_parser(
        "bench", help="aiolite against sync APSW, apsw.aio and aiosqlite, side by side"
    )
    bench.add_argument(
        "--quick",
        action="store_true",
        help="small sizes, asyncio and trio only: under a minute, but noisy (a rough look)",
    )
    bench.add_argument(
        "--framework",
        action="append",
        choices=runners.FRAMEWORKS,
        help="measure under this framework (repeatable; it must be installed; default: "
        "every one installed, asyncio and trio with --quick)",
    )
    bench.add_argument(
        "--chart", default="aiolite-bench.png", help="where to write the PNG chart ('' for none)"
    )
    args = parser.parse_args(argv)
    if args.command == "bench":
        from pathlib import Path

        from .bench import chart as bench_chart
        from .bench import framework_problems, run_bench

        problems = framework_problems(args.framework or ())
        chart = Path(args.chart) if args.chart else None
        if chart is not None and (problem := bench_chart.check_path(chart)):
            problems.append(f"--chart: {problem}")
        if problems:
            bench.error("; ".join(problems))  # exits with status 2, before anything runs
        run_bench(quick=args.quick, frameworks=args.framework, chart=chart)
        return 0
    if args.command == "tour":
        from .tour.main import run_tour

        return run_tour(args.framework)
    return 2  # pragma: no cover - argparse rejects unknown commands
