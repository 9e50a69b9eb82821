"""``python -m aiolite``: the guided tour (and, later, the benchmarks)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aiolite", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    tour = commands.add_parser("tour", help="a guided run of every feature, printing each step")
    tour.add_argument(
        "--framework",
        choices=("all", "asyncio", "trio", "anyio"),
        default="all",
        help="run the tour's sections under one framework only",
    )
    args = parser.parse_args(argv)
    if args.command == "tour":
        from ._tour import run_tour

        return run_tour(args.framework)
    return 2  # pragma: no cover - argparse rejects unknown commands
