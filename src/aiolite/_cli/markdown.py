"""The one Markdown table writer: ``python -m aiolite bench`` and the scripts in ``bench/``.

Their tables end up side by side in notes and issues, so they are written
one way: a header row, an alignment row (names and labels to the left,
numbers to the right), then one row per line of cells already formatted
as text.

>>> print(table(["workload", "ops/s"], [["insert", "1,000"], ["select", "25,000"]], left=1))
| workload | ops/s |
|---|---:|
| insert | 1,000 |
| select | 25,000 |
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def table(header: Sequence[str], rows: Iterable[Sequence[str]], *, left: int) -> str:
    """A table whose first ``left`` columns are text (left-aligned) and the rest numbers."""
    align = ["---"] * left + ["---:"] * (len(header) - left)
    lines = [_row(header), "|" + "|".join(align) + "|"]
    lines += [_row(cells) for cells in rows]
    return "\n".join(lines)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"
