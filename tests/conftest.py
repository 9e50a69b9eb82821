"""Runs every ``async def`` test under each framework (the ``fw`` argument).

A test that takes ``fw`` runs once per framework in ``frameworks.ALL``;
``@pytest.mark.frameworks("asyncio", "trio")`` narrows that. The test body
runs on a fresh event loop of that framework; pytest-timeout (see
pyproject.toml) turns any hang into a failure.
"""

from __future__ import annotations

import collections
import gc
import inspect
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.frameworks import ALL, Framework

# SQLAlchemy's compliance suite runs in its own pytest processes, through its run.py
collect_ignore = ["sqlalchemy_suite"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "frameworks(*names): run this async test only under these frameworks"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "fw" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("frameworks")
    names = marker.args if marker else ALL
    metafunc.parametrize("fw", [Framework(name) for name in names], ids=list(names))


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    fw = pyfuncitem.funcargs.get("fw")
    if not isinstance(fw, Framework):
        raise TypeError(f"async test {pyfuncitem.name} must take the 'fw' argument")
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    fw.run(partial(pyfuncitem.obj, **arguments))
    return True


@pytest.fixture(params=["memory", "file"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An in-memory database, then a file one: each test using it runs on both."""
    return ":memory:" if request.param == "memory" else str(tmp_path / "test.db")


def aiolite_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("aiolite-")]


def join_aiolite_threads(timeout: float = 10.0) -> None:
    """Wait (bounded) for worker threads that are already on their way out."""
    gc.collect()
    for thread in aiolite_threads():
        thread.join(timeout)


@pytest.fixture(autouse=True)
def no_leaked_workers() -> Iterator[None]:
    """Every test must leave no aiolite worker thread behind."""
    before = set(aiolite_threads())
    yield
    join_aiolite_threads()
    leaked = [t for t in aiolite_threads() if t not in before]
    assert not leaked, f"worker threads still running after the test: {leaked}"


_outcomes: collections.Counter[tuple[str, str]] = collections.Counter()
_stress_rows: list[list[str]] = []

FRAMEWORK_PROPERTY = "framework"
"""The name of the ``user_properties`` entry that carries a test's framework.

The summaries below are printed by the process that shows the terminal: under
pytest-xdist (``make test`` runs ``-n auto``) that is the controller, which
runs no tests, so what the summaries need travels inside each test report.
"""

STRESS_PROPERTY = "stress_figures"
"""The entry that carries one stress scenario's row (see tests/stress/conftest.py)."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome: Any = yield
    report = outcome.get_result()
    callspec = getattr(item, "callspec", None)
    fw = callspec.params.get("fw") if callspec is not None else None
    report.user_properties.append(
        (FRAMEWORK_PROPERTY, fw.name if isinstance(fw, Framework) else "sync")
    )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    properties = dict(report.user_properties)
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _outcomes[(str(properties.get(FRAMEWORK_PROPERTY, "sync")), report.outcome)] += 1
    if report.when == "teardown" and STRESS_PROPERTY in properties:
        _stress_rows.append(list(properties[STRESS_PROPERTY]))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _outcomes:
        terminalreporter.section("tests per framework")
        for framework in (*ALL, "sync"):
            counts = {o: n for (f, o), n in _outcomes.items() if f == framework}
            if counts:
                shown = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
                terminalreporter.write_line(f"{framework:>14}: {shown}")
    if _stress_rows:
        from tests.stress.conftest import write_report

        write_report(terminalreporter, sorted(_stress_rows))
