"""Turning results into Markdown tables, each narrow enough for a 100-column terminal."""

from __future__ import annotations

from collections import defaultdict

from ..markdown import table
from .suite import ORM_WORKLOAD, Result
from .workloads import AIOLITE, AIOSQLITE, APSW_AIO, DROP_IN, LIBRARIES, NOT_INLINE, RAW, SYNC

BENCH_PEERS = (AIOLITE, APSW_AIO, AIOSQLITE)
CROSSING = (NOT_INLINE, DROP_IN)  # every request crosses to the worker: never below the raw floor


def markdown(results: list[Result]) -> str:
    """Every table of the run, with the notes a reader needs to trust the numbers."""
    parts = [
        _aio_bench(results),
        _point_queries(results),
        _lag(results),
        _orm(results),
    ]
    notes = below_floor(results)
    if notes:
        parts.append("\n".join(notes))
    return "\n\n".join(part for part in parts if part)


def _aio_bench(results: list[Result]) -> str:
    """APSW's aio_bench: seconds per library, and aiolite's time over sync APSW's."""
    rows: dict[tuple[str, str], dict[str, Result]] = defaultdict(dict)
    for r in results:
        if r.workload.startswith("aio_bench "):
            rows[(r.workload, r.framework)][r.library] = r
    if not rows:
        return ""
    columns = (SYNC, *BENCH_PEERS)
    header = ["aio_bench", "framework", *columns, "aiolite x floor"]
    cells = [
        [workload, framework]
        + [_shown(row.get(name)) for name in columns]
        + [_over(row.get(AIOLITE), row.get(SYNC))]
        for (workload, framework), row in rows.items()
    ]
    title = "APSW's aio_bench (read 1,000 rows, append them, repeat): seconds, lower is better"
    return f"{title}\n\n" + table(header, cells, left=2)


def _point_queries(results: list[Result]) -> str:
    """One row per library: rate, time per query, and the rate over aiosqlite's."""
    point = [r for r in results if r.unit == "q/s" and r.workload != ORM_WORKLOAD]
    if not point:
        return ""
    by = {(r.workload, r.framework, r.library): r for r in point}
    header = ["point queries", "framework", "library", "q/s", "us each", "x aiosqlite"]
    cells = []
    for r in point:
        peer = by.get((r.workload, r.framework, AIOSQLITE))
        cells.append(
            [
                r.workload,
                r.framework,
                r.library,
                f"{r.value:,.0f}",
                f"{1e6 / r.value:.1f}",
                _over(r, peer),
            ]
        )
    idioms: dict[str, list[str]] = defaultdict(list)
    for lib in LIBRARIES:
        idioms[lib.idiom].append(lib.name)
    title = "\n".join(
        [
            "Point queries (`SELECT v FROM kv WHERE k = ?`): queries per second, higher is",
            "better. Sequential awaits one query at a time; gather starts them all at once,",
            "cold (the statement never run before) or warm (run once before the clock).",
            "Each library at its fastest idiom:",
            *(f"- {', '.join(names)}: `{idiom}`" for idiom, names in idioms.items()),
        ]
    )
    return f"{title}\n\n" + table(header, cells, left=3)


def _lag(results: list[Result]) -> str:
    lag = [r for r in results if r.unit == "ms"]
    if not lag:
        return ""
    rows: dict[str, dict[str, Result]] = defaultdict(dict)
    for r in lag:
        rows[r.framework][r.library] = r
    header = ["worst loop lag (ms)", *BENCH_PEERS]
    cells = [[fw, *(_shown(row.get(lib)) for lib in BENCH_PEERS)] for fw, row in rows.items()]
    title = "The longest a 1 ms ticker was late while one long query ran: lower is better"
    return f"{title}\n\n" + table(header, cells, left=1)


def _orm(results: list[Result]) -> str:
    orm = [r for r in results if r.workload == ORM_WORKLOAD]
    if not orm:
        return ""
    peer = next((r for r in orm if r.library == "sqlite+aiosqlite"), None)
    header = ["SQLAlchemy ORM (asyncio)", "handlers/s", "x sqlite+aiosqlite"]
    cells = [[r.library, f"{r.value:,.0f}", _over(r, peer)] for r in orm]
    title = (
        "Concurrent web-style handlers, each an AsyncSession doing a primary-key select\n"
        "and an insert + commit (a WAL file): higher is better"
    )
    return f"{title}\n\n" + table(header, cells, left=1)


def below_floor(results: list[Result]) -> list[str]:
    """One note listing every ratio that beat a floor: nothing beats a floor, so it is noise."""
    found = []
    for r in results:
        floor = _find(results, r.workload, r.framework, SYNC)
        if r.unit == "s" and floor is not None and r is not floor and r.value < floor.value:
            ratio = r.value / floor.value
            found.append(f"{r.library} {r.workload} on {r.framework} {ratio:.2f}x sync APSW")
        if r.workload == "sequential" and r.library in CROSSING:
            raw = _find(results, "sequential", r.framework, RAW)
            if raw is not None and r.value > raw.value:
                ratio = raw.value / r.value
                found.append(f"{r.library} on {r.framework} {ratio:.2f}x the raw hand-off")
    if not found:
        return []
    runs = max(len(r.samples) for r in results)
    return [
        "Note: below a floor, which nothing can beat:",
        *(f"- {item}" for item in found),
        f"That is noise (medians of {runs} runs on a busy machine: the floor and the row",
        "take turns, but never run at the same moment), not a result: rerun without",
        "--quick, on a quiet machine, before quoting these rows.",
    ]


def _find(results: list[Result], workload: str, framework: str, library: str) -> Result | None:
    for r in results:
        if (r.workload, r.framework, r.library) == (workload, framework, library):
            return r
    return None


def _shown(result: Result | None) -> str:
    if result is None:
        return "-"
    value = result.value
    if result.unit == "q/s":
        return f"{value:,.0f} q/s"
    if result.unit == "ms":
        return f"{value:.2f} ms"
    return f"{value:.3f} s"


def _over(a: Result | None, b: Result | None) -> str:
    """``a``'s value over ``b``'s, as ``1.23x`` (``-`` when either is missing)."""
    if a is None or b is None or b.value == 0:
        return "-"
    return f"{a.value / b.value:.2f}x"
