"""Virtual tables whose module, table and cursor methods may be ``async def``.

APSW calls a virtual table's methods by name from the worker thread.
:func:`wrap_module` puts a stand-in in front of the module and of each table
it makes, and one in front of each cursor that has async methods, so every
async method runs in the event loop while SQLite waits (cursors with only
sync methods are handed to APSW as they are: ``Column`` runs per value).

:meth:`TableFunctionMethods.create_table_function` is the easy way in: a
function (sync or async, returning rows or yielding them) becomes a table,
through ``apsw.ext.make_virtual_module``. An async generator is pulled in
batches, so a query costs one trip to the event loop per batch of rows, not
per row.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import apsw

from ..._engine import call_in_loop
from ..arguments import require_str
from ..core import CoreFront
from .callbacks import AsyncMethods, bridge, has_async_method

if TYPE_CHECKING:
    import apsw.ext

    from ..._engine import Engine

_CURSOR_METHODS = ("Filter", "Eof", "Column", "ColumnNoChange", "Next", "Rowid", "Close")
_BATCH_ROWS = 64


def wrap_module(engine: Engine, module: Any) -> Any:
    """``module`` as APSW can call it, whatever mix of sync and async methods it has."""

    def wrap_cursor(cursor: Any) -> Any:
        if has_async_method(cursor, _CURSOR_METHODS):
            return AsyncMethods(cursor, engine)
        return cursor

    def wrap_find_function(found: Any) -> Any:
        if isinstance(found, tuple):
            return (found[0], bridge(engine, found[1]))
        return bridge(engine, found)

    table_results = {"Open": wrap_cursor, "FindFunction": wrap_find_function}

    def wrap_table(created: Any) -> Any:
        schema, table = created
        return schema, AsyncMethods(table, engine, table_results)

    return AsyncMethods(module, engine, {"Create": wrap_table, "Connect": wrap_table})


async def _next_batch(rows: AsyncIterator[Any], size: int) -> tuple[list[Any], bool]:
    batch: list[Any] = []
    async for row in rows:
        batch.append(row)
        if len(batch) >= size:
            return batch, False
    return batch, True


async def _close_async_rows(rows: Any) -> None:
    await rows.aclose()


async def _await_rows(pending: Any) -> Any:
    return await pending


def _sync_rows(engine: Engine, function: Callable[..., Any]) -> Callable[..., Iterator[Any]]:
    """A plain generator function that yields what ``function`` (sync or async) produces."""

    @functools.wraps(function)
    def rows(*args: Any, **kwargs: Any) -> Iterator[Any]:
        made = function(*args, **kwargs)
        if inspect.isasyncgen(made):
            finished = False
            try:
                while not finished:
                    batch, finished = call_in_loop(engine, _next_batch, made, _BATCH_ROWS)
                    yield from batch
            finally:
                if not finished:  # stopped early (LIMIT, an error): let it clean up
                    call_in_loop(engine, _close_async_rows, made)
            return
        if inspect.isawaitable(made):
            made = call_in_loop(engine, _await_rows, made)
        yield from made

    rows.__signature__ = inspect.signature(function)  # type: ignore[attr-defined]
    return rows


class TableFunctionMethods(CoreFront):
    async def create_module(
        self,
        name: str,
        datasource: Any,
        *,
        use_bestindex_object: bool = False,
        use_no_change: bool = False,
        iVersion: int = 1,
        eponymous: bool = False,
        eponymous_only: bool = False,
        read_only: bool = False,
    ) -> None:
        """Register a virtual table module (APSW's ``VTModule`` protocol).

        Any method of the module, its tables and their cursors may be
        ``async def``; None unregisters the module.
        """
        require_str(name)
        wrapped = None if datasource is None else wrap_module(self._core.engine, datasource)
        if datasource is not None:
            self._core.engine.keep_in_worker()  # its methods run as queries read the table
        await self._core.call(
            apsw.Connection.create_module,
            name,
            wrapped,
            use_bestindex_object=use_bestindex_object,
            use_no_change=use_no_change,
            iVersion=iVersion,
            eponymous=eponymous,
            eponymous_only=eponymous_only,
            read_only=read_only,
        )

    async def create_table_function(
        self,
        name: str,
        function: Callable[..., Iterable[Any]] | Callable[..., Any],
        *,
        columns: Sequence[str],
        column_access: apsw.ext.VTColumnAccess | None = None,
        primary_key: int | None = None,
        eponymous_only: bool = False,
        repr_invalid: bool = False,
    ) -> None:
        """Make ``function`` a read-only table called ``name``.

        ``function`` may be a generator, an async generator, or a (sync or
        async) function returning an iterable of rows; each row has one value
        per name in ``columns`` (a tuple, or a dict / object with
        ``column_access`` ``By_Name`` / ``By_Attr``; the default, ``None``, is
        ``apsw.ext.VTColumnAccess.By_Index``). Its parameters become
        hidden columns: pass them positionally, ``SELECT * FROM name(1, 2)``,
        or by ``WHERE param = value``. Without ``eponymous_only`` you may also
        ``CREATE VIRTUAL TABLE x USING name(...)``.

        >>> import asyncio, aiolite
        >>> async def countdown(start):
        ...     for n in range(start, 0, -1):
        ...         await asyncio.sleep(0)         # any async source of rows
        ...         yield (n, "*" * n)
        >>> async def main():
        ...     async with aiolite.connect(":memory:") as db:
        ...         await db.create_table_function("countdown", countdown, columns=("n", "bar"))
        ...         return [row async for row in db.execute("SELECT * FROM countdown(3)")]
        >>> asyncio.run(main())
        [(3, '***'), (2, '**'), (1, '*')]
        """
        require_str(name)
        if not callable(function):
            raise TypeError(f"function must be callable, not {type(function).__name__}")
        if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
            raise TypeError("columns must be a sequence of column names (str)")
        if not columns:
            raise ValueError("a table function needs at least one column")
        import apsw.ext  # here, not at import: apsw.ext is slow to load (see tracing.py)

        if column_access is None:
            column_access = apsw.ext.VTColumnAccess.By_Index
        if not isinstance(column_access, apsw.ext.VTColumnAccess):
            raise TypeError("column_access must be an apsw.ext.VTColumnAccess")
        rows = _sync_rows(self._core.engine, function)
        rows.columns = tuple(columns)  # type: ignore[attr-defined]
        rows.column_access = column_access  # type: ignore[attr-defined]
        if primary_key is not None:
            rows.primary_key = primary_key  # type: ignore[attr-defined]
        await self._core.call(
            _make_virtual_module,
            name,
            rows,
            eponymous_only=eponymous_only,
            repr_invalid=repr_invalid,
        )


def _make_virtual_module(
    conn: apsw.Connection,
    name: str,
    rows: Any,
    *,
    eponymous_only: bool,
    repr_invalid: bool,
) -> None:
    import apsw.ext

    apsw.ext.make_virtual_module(
        conn, name, rows, eponymous=True, eponymous_only=eponymous_only, repr_invalid=repr_invalid
    )
