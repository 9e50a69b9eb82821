"""Shared pieces of the test suite: SQL that runs for as long as we like, and so on."""

from __future__ import annotations

from pathlib import Path

# Counts forever: only cancellation, a deadline or close() can stop it.
ENDLESS_QUERY = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
)

# Writes a few rows while running forever, so a stopped write can be shown to leave nothing.
ENDLESS_INSERT = (
    "INSERT INTO t(x) "
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
    "SELECT x FROM c WHERE x % 100000 = 0"
)


def db_path(tmp_path: Path, name: str = "test.db") -> str:
    return str(tmp_path / name)
