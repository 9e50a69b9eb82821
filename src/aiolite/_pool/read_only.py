"""What a pool reader lets a statement do: read, and nothing that outlives its caller.

``PRAGMA query_only`` alone does not make a shared reader safe: a read can
run ``PRAGMA query_only=0`` and every later caller of that reader may write
outside group commit; ``ATTACH`` creates a file and stays attached; ``PRAGMA
foreign_keys=0`` changes the connection for everyone. So each reader also
has a :class:`ReadOnly` authorizer, which SQLite asks about every
action of a statement while preparing it, before anything runs.

It is an allow-list, of actions and of pragmas: what SQLite adds later
is refused until it is known to be a read. Allowed are reads (``SELECT``,
column reads, functions, recursive CTEs), transaction control (a reader
block's ``async with db:`` is a read transaction; ``query_only`` still
refuses ``BEGIN IMMEDIATE``, which would take the write lock; plain reads
refuse any, see :func:`aiolite._pool.readers.fetch_shared`), reading a
pragma's value, and the pragmas whose argument only names what to read.
Everything else raises :class:`~aiolite.ReaderReadOnlyError`, whose
message names the statement's action: temporary tables are refused like
any write, since they too would be there for the reader's next caller.
"""

from __future__ import annotations

import apsw

from .._apsw import ChainedAuthorizer
from .._errors import ReaderReadOnlyError

_READS = frozenset(
    {
        apsw.SQLITE_SELECT,
        apsw.SQLITE_READ,
        apsw.SQLITE_FUNCTION,
        apsw.SQLITE_RECURSIVE,
        apsw.SQLITE_TRANSACTION,
        apsw.SQLITE_SAVEPOINT,
    }
)
"""Actions that never change the database or the connection."""

_SETTINGS = frozenset(
    [
        "analysis_limit",
        "application_id",
        "auto_vacuum",
        "automatic_index",
        "busy_timeout",
        "cache_size",
        "cache_spill",
        "case_sensitive_like",
        "cell_size_check",
        "checkpoint_fullfsync",
        "collation_list",
        "compile_options",
        "count_changes",
        "data_version",
        "database_list",
        "defer_foreign_keys",
        "empty_result_callbacks",
        "encoding",
        "foreign_key_check",
        "foreign_key_list",
        "foreign_keys",
        "freelist_count",
        "full_column_names",
        "fullfsync",
        "function_list",
        "hard_heap_limit",
        "ignore_check_constraints",
        "index_info",
        "index_list",
        "index_xinfo",
        "integrity_check",
        "journal_mode",
        "journal_size_limit",
        "legacy_alter_table",
        "locking_mode",
        "max_page_count",
        "mmap_size",
        "module_list",
        "page_count",
        "page_size",
        "pragma_list",
        "query_only",
        "quick_check",
        "read_uncommitted",
        "recursive_triggers",
        "reverse_unordered_selects",
        "schema_version",
        "secure_delete",
        "short_column_names",
        "soft_heap_limit",
        "synchronous",
        "table_info",
        "table_list",
        "table_xinfo",
        "temp_store",
        "temp_store_directory",
        "threads",
        "trusted_schema",
        "user_version",
        "wal_autocheckpoint",
        "writable_schema",
    ]
)
"""Pragmas that only read when given no argument: every pragma SQLite 3.54 has
(``PRAGMA pragma_list``) except the four that act even then: ``optimize``
(runs ANALYZE), ``wal_checkpoint``, ``incremental_vacuum`` and ``shrink_memory``."""

_SUBJECTS = frozenset(
    [
        "table_info",
        "table_xinfo",
        "table_list",
        "index_info",
        "index_list",
        "index_xinfo",
        "foreign_key_list",
        "foreign_key_check",
        "integrity_check",
        "quick_check",
    ]
)
"""Pragmas whose argument names what to read (a table, an index, a schema, a
limit on the errors reported), never a value to set."""


_ACTION_NAMES = {
    code: name.removeprefix("SQLITE_")
    for code, name in apsw.mapping_authorizer_function.items()
    if isinstance(code, int) and isinstance(name, str)
}
"""``SQLITE_CREATE_TEMP_TABLE`` as ``CREATE_TEMP_TABLE``, for the messages."""

_SCHEMA_TABLES = frozenset(
    {"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema"}
)
"""Tables whose write is a schema change (SQLite asks about it first, then the CREATE...)."""


class ReadOnly(ChainedAuthorizer):
    """A reader's authorizer: reads go on (to the user's authorizer, if any), the rest raise."""

    __slots__ = ()

    def __call__(
        self,
        action: int,
        arg1: str | None,
        arg2: str | None,
        schema: str | None,
        trigger: str | None,
    ) -> int:
        if action not in _READS:
            _refuse_unless_read(action, arg1, arg2)
        user = self.user
        return apsw.SQLITE_OK if user is None else user(action, arg1, arg2, schema, trigger)


def _refuse_unless_read(action: int, arg1: str | None, arg2: str | None) -> None:
    """Return for a pragma that reads; else raise ReaderReadOnlyError.

    Raising (not returning ``SQLITE_DENY``) gets the caller a message that
    names what was refused and the way to do it, instead of SQLite's bare
    "not authorized"; APSW hands the exception raised here to the caller of
    the statement as it is.
    """
    if action == apsw.SQLITE_PRAGMA and arg1 is not None:
        if arg1.lower() in (_SETTINGS if arg2 is None else _SUBJECTS):
            return
        what = f"PRAGMA {arg1}" if arg2 is None else f"PRAGMA {arg1}={arg2}"
        raise ReaderReadOnlyError(
            f"{what} refused: pool readers are shared and read-only, so they run no pragma "
            "that sets a value or acts; give every connection of the pool a setting with "
            "open_pool(pragmas=...), and set the database's own (user_version...) with "
            "pool.execute()"
        )
    if action in (apsw.SQLITE_ATTACH, apsw.SQLITE_DETACH):
        raise ReaderReadOnlyError(
            f"{_ACTION_NAMES[action]} refused (VACUUM attaches too): pool readers are "
            "shared, and an attached database would stay attached for every later read; "
            "attach it on a connection of your own (aiolite.connect)"
        )
    if arg1 is not None and arg1.lower() in _SCHEMA_TABLES:
        what = "a schema change (CREATE, DROP, ALTER)"
    else:
        what = _ACTION_NAMES.get(action, str(action)) + (f" on {arg1!r}" if arg1 else "")
    raise ReaderReadOnlyError(
        f"{what} refused: pool readers are read-only "
        "(temporary tables too: they would outlive this read); write with pool.execute() "
        "or in 'async with pool.writer()'"
    )
