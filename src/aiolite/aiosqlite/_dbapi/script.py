"""``executescript`` as sqlite3 runs it: statement by statement, rows and parameters ignored.

sqlite3 steps each statement of a script to the end without reading its
rows and leaves parameters unbound (NULL). APSW's ``execute`` would insist
on values for parameters and decode every row (failing on text that is not
UTF-8). So the script runs one statement per APSW call: the exec tracer
notes the statement's own text (``cursor.sql``) and stops APSW before the
next one, and the loop carries on after that text.
"""

from __future__ import annotations

import re

import apsw

from .sql_text import only_trivia

_UNBOUND = re.compile(r"Statement has (\d+) bindings but you didn't supply any")


class _FirstStatement:
    """Exec tracer: lets the first statement run, notes its text, stops at the next."""

    __slots__ = ("text",)

    def __init__(self) -> None:
        self.text: str | None = None

    def __call__(self, cursor: apsw.Cursor, sql: str, _values: object) -> bool:
        if self.text is not None:
            return False  # the next statement: the loop runs it on its own
        self.text = cursor.sql or sql
        return True


def _run_first(connection: apsw.Connection, script: str) -> str | None:
    """Run the first statement of ``script``; its text (None when there was none)."""
    first = _FirstStatement()
    cursor = connection.cursor()
    cursor.exec_trace = first
    values: tuple[None, ...] | None = None
    try:
        while True:
            try:
                for _ in cursor.execute(script, values, can_cache=False):
                    pass
            except apsw.ExecTraceAbort:
                pass
            except apsw.BindingsError as exc:
                if first.text is not None:
                    return first.text  # the first ran; the next one is bound on its own
                unbound = _UNBOUND.search(str(exc))
                if unbound is None:
                    raise
                values = (None,) * int(unbound[1])  # sqlite3 leaves them NULL
                continue
            except UnicodeDecodeError:
                pass  # a row sqlite3 would never have read
            return first.text
    finally:
        cursor.close(True)  # the statements after the first are left unrun on purpose


def run_script(connection: apsw.Connection, script: str) -> None:
    """Run every statement of ``script`` in order; the first failure raises (APSW's error)."""
    rest = script
    while not only_trivia(rest, as_sqlite=True):
        text = _run_first(connection, rest)
        if text is None:
            return
        at = rest.find(text)
        rest = rest[at + len(text) :] if at >= 0 else ""
