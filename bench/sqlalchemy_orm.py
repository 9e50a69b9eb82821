"""SQLAlchemy ORM, web-style: ``sqlite+aiolite`` against ``sqlite+aiosqlite`` (goal >= 1.5x).

The same workload as the ORM rows of ``python -m aiolite bench``, alone and
with its own knobs: ``--handlers`` concurrent request handlers, each its own
``AsyncSession`` doing a primary-key select and an insert + commit, on a WAL
file in a fresh temporary folder, at SQLAlchemy's defaults for both drivers.
The drivers alternate, ``--runs`` times; the medians are compared.

    python bench/sqlalchemy_orm.py [--handlers 1000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from importlib.metadata import version

from aiolite._cli.bench import orm
from aiolite._cli.markdown import table

GOAL = 1.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handlers", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    if not orm.installed():
        parser.error("needs sqlalchemy[asyncio] and aiosqlite (pip install 'aiolite[bench]')")
    seconds: dict[str, list[float]] = {driver: [] for driver in orm.DRIVERS}
    for _ in range(options.runs):
        for driver in orm.DRIVERS:
            seconds[driver].append(asyncio.run(orm.handlers(driver, options.handlers)))
    rates = {d: options.handlers / statistics.median(s) for d, s in seconds.items()}
    print(
        f"SQLAlchemy {version('sqlalchemy')}, aiolite {version('aiolite')}, "
        f"aiosqlite {version('aiosqlite')}: {options.handlers:,} handlers, "
        f"median of {options.runs} runs\n"
    )
    cells = [[f"sqlite+{d}", f"{r:,.0f}"] for d, r in rates.items()]
    print(table(["driver", "handlers/s"], cells, left=1))
    ratio = rates["aiolite"] / rates["aiosqlite"]
    verdict = "met" if ratio >= GOAL else "NOT met"
    print(f"\n- sqlite+aiolite: {ratio:.2f}x sqlite+aiosqlite (target >= {GOAL:g}x) {verdict}")


if __name__ == "__main__":
    main()
