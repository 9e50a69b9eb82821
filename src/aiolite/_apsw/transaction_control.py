"""Which SQL texts control the transaction: the checks run before and while statements run.

Some requests must not begin or end the transaction they run in: an
``executemany`` (it runs as one all-or-nothing savepoint), a pool write (it
shares its transaction with other callers' writes), a write inside
``pool.writer()`` (the block owns the transaction). They refuse transaction
control by its first word, the cheap check that needs no parsing; APSW's exec
tracer runs it on each statement of a script as that statement starts.
And one statement, a plain ``ROLLBACK``, is how a caller acknowledges a
transaction that SQLite rolled back under it.
"""

from __future__ import annotations

import re

from .._errors import TransactionControlError

# Leading white space, comments and empty statements (SQLite skips a leading
# ";", and APSW's exec tracer sees it), then the statement's first word. The
# skipping is possessive (*+): with backtracking, a run of spaces or comments
# before a non-word character took exponential time on the event loop.
_FIRST_WORD = re.compile(r"(?:\s|;|--[^\n]*|/\*.*?(?:\*/|\Z))*+(\w+)", re.DOTALL)
_TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"})

_PLAIN_ROLLBACK = re.compile(r"\s*ROLLBACK(?:\s+TRANSACTION)?\s*;?\s*\Z", re.IGNORECASE)


def is_plain_rollback(sql: str) -> bool:
    """True for the one statement that acknowledges a lost transaction (not ``ROLLBACK TO``).

    The rule of both the native connection and ``aiolite.aiosqlite``.
    """
    return _PLAIN_ROLLBACK.match(sql) is not None


def transaction_control_word(sql: str) -> str | None:
    """The first word of ``sql`` (upper case) if it is BEGIN, COMMIT, ROLLBACK...; else None."""
    match = _FIRST_WORD.match(sql)
    if match is not None:
        word = match.group(1).upper()
        if word in _TRANSACTION_CONTROL:
            return word
    return None


def refuse_transaction_control(sql: str, where: str) -> None:
    """TransactionControlError if ``sql`` starts with transaction control (``where``: where not)."""
    word = transaction_control_word(sql)
    if word is not None:
        raise TransactionControlError(f"{word} cannot run in {where}")
