"""Unit tests of the transaction-control check: which SQL begins or ends a transaction.

``executemany``, pool writes and writes inside ``pool.writer()`` refuse a
statement that would begin or end the transaction they run in, by its first
word; a plain ``ROLLBACK`` is what acknowledges a transaction SQLite rolled
back. Each case here is one a plausible slip in those checks would break.
"""

from __future__ import annotations

import apsw
import pytest

from aiolite import TransactionControlError
from aiolite._apsw.execution import Execution, execute_in_worker
from aiolite._apsw.rows import compile_row_factory
from aiolite._apsw.transaction_control import (
    is_plain_rollback,
    refuse_transaction_control,
    transaction_control_word,
)

# ----------------------------------------------------------- the first-word check


@pytest.mark.parametrize(
    ("sql", "word"),
    [
        ("BEGIN", "BEGIN"),
        ("BEGIN IMMEDIATE TRANSACTION", "BEGIN"),
        ("COMMIT", "COMMIT"),
        ("COMMIT TRANSACTION", "COMMIT"),
        ("END", "END"),
        ("END TRANSACTION", "END"),
        ("ROLLBACK", "ROLLBACK"),
        ("ROLLBACK TO sp", "ROLLBACK"),
        ("SAVEPOINT sp", "SAVEPOINT"),
        ("RELEASE sp", "RELEASE"),
        ("RELEASE SAVEPOINT sp", "RELEASE"),
    ],
)
def test_every_transaction_control_statement_is_named_by_its_first_word(
    sql: str, word: str
) -> None:
    assert transaction_control_word(sql) == word


@pytest.mark.parametrize(
    "sql",
    ["begin", "Begin", "bEgIn deferred", "commit transaction"],
)
def test_case_does_not_matter_and_the_word_comes_back_upper_case(sql: str) -> None:
    assert transaction_control_word(sql) == sql.split()[0].upper()


@pytest.mark.parametrize(
    "sql",
    [
        "   BEGIN",
        "\n\t BEGIN",
        "-- a line comment\nBEGIN",
        "-- one\n-- two\n  BEGIN",
        "/* a block comment */BEGIN",
        "/* a block comment\n   over two lines */ BEGIN",
        "; BEGIN",
        ";;\n; BEGIN",
        " -- mixed\n ; /* all of them */ ;\tBEGIN",
    ],
)
def test_leading_space_comments_and_empty_statements_are_skipped(sql: str) -> None:
    assert transaction_control_word(sql) == "BEGIN"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "INSERT INTO t VALUES ('BEGIN')",
        "'COMMIT'",  # a string literal first: the keyword is not the statement's first token
        "BEGINNING",  # an identifier that only starts like a keyword
        "ENDS",
        "COMMITTED",
        "SAVEPOINTS",
        "/* BEGIN */ SELECT 1",  # the word inside a comment does not count
        "-- COMMIT\nSELECT 1",
        "/* never closed BEGIN",
        "",
        "   ",
        ";",
    ],
)
def test_other_statements_are_not_transaction_control(sql: str) -> None:
    assert transaction_control_word(sql) is None
    refuse_transaction_control(sql, "anywhere")  # does not raise


def test_only_the_first_statement_of_a_script_is_judged_by_the_text() -> None:
    # A later statement is checked when it starts (the exec tracer), not here.
    assert transaction_control_word("SELECT 1; COMMIT") is None
    assert transaction_control_word("COMMIT; SELECT 1") == "COMMIT"


def test_the_refusal_names_the_word_and_where_it_cannot_run() -> None:
    with pytest.raises(TransactionControlError, match=r"^ROLLBACK cannot run in a test's write$"):
        refuse_transaction_control("  rollback to sp", "a test's write")


def test_a_refusal_is_a_transaction_control_error_and_nothing_else() -> None:
    with pytest.raises(TransactionControlError) as caught:
        refuse_transaction_control("SAVEPOINT sp", "here")
    assert type(caught.value) is TransactionControlError


# ------------------------------------------------- the statement that acknowledges a loss


@pytest.mark.parametrize(
    "sql",
    [
        "ROLLBACK",
        "rollback",
        "RollBack",
        "ROLLBACK;",
        "  ROLLBACK  ",
        "\n\tROLLBACK ;\n",
        "ROLLBACK TRANSACTION",
        "rollback transaction;",
        "ROLLBACK\n\tTRANSACTION",
    ],
)
def test_a_plain_rollback_acknowledges_a_lost_transaction(sql: str) -> None:
    assert is_plain_rollback(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "ROLLBACK TO sp",  # undoes part of a transaction: there is no transaction left
        "ROLLBACK TRANSACTION TO SAVEPOINT sp",
        "ROLLBACKTRANSACTION",
        "ROLLBACK; SELECT 1",  # more after it
        "ROLLBACK;;",
        "COMMIT",
        "END",
        "END TRANSACTION",
        "RELEASE sp",
        "SELECT 'ROLLBACK'",
        "",
    ],
)
def test_nothing_else_acknowledges_a_lost_transaction(sql: str) -> None:
    assert not is_plain_rollback(sql)


# ------------------------------------------------------- each statement of a script


def _execution(refuses: str | None) -> Execution:
    return Execution(compile_row_factory(None), lambda: False, refuses)


@pytest.mark.parametrize("many", [False, True])
def test_a_later_statement_of_a_script_is_refused_as_it_starts(many: bool) -> None:
    conn = apsw.Connection(":memory:")
    conn.execute("CREATE TABLE t(x)")
    bindings = [()] if many else None
    sql = "INSERT INTO t VALUES (1); COMMIT"
    with pytest.raises(TransactionControlError, match=r"^COMMIT cannot run in a script test$"):
        execute_in_worker(conn, _execution("a script test"), sql, bindings, many, None)
    # The INSERT before it ran: the refusal is per statement, as each one starts.
    assert conn.execute("SELECT count(*) FROM t").get == 1
    conn.close()


def test_a_script_may_control_the_transaction_where_nothing_refuses_it() -> None:
    conn = apsw.Connection(":memory:")
    rows, done = execute_in_worker(
        conn, _execution(None), "BEGIN; SELECT 7; COMMIT", None, False, None
    )
    assert (rows, done) == ([(7,)], True)
    assert conn.get_autocommit()
    conn.close()
