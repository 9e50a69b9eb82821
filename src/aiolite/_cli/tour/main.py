"""``python -m aiolite tour``: every feature, run for real, each step printed.

The tour creates its database in a temporary folder, so it can be run
anywhere and leaves nothing behind. Each section is a small async function
in one of the ``*_sections`` modules, which share :mod:`.printing` (and
:mod:`aiolite._cli.endless`) and never import each other. They all run on
asyncio; the cancellation section runs again on uvloop, and
:mod:`.framework_sections` repeats the essentials under trio and anyio (each
run through :mod:`aiolite._cli.runners`, and skipped when that framework is
not installed).
"""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import apsw

import aiolite

from .. import runners
from . import aiosqlite_sections, core_sections, extension_sections, pool_sections
from .core_sections import cancellation
from .framework_sections import on_anyio, on_trio
from .printing import heading, step

Section = Callable[[Path], Awaitable[None]]

ASYNCIO_SECTIONS: tuple[Section, ...] = (
    *core_sections.SECTIONS,
    *extension_sections.SECTIONS,
    *pool_sections.SECTIONS,
    *aiosqlite_sections.SECTIONS,
)
"""Every section that takes the tour's folder, in the order they print (on asyncio)."""


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
            runners.run("asyncio", partial(_run_sections, folder))
            if runners.installed("uvloop"):
                heading("The same connection code on uvloop")
                runners.run("uvloop", partial(cancellation, folder))
        if framework in ("all", "trio"):
            heading("trio")
            if not runners.installed("trio"):
                step("trio is not installed (pip install 'aiolite[trio]'); skipped")
            else:
                runners.run("trio", on_trio)
        if framework in ("all", "anyio"):
            heading("anyio, on both of its backends")
            if not runners.installed("anyio-asyncio"):
                step("anyio is not installed (pip install 'aiolite[anyio]'); skipped")
            else:
                runners.run("anyio-asyncio", on_anyio)
                if runners.installed("anyio-trio"):
                    runners.run("anyio-trio", on_anyio)
    print("\nTour complete.")
    return 0


async def _run_sections(folder: Path) -> None:
    for section in ASYNCIO_SECTIONS:
        await section(folder)
