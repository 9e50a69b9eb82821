"""The code in README.md and docs/*.md works as shown.

Every ``python`` block is compiled (top-level ``await`` allowed, as in the
fragments the guide shows). A block marked ``<!-- docs-test: run -->`` is a
complete program: it runs in a fresh interpreter in an empty directory, and
when the next block is a ``text`` block marked ``<!-- docs-test: output -->``
its output must be exactly that. ``<!-- docs-test: skip (why) -->`` leaves a
block alone. The convention is described in docs/development.md.
"""

from __future__ import annotations

import ast
import contextvars
import importlib
import itertools
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_FENCE = re.compile(r"^(`{3,}|~{3,})\s*([\w+-]*)")
_MARKER = re.compile(r"^<!--\s*docs-test:\s*(run|skip|output)\b.*-->$")


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    language: str
    marker: str | None
    code: str
    output: str | None = None

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks_of(page: Path) -> list[Block]:
    """The fenced blocks of a Markdown page, each with the marker just above it."""
    lines = page.read_text().splitlines()
    found: list[Block] = []
    marker: str | None = None
    index = 0
    while index < len(lines):
        stripped = lines[index].strip()
        match = _MARKER.match(stripped)
        fence = _FENCE.match(stripped)
        if match:
            marker = match.group(1)
        elif fence:
            close = fence.group(1)
            start = index
            index += 1
            body = []
            while index < len(lines) and not lines[index].strip().startswith(close):
                body.append(lines[index])
                index += 1
            found.append(Block(page, start + 1, fence.group(2), marker, "\n".join(body) + "\n"))
            marker = None
        elif stripped:
            marker = None  # a marker binds to the fence right below it (blank lines allowed)
        index += 1
    for block, following in itertools.pairwise(found):
        if block.marker == "run" and following.marker == "output":
            block.output = following.code
    return found


ALL = [block for page in PAGES for block in blocks_of(page)]
PYTHON = [b for b in ALL if b.language == "python" and b.marker != "skip"]
PROGRAMS = [b for b in PYTHON if b.marker == "run"]


def test_the_pages_have_examples_to_run() -> None:
    """The README's asyncio program and its output are run, and so are the guide's programs."""
    assert any(b.page.name == "README.md" and b.output for b in PROGRAMS)
    assert len({b.page for b in PROGRAMS}) >= 4
    assert all(b.language == "text" for b in ALL if b.marker == "output")
    orphans = [b.id for b in ALL if b.marker == "output" and not any(p.output for p in PROGRAMS)]
    assert not orphans


@pytest.mark.parametrize("block", PYTHON, ids=[b.id for b in PYTHON])
def test_python_block_compiles(block: Block) -> None:
    compile(block.code, block.id, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


@pytest.mark.parametrize("block", PROGRAMS, ids=[b.id for b in PROGRAMS])
def test_complete_program_runs(block: Block, tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    done = subprocess.run(
        [sys.executable, "-c", block.code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, f"{block.id} failed:\n{done.stderr}"
    if block.output is not None:
        assert done.stdout == block.output


def test_the_marker_convention_is_read_as_documented(tmp_path: Path) -> None:
    """The extraction sees markers, languages and outputs as the convention says."""
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- docs-test: run -->\n\n```python\nprint('hi')\n```\n\n"
        "<!-- docs-test: output -->\n```text\nhi\n```\n\n"
        "<!-- docs-test: skip (not Python) -->\n```python\ndef (:\n```\n\n"
        "```python\nawait db.close()\n```\n"
    )
    run, output, skipped, fragment = blocks_of(page)
    assert (run.marker, run.output, run.code) == ("run", "hi\n", "print('hi')\n")
    assert (output.language, skipped.marker, fragment.marker) == ("text", "skip", None)
    compile(fragment.code, "fragment", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    with pytest.raises(SyntaxError):
        compile(skipped.code, "skipped", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def _own_public_names(module: object) -> set[str]:
    """The public callables and context variables a module defines itself: APSW's and
    sqlite3's classes and functions, re-exported unchanged, are documented by their
    libraries."""
    names = set()
    for name in getattr(module, "__all__", ()):
        value = getattr(module, name)
        home = str(getattr(value, "__module__", ""))
        if home in ("apsw", "sqlite3", "_sqlite3") or name.startswith("_"):
            continue
        if callable(value) or isinstance(value, contextvars.ContextVar):
            names.add(name)
    return names


@pytest.mark.parametrize(
    ("module", "page"),
    [("aiolite", "aiolite.md"), ("aiolite.aiosqlite", "aiosqlite.md")],
)
def test_the_api_reference_lists_every_public_name(module: str, page: str) -> None:
    reference = (ROOT / "docs" / "reference" / page).read_text()
    listed = set(re.findall(rf"^::: {re.escape(module)}\.(\w+)$", reference, re.M))
    own = _own_public_names(importlib.import_module(module))
    assert len(own) > 3
    assert own - listed == set()
