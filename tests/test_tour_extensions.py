"""The tour's extension sections run and show what they promise (asyncio, as in the tour)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from aiolite._cli.tour import extension_sections as _tour_extensions


def test_extension_sections_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def run_all() -> None:
        for section in _tour_extensions.SECTIONS:
            await section(tmp_path)

    asyncio.run(run_all())
    out = capsys.readouterr().out
    for expected in (
        "update hook (async, request r-42)",
        "an async authorizer denied a table",
        "[(5, '*****'), (3, '***'), (1, '*')]",
        "async xRead calls",
        "> CREATE TABLE multi(x)",
        "SQLite vm operations",
        "b'hello world'",
        "copied 63/63 pages",
        "['guava jam', 'lemonade']",
        "after applying the inverted changeset, rows\n      -> 0",
    ):
        assert expected in out
