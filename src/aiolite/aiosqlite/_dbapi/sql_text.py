"""What sqlite3 reads from the text of a statement before running it.

sqlite3 decides two things from the SQL text alone: whether a statement is
"DML" (``INSERT``/``UPDATE``/``DELETE``/``REPLACE``: it opens an implicit
transaction and counts ``rowcount``), and whether anything but whitespace
and comments follows the first statement (``execute`` refuses more than
one). Both are reproduced here on the same rules.
"""

from __future__ import annotations

from functools import lru_cache

_DML = ("insert", "update", "delete", "replace")


def skip_trivia(sql: str, start: int = 0, *, as_sqlite: bool = False) -> int:
    """Index of the first character from ``start`` that is not whitespace or a comment.

    A ``/*`` that ends the text is a comment to sqlite3's own scan but a
    stray ``/`` to SQLite's tokenizer (``as_sqlite``): a syntax error.
    """
    end = len(sql)
    i = start
    while i < end:
        char = sql[i]
        if char in " \t\r\n\f":
            i += 1
        elif sql.startswith("--", i):
            newline = sql.find("\n", i + 2)
            i = end if newline < 0 else newline + 1
        elif sql.startswith("/*", i) and not (as_sqlite and i + 2 >= end):
            close = sql.find("*/", i + 2)
            i = end if close < 0 else close + 2
        else:
            break
    return i


@lru_cache(maxsize=1024)
def is_dml(sql: str) -> bool:
    """True when the statement starts (after whitespace and comments) with a DML keyword.

    >>> is_dml("  -- note\\n INSERT INTO t VALUES (1)"), is_dml("SELECT 1")
    (True, False)
    """
    start = skip_trivia(sql)
    head = sql[start : start + 7].lower()
    return head.startswith(_DML)


def only_trivia(sql: str, start: int = 0, *, as_sqlite: bool = False) -> bool:
    """True when nothing but whitespace and comments follows ``start``."""
    return skip_trivia(sql, start, as_sqlite=as_sqlite) >= len(sql)
