"""``python -m aiolite bench`` at toy sizes: every row runs, the tables and goals come out.

Speed itself is never asserted here (see ``bench/`` and the closing notes);
this only pins that the suite measures what it says, against real peers,
and that its command line refuses bad input before measuring anything.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from aiolite._cli.bench import chart as _chart
from aiolite._cli.bench import chosen_frameworks, heading, measure
from aiolite._cli.bench import goals as _goals
from aiolite._cli.bench import report as _report
from aiolite._cli.bench import suite as _suite
from aiolite._cli.bench import workloads as _workloads
from aiolite._cli.main import main

TOY = _suite.Sizes(
    aio_rows=2_000,
    point_queries=30,
    gathered=30,
    long_query_seconds=0.02,
    orm_handlers=3,
    runs=1,
    batches=(1, 8192),
)
WIDTH = 100


@pytest.mark.timeout(120)
def test_the_suite_runs_every_row_and_reports_goals(tmp_path: Path) -> None:
    results = measure(list(_suite.plan(TOY, ("asyncio", "trio"))), TOY.runs)
    rows = {(r.workload, r.framework, r.library) for r in results}
    for library in ("aiolite", "apsw.aio", "aiosqlite"):
        assert ("aio_bench batch 1", "asyncio", library) in rows
        assert ("worst loop lag", "asyncio", library) in rows
    for framework in ("asyncio", "trio"):  # the batch rows run on each chosen framework
        assert ("aio_bench defaults", framework, "aiolite") in rows
        assert ("aio_bench batch 8192", framework, "aiolite") in rows
    crossing = ("aiolite inline=False", "aiolite.aiosqlite", "raw hand-off")
    for library in ("aiolite", "apsw.aio", "aiosqlite", *crossing):
        assert ("sequential", "asyncio", library) in rows
    for workload in ("gather cold", "gather warm"):
        for library in ("aiolite", "aiolite inline=False", "aiolite.aiosqlite", "aiosqlite"):
            assert (workload, "asyncio", library) in rows
    assert ("sequential", "trio", "aiolite.aiosqlite") in rows
    assert ("sequential", "trio", "aiosqlite") not in rows  # asyncio only
    assert ("ORM handlers", "asyncio", "sqlite+aiolite") in rows
    assert ("ORM handlers", "asyncio", "sqlite+aiosqlite") in rows
    assert all(r.value > 0 for r in results)
    for framework in ("asyncio", "trio"):  # every aio_bench row has its own floor
        for workload in ("aio_bench defaults", "aio_bench batch 1", "sequential"):
            assert (workload, framework, "sync APSW") in rows

    parts = [heading(TOY, ("asyncio", "trio"), True), _report.markdown(results)]
    text = "\n".join([*parts, _goals.markdown(results)])
    too_wide = [line for line in text.splitlines() if len(line) > WIDTH]
    assert too_wide == []
    assert "median of 1 runs" in text
    for version in ("aiosqlite 0.22", "apsw 3.", "SQLite 3.", "sqlalchemy 2."):
        assert version in text
    assert "NOISY" in text
    defaults = next(line for line in text.splitlines() if line.startswith("| aio_bench defaults"))
    assert defaults.split("|")[-2].strip().endswith("x")  # aiolite x floor

    goals = _goals.evaluate(results)
    assert len(goals) == 14
    assert all(goal.ratio is not None and goal.ratio > 0 for goal in goals)
    assert all(goal.met in (True, False) for goal in goals)
    for goal in goals:
        assert goal.cells()[3] in ("met", "NOT met")
        assert goal.text in text

    chart = tmp_path / "bench.png"
    assert _chart.write(results, chart)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_peers_use_their_fastest_idiom() -> None:
    idioms = {lib.name: lib.idiom for lib in _workloads.LIBRARIES}
    assert idioms["aiosqlite"] == idioms["aiolite.aiosqlite"] == "await db.execute_fetchall(q)"
    assert idioms["apsw.aio"] == idioms["aiolite"] == "await (await db.execute(q)).get"


def test_a_ratio_below_a_floor_gets_a_note_about_noise() -> None:
    def result(workload: str, framework: str, library: str, value: float) -> _suite.Result:
        unit = "s" if workload.startswith("aio_bench") else "q/s"
        return _suite.Result(workload, framework, library, unit, [value, value, value])

    results = [
        result("aio_bench defaults", "asyncio", "sync APSW", 1.0),
        result("aio_bench defaults", "asyncio", "aiolite", 0.9),  # faster than the floor
        result("aio_bench batch 1", "asyncio", "sync APSW", 1.0),
        result("aio_bench batch 1", "asyncio", "aiolite", 1.2),
        result("sequential", "asyncio", "raw hand-off", 100.0),
        result("sequential", "asyncio", "aiolite inline=False", 110.0),  # beats the hand-off
        result("sequential", "asyncio", "aiolite", 5_000.0),  # inline: it does not cross
    ]
    notes = "\n".join(_report.below_floor(results))
    assert "aiolite aio_bench defaults on asyncio 0.90x sync APSW" in notes
    assert "aiolite inline=False on asyncio 0.91x the raw hand-off" in notes
    assert "batch 1" not in notes
    assert "- aiolite on" not in notes
    assert "noise" in notes
    assert "medians of 3 runs" in notes
    assert _report.below_floor(results[2:5]) == []


def test_quick_measures_asyncio_and_trio_unless_told() -> None:
    assert chosen_frameworks(None, quick=True) == ("asyncio", "trio")
    assert chosen_frameworks(["trio", "trio"], quick=True) == ("trio",)


def test_a_missing_framework_is_refused_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # what an uninstalled package looks like
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--quick", "--framework", "uvloop", "--chart", ""])
    assert exit_info.value.code == 2
    assert "--framework uvloop needs uvloop, which is not installed" in capsys.readouterr().err
    with pytest.raises(ValueError, match="needs uvloop"):
        chosen_frameworks(["asyncio", "uvloop"], quick=False)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("missing/chart.png", "does not exist"),
        ("chart.svg", "ending in .png"),
        (".", "is a directory"),
    ],
)
def test_a_bad_chart_path_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, why: str
) -> None:
    path = tmp_path / name
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--quick", "--framework", "asyncio", "--chart", str(path)])
    assert exit_info.value.code == 2
    assert why in capsys.readouterr().err


def test_a_good_chart_path_is_checked_without_leaving_a_file(tmp_path: Path) -> None:
    path = tmp_path / "chart.png"
    assert _chart.check_path(path) is None
    assert not path.exists()


def test_rows_compared_with_each_other_take_turns() -> None:
    order: list[str] = []

    def task(name: str) -> _suite.Task:
        def sample() -> float:
            order.append(name)
            return 1.0

        return _suite.Task(_suite.Result(name, "asyncio", name, "s"), sample)

    results = measure([[task("floor"), task("a"), task("b")], [task("c")]], runs=2)
    assert order == ["floor", "a", "b", "floor", "a", "b", "c", "c"]
    assert [len(r.samples) for r in results] == [2, 2, 2, 2]
