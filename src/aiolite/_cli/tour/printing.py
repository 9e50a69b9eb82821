"""How the tour prints: a heading per section, one line per step."""

from __future__ import annotations

from typing import Any


def heading(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 66 - len(title)))


def step(what: str, result: Any = None) -> None:
    print(f"  {what}" + ("" if result is None else f"\n      -> {result!r}"))
