"""``python -m aiolite tour``: every feature, run for real, each step printed.

The tour creates its database in a temporary folder, so it can be run
anywhere and leaves nothing behind. Each section is a small async function;
the asyncio ones also run under uvloop when it is installed, and the
framework section repeats the basics under trio and anyio.
"""

from __future__ import annotations

import asyncio
import importlib.util
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import apsw

import aiolite

from . import pool_sections
from .aiosqlite_sections import aiosqlite_dropin, sqlalchemy_dialect
from .core_sections import (
    basics,
    callbacks,
    cancellation,
    deadlines,
    errors,
    isolation,
    on_anyio,
    on_trio,
    transactions,
    worker_thread,
)
from .extension_sections import SECTIONS as EXTENSION_SECTIONS
from .printing import heading, step

Section = Callable[[Path], Awaitable[None]]

ASYNCIO_SECTIONS: tuple[Section, ...] = (
    basics,
    transactions,
    isolation,
    worker_thread,
    callbacks,
    cancellation,
    deadlines,
    errors,
    *EXTENSION_SECTIONS,
    pool_sections.pool,
    pool_sections.kv,
    aiosqlite_dropin,
    sqlalchemy_dialect,
)


def run_tour(framework: str = "all") -> int:
    """Run the tour; ``framework`` limits it to one of asyncio, trio, anyio."""
    print(
        "aiolite tour — async SQLite on APSW",
        aiolite.__version__,
        "/ SQLite",
        apsw.sqlite_lib_version(),
    )
    with tempfile.TemporaryDirectory(prefix="aiolite-tour-") as name:
        folder = Path(name)
        if framework in ("all", "asyncio"):
            asyncio.run(_run_sections(folder))
            if importlib.util.find_spec("uvloop") is not None:
                import uvloop

                heading("The same connection code on uvloop")
                with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                    runner.run(cancellation(folder))
        if framework in ("all", "trio"):
            heading("trio")
            if importlib.util.find_spec("trio") is None:
                step("trio is not installed (pip install 'aiolite[trio]'); skipped")
            else:
                import trio

                trio.run(on_trio)
        if framework in ("all", "anyio"):
            heading("anyio, on both of its backends")
            if importlib.util.find_spec("anyio") is None:
                step("anyio is not installed (pip install 'aiolite[anyio]'); skipped")
            else:
                import anyio

                anyio.run(on_anyio, backend="asyncio")
                if importlib.util.find_spec("trio") is not None:
                    anyio.run(on_anyio, backend="trio")
    print("\nTour complete.")
    return 0


async def _run_sections(folder: Path) -> None:
    for section in ASYNCIO_SECTIONS:
        await section(folder)
