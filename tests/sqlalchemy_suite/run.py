"""Run SQLAlchemy's dialect compliance suite against sqlite+aiosqlite and our module.

SQLAlchemy ships its dialect compliance suite as ``sqlalchemy.testing.suite``
and a pytest plugin to run it; this folder is laid out as its
README.dialects.rst describes for a third-party dialect (``conftest.py``,
``setup.cfg`` with ``[sqla_testing]`` and ``[db]``, ``test_suite.py``, a
requirements class). Targets, each in its own pytest process, in a fresh
temporary folder (SQLAlchemy's SQLite provisioning writes its database files,
``ATTACH``-ed ``test_schema`` included, into the working folder):

- ``aiosqlite``: ``sqlite+aiosqlite``, the real aiosqlite: the reference;
- ``aiolite``: ``sqlite+aiolite``, our dialect, found through its entry point;
- ``substituted``: ``sqlite+aiosqlite`` with ``import aiosqlite`` giving
  ``aiolite.aiosqlite``: SQLAlchemy's own aiosqlite dialect on our module.

The requirements are SQLAlchemy's own for SQLite (``DefaultRequirements`` in
its source tree's ``test/requirements.py``, which is not in the wheel): the
first run fetches the installed SQLAlchemy version's source distribution with
pip and keeps that one file under ``build/sqlalchemy-suite/`` (or pass
``--requirements-file``). Per-test outcomes go to ``--save`` (junit XML and a
sorted ``outcome test`` list with the driver's name taken out of the test ids,
so two lists ``diff`` directly). Prints each target's counts and wall time,
then every test whose outcome differs from the first target's; the exit status
is 1 when a test failed or errored, or when outcomes differ.

    python tests/sqlalchemy_suite/run.py [aiosqlite aiolite substituted] [--save DIR]
        [--requirements-file PATH] [-- extra pytest arguments]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CACHE = REPO / "build" / "sqlalchemy-suite"

TARGETS = {
    "aiosqlite": ("sqlite+aiosqlite:///querytest.db", False),
    "aiolite": ("sqlite+aiolite:///querytest.db", False),
    "substituted": ("sqlite+aiosqlite:///querytest.db", True),
}

# The plugin names each backend test class after the database it runs on, e.g.
# "ServerSideCursorsTest_sqlite+aiolite_async_3_54_1": dropped from the ids.
DRIVER_SUFFIX = re.compile(r"_sqlite\+[a-z]+(?:_async)?(?:_\d+)+$")


def sqlalchemy_requirements() -> Path:
    """SQLAlchemy's ``test/requirements.py`` for the installed version, fetched once."""
    import sqlalchemy

    version = sqlalchemy.__version__
    target = CACHE / f"sqlalchemy-{version}" / "sqla_default_requirements.py"
    if target.is_file():
        return target
    print(f"fetching SQLAlchemy {version}'s source distribution for its test/requirements.py")
    with tempfile.TemporaryDirectory() as download:
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        pip += ["--no-binary", ":all:", "--dest", download, f"sqlalchemy=={version}"]
        subprocess.run(pip, check=True)
        (archive,) = Path(download).glob("*.tar.gz")
        with tarfile.open(archive) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith("/test/requirements.py"))
            source = tar.extractfile(member)
            assert source is not None
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read())
    return target


def outcomes(junit: Path) -> dict[str, str]:
    """``test id -> passed / failed / error / skipped`` from a junit XML report."""
    result: dict[str, str] = {}
    for case in ElementTree.parse(junit).iter("testcase"):
        module, _, cls = case.get("classname", "").rpartition(".")
        test = f"{module}::{DRIVER_SUFFIX.sub('', cls)}::{case.get('name')}"
        kinds = {child.tag for child in case}
        if "error" in kinds:
            outcome = "error"
        elif "failure" in kinds:
            outcome = "failed"
        elif "skipped" in kinds:
            outcome = "skipped"
        else:
            outcome = "passed"
        # a teardown error is reported as a second testcase of the same test
        if result.get(test) not in ("error", "failed"):
            result[test] = outcome
    return result


def run_target(
    name: str, requirements: Path, save: Path, extra: list[str]
) -> tuple[dict[str, str], float]:
    url, substitute = TARGETS[name]
    junit = save / f"{name}.xml"
    env = dict(os.environ, AIOLITE_SQLA_REQUIREMENTS=str(requirements.parent))
    env["AIOLITE_SQLA_SUBSTITUTE"] = "1" if substitute else "0"
    command = [sys.executable, "-m", "pytest", "-c", str(HERE / "setup.cfg")]
    command += ["--rootdir", str(HERE), str(HERE / "test_suite.py"), "-q", "--no-header"]
    command += ["--dburi", url, f"--junitxml={junit}", *extra]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"sqla-suite-{name}-") as workdir:
        process = subprocess.run(
            command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
    elapsed = time.perf_counter() - started
    (save / f"{name}.log").write_bytes(process.stdout)
    log = process.stdout.decode(errors="replace")
    under_test = re.search(r"^under test: (.*)$", log, re.MULTILINE)
    if not junit.is_file() or under_test is None:
        sys.stdout.write(log[-5000:])
        raise SystemExit(f"{name}: the suite did not run (pytest exited {process.returncode})")
    expected = "aiosqlite" if name == "aiosqlite" else "aiolite.aiosqlite"
    if f" on {expected} (" not in under_test.group(1):
        raise SystemExit(f"{name}: not the module under test: {under_test.group(1)}")
    print(f"{name:>12}: {under_test.group(1)}")
    results = outcomes(junit)
    lines = sorted(f"{outcome} {test}" for test, outcome in results.items())
    (save / f"{name}.outcomes.txt").write_text("\n".join(lines) + "\n")
    return results, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", metavar="TARGET", help=", ".join(TARGETS))
    parser.add_argument("--save", type=Path, default=CACHE / "results", help="outcomes folder")
    parser.add_argument("--requirements-file", type=Path, help="SQLAlchemy's test/requirements.py")
    arguments = sys.argv[1:]
    split = arguments.index("--") if "--" in arguments else len(arguments)
    options = parser.parse_args(arguments[:split])
    extra = arguments[split + 1 :]
    targets = options.targets or list(TARGETS)
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        parser.error(f"unknown targets {unknown}: choose from {', '.join(TARGETS)}")
    if options.requirements_file is None:
        requirements = sqlalchemy_requirements()
    else:
        requirements = CACHE / "given" / "sqla_default_requirements.py"
        requirements.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(options.requirements_file, requirements)
    options.save.mkdir(parents=True, exist_ok=True)
    print(f"SQLAlchemy's compliance suite; outcomes in {options.save}")
    status = 0
    runs: dict[str, dict[str, str]] = {}
    for name in targets:
        results, elapsed = run_target(name, requirements, options.save, extra)
        runs[name] = results
        counts = Counter(results.values())
        shown = ", ".join(f"{counts[k]} {k}" for k in ("passed", "failed", "skipped", "error"))
        print(f"{name:>12} ({TARGETS[name][0]}): {shown} in {elapsed:.1f} s")
        if counts["failed"] or counts["error"]:
            status = 1
    reference, *others = targets
    for name in others:
        first, this = runs[reference], runs[name]
        differing = sorted(t for t in first.keys() | this.keys() if first.get(t) != this.get(t))
        if differing:
            status = 1
            print(f"{len(differing)} tests differ between {reference} and {name}:")
            for test in differing:
                print(f"  {test}: {first.get(test, 'absent')} -> {this.get(test, 'absent')}")
        else:
            print(f"{name}: every outcome the same as {reference}'s")
    return status


if __name__ == "__main__":
    sys.exit(main())
