"""Run the test suite shipped inside the installed aiosqlite package against aiolite.aiosqlite.

aiosqlite 0.22.1 ships its tests as ``aiosqlite/tests/`` (``smoke.py``,
which does ``import aiosqlite``). Nothing is copied: this script puts
``aiolite.aiosqlite`` (and its ``core``/``cursor``/``context`` submodules)
in ``sys.modules`` under aiosqlite's names, loads the installed test package
from its own files, checks that the tests really see our module, and runs
them with unittest. ``--reference`` runs the same tests against the real
aiosqlite instead, for comparison.

    python tests/aiosqlite_suite/run.py [--reference] [-v]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import unittest
from pathlib import Path
from types import ModuleType


def installed_tests_dir() -> Path:
    """Where pip put ``aiosqlite/tests`` (found without importing aiosqlite)."""
    spec = importlib.util.find_spec("aiosqlite")
    if spec is None or spec.origin is None:
        raise SystemExit("aiosqlite is not installed: pip install aiosqlite==0.22.1")
    folder = Path(spec.origin).parent / "tests"
    if not (folder / "smoke.py").is_file():
        raise SystemExit(f"no tests shipped in {folder}")
    return folder


def substitute_ours() -> ModuleType:
    """Make ``import aiosqlite`` (and its submodules) resolve to aiolite.aiosqlite."""
    ours = importlib.import_module("aiolite.aiosqlite")
    sys.modules["aiosqlite"] = ours
    for name in ("core", "cursor", "context", "__version__"):
        sys.modules[f"aiosqlite.{name}"] = importlib.import_module(f"aiolite.aiosqlite.{name}")
    return ours


def load_test_package(folder: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "aiosqlite.tests", folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    assert spec is not None
    assert spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules["aiosqlite.tests"] = package
    spec.loader.exec_module(package)
    return package


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", action="store_true", help="test the real aiosqlite")
    parser.add_argument("-v", "--verbose", action="store_true")
    options = parser.parse_args()
    folder = installed_tests_dir()
    if options.reference:
        target = importlib.import_module("aiosqlite")
        package = importlib.import_module("aiosqlite.tests")
    else:
        target = substitute_ours()
        package = load_test_package(folder)
    smoke = sys.modules["aiosqlite.tests.smoke"]
    assert smoke.aiosqlite is target, "the tests do not see the module under test"
    print(f"aiosqlite's own tests from {folder}\nagainst {target.__name__} ({target.__file__})")
    suite = unittest.defaultTestLoader.loadTestsFromModule(package)
    result = unittest.TextTestRunner(verbosity=2 if options.verbose else 1).run(suite)
    skipped = len(result.skipped)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - skipped - failed - len(result.expectedFailures)
    print(f"aiosqlite suite: {passed} passed, {failed} failed, {skipped} skipped")
    for test, reason in result.skipped:
        print(f"  skipped {test.id()}: {reason}")
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
