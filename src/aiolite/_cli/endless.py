"""SQL that runs until something stops it: how the tour, the bench and the tests show cancellation.

Both recurse for ever inside SQLite without touching a table, so only a
cancellation, a deadline, an interrupt or closing the connection can end
them; whatever stopped them is then shown to reach into SQLite itself.
"""

from __future__ import annotations

ENDLESS_QUERY = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
)
"""Counts for ever and returns no row until then: a statement that never finishes its first step."""

ENDLESS_ROWS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c"
"""Streams 1, 2, 3, ... for ever: a statement whose every step finishes."""
