"""``python -m aiolite bench`` at toy sizes: every library runs, the table and chart come out.

Speed itself is never asserted here (see ``bench/`` and the closing notes);
this only pins that the suite measures what it says, against real peers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aiolite._cli.bench import report as _report
from aiolite._cli.bench import suite as _suite

TOY = _suite.Sizes(aio_rows=3_000, point_queries=50, gathered=50, long_query_seconds=0.05, runs=1)


@pytest.mark.timeout(120)
def test_the_suite_runs_every_library_and_reports_ratios(tmp_path: Path) -> None:
    results: list[_suite.Result] = []
    for task in _suite.plan(TOY, ("asyncio", "trio")):
        task.result.samples.append(task.measure())
        if all(result is not task.result for result in results):
            results.append(task.result)
    libraries = {(r.workload, r.framework, r.library) for r in results}
    for library in ("aiolite", "apsw.aio", "aiosqlite"):
        assert ("aio_bench batch 1", "asyncio", library) in libraries
        assert ("gather", "asyncio", library) in libraries
    assert ("sequential", "trio", "aiolite") in libraries
    assert ("sequential", "trio", "aiosqlite") not in libraries  # asyncio only
    assert all(r.value > 0 for r in results)
    floor = next(r for r in results if r.workload == "aio_bench")
    assert len(floor.samples) == 2, "the shared floor is sampled before and after the rows"

    table = _report.markdown(results).splitlines()
    assert table[0].startswith("| workload | framework | sync APSW | aiolite |")
    defaults = next(line for line in table if line.startswith("| aio_bench defaults | asyncio"))
    ratio_to_floor = defaults.split("|")[7].strip()
    assert ratio_to_floor.endswith("x")
    assert float(ratio_to_floor[:-1]) > 0

    chart = tmp_path / "bench.png"
    assert _report.chart(results, chart)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
