"""The SQL every library runs: one text per workload, so all do the same SQLite work."""

from __future__ import annotations

SETUP = (
    "CREATE TABLE foo(one, two, three, four, five);"
    "INSERT INTO foo VALUES(1, 2, 3, 4, 5);"
    "INSERT INTO foo VALUES(5, 4, 3, 2, 1);"
)
INSERT = "INSERT INTO foo VALUES(?, ?, ?, ?, ?)"
SOURCE = "SELECT * FROM foo LIMIT 1000"
LENGTH = "SELECT count(*) FROM foo"

POINT_SETUP = (
    "CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT);"
    "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999) "
    "INSERT INTO kv SELECT i, 'value ' || i FROM n;"
)
POINT_QUERY = "SELECT v FROM kv WHERE k = ?"

LONG_QUERY = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) "
    "SELECT count(*) FROM c"
)
