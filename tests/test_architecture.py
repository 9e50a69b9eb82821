"""The rules of ARCHITECTURE.md that import-linter cannot see, checked on the source.

import-linter (run by ``make test``) checks which package imports which.
These tests check the rest: no module reaches into another module's class
through a ``_private`` name, only the framework adapters branch on the
framework, and no module grows past one job's size.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "src" / "aiolite"
MODULES = sorted(SOURCE.rglob("*.py"))
MAX_LINES = 600

# Where reaching into a private name is the point, and why.
ALLOWED_PRIVATE = {
    # the standard library's own dumper, so iterdump() prints what sqlite3's does
    ("aiosqlite/_dbapi/connection.py", "dump._iterdump"),
}


def relative(path: Path) -> str:
    return path.relative_to(SOURCE).as_posix()


def own_private_names(tree: ast.Module) -> set[str]:
    """The private members this module's own classes define: methods, ``self._x``, slots."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(item.name)
                elif isinstance(item, ast.AnnAssign | ast.Assign):
                    targets = item.targets if isinstance(item, ast.Assign) else [item.target]
                    names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
        ):
            names.add(node.attr)
    return names


def private_reaches(source: str, name: str) -> list[str]:
    """``x._name`` where ``_name`` is not a member of one of this module's own classes."""
    tree = ast.parse(source)
    mine = own_private_names(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        if not node.attr.startswith("_") or node.attr.startswith("__"):
            continue
        owner = node.value
        if node.attr in mine or (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
            continue  # a class's own (or inherited) members, or this module's classes' members
        text = ast.unparse(node)
        if (name, text) not in ALLOWED_PRIVATE:
            found.append((node.lineno, f"{name}:{node.lineno}: {text}"))
    return [hit for _, hit in sorted(found)]


def test_the_private_reach_check_sees_a_reach_and_spares_a_class_its_own() -> None:
    source = (
        "class Row:\n"
        "    def __init__(self, values):\n"
        "        self._values = values\n"
        "    def __eq__(self, other):\n"
        "        return self._values == other._values and other._names\n"
        "def shape(conn):\n"
        "    return conn._call(1)\n"
    )
    assert private_reaches(source, "m.py") == ["m.py:5: other._names", "m.py:7: conn._call"]


def test_no_module_uses_another_modules_private_members() -> None:
    found = [hit for path in MODULES for hit in private_reaches(path.read_text(), relative(path))]
    assert found == []


def framework_branches(path: Path) -> list[str]:
    """Comparisons with a framework's name, and imports of a framework's package."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            constants = [
                part.value
                for part in (node.left, *node.comparators)
                if isinstance(part, ast.Constant)
            ]
            if any(value in ("asyncio", "trio") for value in constants):
                found.append(f"{relative(path)}:{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            module = node.module if isinstance(node, ast.ImportFrom) and not node.level else None
            for name in [*names, *([module] if module else [])]:
                if name.split(".")[0] in ("asyncio", "trio", "anyio", "uvloop"):
                    found.append(f"{relative(path)}:{node.lineno}: import {name}")
    return found


def test_only_the_framework_adapters_branch_on_the_framework() -> None:
    outside = [path for path in MODULES if not relative(path).startswith(("_frameworks/", "_cli/"))]
    found = [hit for path in outside for hit in framework_branches(path)]
    assert found == []


@pytest.mark.parametrize("path", MODULES, ids=relative)
def test_each_module_is_one_job_long(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{relative(path)} has {lines} lines: split it by job"


LAYER_PACKAGES = ("_engine", "_frameworks", "_apsw", "_pool", "_kv", "aiosqlite", "_cli")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module an import names, as an absolute ``aiolite.…`` dotted path."""
    parts = ["aiolite", *path.relative_to(SOURCE).with_suffix("").parts]
    package = parts[:-1]  # a package's __init__ and its modules resolve from the same place
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            found.append((node.lineno, name))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return found


def reaches_past_a_facade(path: Path) -> list[str]:
    """Imports of another layer's inner module instead of that layer's package ``__init__``."""
    own = path.relative_to(SOURCE).parts[0]
    found = []
    for line, name in imported_modules(path):
        parts = name.split(".")
        if parts[0] != "aiolite" or len(parts) < 3:
            continue
        if parts[1] in LAYER_PACKAGES and parts[1] != own:
            found.append(f"{relative(path)}:{line}: {name}")
    return found


def test_the_facade_check_resolves_relative_imports() -> None:
    pool = SOURCE / "_pool" / "pool.py"
    names = {name for _, name in imported_modules(pool)}
    assert "aiolite._errors" in names
    assert "apsw" in names  # a plain ``import`` counts too
    assert any(name.startswith("aiolite._apsw") for name in names)


def test_layers_use_each_other_only_through_their_package_interface() -> None:
    """What a layer offers the one above is its package ``__init__``: nothing reaches past it.

    The public face (``aiolite/__init__.py``) re-exports from wherever each
    public name lives, and ``python -m aiolite`` starts the command line.
    """
    faces = {SOURCE / "__init__.py", SOURCE / "__main__.py"}
    inner = [path for path in MODULES if path not in faces]
    found = [hit for path in inner for hit in reaches_past_a_facade(path)]
    assert found == []
