"""SQL text for the fuzzers: anything, a keyword soup, grammar scripts, damaged scripts.

The grammar only names the scratch tables ``fuzz*``; it leaves out
endless results (no recursive CTE, which damage could make endless),
``ATTACH``, ``PRAGMA`` writes other than ``user_version``, and functions
that allocate what they are told (``zeroblob``, ``randomblob``, ``printf``
widths), which could only test the machine's memory.
"""

from __future__ import annotations

from hypothesis import strategies as st

_ANY_CHARACTER = st.characters(exclude_categories=())  # surrogates and NUL included

_LITERALS = st.one_of(
    st.integers().map(str),
    st.text("0123456789", min_size=19, max_size=300),  # past 64 bits
    st.floats().map(repr),  # 'inf' and 'nan' are names to SQLite
    st.sampled_from(
        [
            "1e999",
            "-1e999",
            "0x7fffffffffffffff",
            "0xffffffffffffffffffff",
            "-0.0",
            "1.",
            ".5",
            "1e",
            "1_000",
            "NULL",
            "TRUE",
            "FALSE",
            "CURRENT_TIMESTAMP",
            "x''",
            "x'0'",
            "X'00ff'",
            "'",
            "''''",
            "?",
            "?1",
            "?0",
            "?999999",
            "?32766",
            ":n",
            "@n",
            "$n",
            "-9223372036854775808",
            "9223372036854775808",
        ]
    ),
    st.text(_ANY_CHARACTER, max_size=12).map(lambda s: "'" + s.replace("'", "''") + "'"),
    st.text(max_size=12).map(lambda s: "'" + s),  # unterminated
    st.binary(max_size=8).map(lambda b: f"x'{b.hex()}'"),
)
_COLUMNS = st.sampled_from(["a", "b", "rowid", "nope", '"a"', "[b]", "`a`", "fuzz.a", "*"])
_FUNCTIONS = st.sampled_from(
    [
        "abs", "length", "hex", "typeof", "upper", "lower", "quote", "unicode", "trim", "json",
        "json_valid", "round", "char", "likely", "sqlite_version", "changes", "total_changes",
        "last_insert_rowid", "nofunc", "count", "max", "min", "sum", "group_concat", "coalesce",
        "ifnull", "nullif", "instr", "substr", "replace", "like", "glob",
    ]
)  # fmt: skip
_OPERATORS = st.sampled_from(
    ["+", "-", "*", "/", "%", "||", "=", "==", "!=", "<>", "<", ">=", "AND", "OR", "IS",
     "IS NOT", "LIKE", "GLOB", "<<", ">>", "&", "|", "->", "->>", "COLLATE nocase ="]
)  # fmt: skip
_TYPES = st.sampled_from(["INTEGER", "REAL", "TEXT", "BLOB", "NUMERIC", "nonsense"])


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, _OPERATORS, inner).map(" ".join),
        st.tuples(_FUNCTIONS, st.lists(inner, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"
        ),
        inner.map(lambda e: f"({e})"),
        inner.map(lambda e: f"-{e}"),
        inner.map(lambda e: f"NOT {e}"),
        st.tuples(inner, inner, inner).map(lambda t: "CASE WHEN {} THEN {} ELSE {} END".format(*t)),
        st.tuples(inner, _TYPES).map(lambda t: f"CAST({t[0]} AS {t[1]})"),
        inner.map(lambda e: f"(SELECT {e})"),
        st.tuples(inner, st.lists(inner, max_size=3)).map(
            lambda t: f"{t[0]} IN ({', '.join(t[1])})"
        ),
        inner.map(lambda e: f"EXISTS (SELECT 1 FROM fuzz WHERE {e})"),
    )


_EXPRESSIONS = st.recursive(st.one_of(_LITERALS, _COLUMNS), _extend, max_leaves=6)
_TABLES = st.sampled_from(["fuzz", "fuzz_1", "fuzz_2", "fuzz_v", "nope"])


def _maybe(prefix: str, part: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), part.map(lambda p: f" {prefix} {p}"))


_SELECT = st.tuples(
    st.lists(_EXPRESSIONS, min_size=1, max_size=3).map(", ".join),
    st.one_of(
        st.just(""),
        st.tuples(
            _TABLES, _maybe("WHERE", _EXPRESSIONS), _maybe("ORDER BY", _EXPRESSIONS),
            _maybe("LIMIT", _EXPRESSIONS),
        ).map(lambda t: f" FROM {t[0]}{t[1]}{t[2]}{t[3]}"),
    ),
).map(lambda t: f"SELECT {t[0]}{t[1]}")  # fmt: skip

_STATEMENTS = st.one_of(
    _SELECT,
    st.tuples(
        st.sampled_from(["INSERT", "INSERT OR IGNORE", "INSERT OR REPLACE", "REPLACE"]),
        _TABLES,
        st.lists(_EXPRESSIONS, min_size=1, max_size=3),
        st.sampled_from(["", " RETURNING *", " RETURNING a, rowid"]),
    ).map(lambda t: f"{t[0]} INTO {t[1]}(a, b) VALUES ({', '.join(t[2])}){t[3]}"),
    st.tuples(_TABLES, _EXPRESSIONS, _maybe("WHERE", _EXPRESSIONS)).map(
        lambda t: f"UPDATE {t[0]} SET a = {t[1]}{t[2]}"
    ),
    st.tuples(_TABLES, _maybe("WHERE", _EXPRESSIONS)).map(lambda t: f"DELETE FROM {t[0]}{t[1]}"),
    st.sampled_from(
        [
            "CREATE TABLE fuzz_1(a, b)",
            "CREATE TABLE IF NOT EXISTS fuzz_2(a INTEGER PRIMARY KEY, b)",
            "DROP TABLE fuzz",
            "DROP TABLE IF EXISTS fuzz_1",
            "DROP TABLE fuzz_2",
            "CREATE INDEX IF NOT EXISTS fuzz_i ON fuzz(a)",
            "DROP INDEX IF EXISTS fuzz_i",
            "ALTER TABLE fuzz ADD COLUMN c",
            "ALTER TABLE fuzz RENAME TO fuzz_2",
            "ALTER TABLE fuzz_2 RENAME TO fuzz",
            "CREATE VIEW IF NOT EXISTS fuzz_v AS SELECT a FROM fuzz",
            "DROP VIEW IF EXISTS fuzz_v",
            "CREATE TRIGGER IF NOT EXISTS fuzz_t AFTER INSERT ON fuzz "
            "BEGIN DELETE FROM fuzz_1; END",
            "DROP TRIGGER IF EXISTS fuzz_t",
            "BEGIN",
            "BEGIN IMMEDIATE",
            "BEGIN EXCLUSIVE",
            "COMMIT",
            "END",
            "ROLLBACK",
            "SAVEPOINT s",
            "RELEASE s",
            "ROLLBACK TO s",
            "END TRANSACTION",
            "PRAGMA user_version",
            "PRAGMA table_info(fuzz)",
            "PRAGMA integrity_check",
            "PRAGMA foreign_keys",
            "ANALYZE",
            "REINDEX",
            "VACUUM",
        ]
    ),
    st.tuples(st.integers(), _EXPRESSIONS).map(
        lambda t: f"PRAGMA user_version = {t[0]}" if t[0] % 2 else f"PRAGMA user_version = {t[1]}"
    ),
    # Many rows from a list, not a recursive CTE: damage that cut a CTE's
    # WHERE made it endless, and a full-size run read rows of 300-digit
    # strings from one until the machine ran out of memory.
    st.tuples(st.integers(0, 100), _EXPRESSIONS).map(
        lambda t: f"SELECT {t[1]}, value FROM json_each('{list(range(t[0]))}')"
    ),
    _SELECT.map(lambda s: f"EXPLAIN {s}"),
    _SELECT.map(lambda s: f"EXPLAIN QUERY PLAN {s}"),
    st.lists(_EXPRESSIONS, min_size=1, max_size=3).map(lambda es: f"VALUES ({'), ('.join(es)})"),
)
_SEPARATORS = st.sampled_from(
    [";", "; ", ";;", "\n;", " ; -- c\n", "/* c */;", ";\x00", "; /* unterminated", "; --"]
)


@st.composite
def _scripts(draw: st.DrawFn) -> str:
    statements = draw(st.lists(_STATEMENTS, min_size=1, max_size=4))
    text = statements[0]
    for statement in statements[1:]:
        text += draw(_SEPARATORS) + statement
    if draw(st.booleans()):
        text = draw(st.sampled_from(["", " ", ";", "-- c\n", "/**/", "\t\n"])) + text
    if draw(st.booleans()):
        text += draw(_SEPARATORS)
    return text


@st.composite
def _damaged(draw: st.DrawFn) -> str:
    """A script with characters inserted or removed, or cut short, at random places."""
    text = draw(_scripts())
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        change = draw(st.sampled_from(["insert", "delete", "cut"]))
        if change == "insert":
            text = text[:at] + draw(st.text(_ANY_CHARACTER, min_size=1, max_size=3)) + text[at:]
        elif change == "delete":
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at]
    return text


_SOUP = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "SELECT",
                "FROM",
                "WHERE",
                "INSERT",
                "INTO",
                "VALUES",
                "UPDATE",
                "SET",
                "DELETE",
                "CREATE",
                "TABLE",
                "DROP",
                "BEGIN",
                "COMMIT",
                "ROLLBACK",
                "SAVEPOINT",
                "RELEASE",
                "WITH",
                "RECURSIVE",
                "AS",
                "UNION",
                "ALL",
                "ORDER",
                "BY",
                "LIMIT",
                "RETURNING",
                "fuzz",
                "a",
                "b",
                "(",
                ")",
                ",",
                ";",
                "'",
                '"',
                "?",
                ":n",
                "*",
                "=",
                "--",
                "/*",
                "*/",
                "NULL",
                "1",
                "1e999",
                "99999999999999999999999",
            ]
        ),
        _LITERALS,
    ),
    max_size=12,
).map(" ".join)

SQL_TEXTS = st.one_of(st.text(_ANY_CHARACTER, max_size=40), _SOUP, _scripts(), _damaged())

_BINDING_VALUES = st.one_of(
    st.none(), st.integers(-5, 5), st.text(max_size=5), st.binary(max_size=4), st.floats()
)
BINDINGS = st.one_of(
    st.none(),
    st.lists(_BINDING_VALUES, max_size=3).map(tuple),
    st.fixed_dictionaries({"n": _BINDING_VALUES}),
)
