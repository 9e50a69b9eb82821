"""What a user installing aiolite meets first: its version, missing extras, import cost, wheel."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import aiolite
from aiolite._cli import runners
from aiolite._cli.main import main

ROOT = Path(__file__).resolve().parent.parent


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


def test_one_version(capsys: pytest.CaptureFixture[str]) -> None:
    from aiolite._version import __version__

    assert aiolite.__version__ == __version__
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"aiolite {__version__}"


def test_import_aiolite_loads_only_what_connecting_needs() -> None:
    """The pool, KV, asyncio, apsw.ext and orjson load on first use, not with ``import aiolite``."""
    done = _python(
        "import sys, aiolite\n"
        "heavy = ['asyncio', 'apsw.ext', 'orjson', 'aiolite._pool', 'aiolite._kv', 'trio']\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "aiolite.KV, aiolite.open_pool\n"
        "print(aiolite.KV.__module__, 'aiolite._kv' in sys.modules)\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "aiolite True"]


def test_missing_sqlalchemy_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ["sqlalchemy", *(m for m in sys.modules if m.startswith("sqlalchemy."))]:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    monkeypatch.delitem(sys.modules, "aiolite.sqlalchemy", raising=False)
    with pytest.raises(ModuleNotFoundError, match=r'pip install "aiolite\[sqlalchemy\]"') as err:
        importlib.import_module("aiolite.sqlalchemy")
    assert err.value.name == "sqlalchemy"


@pytest.mark.parametrize(("framework", "package"), [("trio", "trio"), ("uvloop", "uvloop")])
def test_missing_framework_names_the_extra(
    framework: str, package: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, package, None)

    async def nothing() -> None:
        return None

    with pytest.raises(ModuleNotFoundError, match=rf'pip install "aiolite\[{package}\]"'):
        runners.run(framework, nothing)


def test_bench_refuses_a_framework_that_is_not_installed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "trio", None)
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "--framework", "trio", "--chart", ""])
    assert exit_.value.code == 2
    assert 'pip install "aiolite[trio]"' in capsys.readouterr().err


def test_wheel_ships_license_and_py_typed(tmp_path: Path) -> None:
    pytest.importorskip("hatchling")
    done = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "--target", "wheel", "--directory", tmp_path],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("aiolite-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "aiolite/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert f"Version: {aiolite.__version__}" in text
    assert "Project-URL: Source, https://github.com/aiolite-dev/aiolite" in text
    assert "Classifier: Programming Language :: Python :: 3.13" in text
