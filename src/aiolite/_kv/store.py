"""Layer 5: a persistent async dict on the pool, AsyncNanaSQLite-compatible.

Keys are ``str``; values are JSON values or ``bytes`` and come back exactly
as they were given (see :mod:`aiolite._kv.codec`). Writes go through the
pool's writer, so concurrent ``set`` calls are group-committed; reads run on
the readers. Every write has returned only after the commit that holds it.

The optional cache is write-through: it is updated after each commit, in
commit order, and filled by reads. Use it only when this KV object is the
only writer of its table (another process's writes would not reach it);
``bulk_load=True`` fills it with the whole table at open.

Durability: ``synchronous="NORMAL"`` by default (AsyncNanaSQLite's setting,
where this store is measured against it): a write that returned survives the
process being killed, and the file stays intact through a power cut, but the
last writes before one may be lost. ``synchronous="FULL"`` (the pool's
default) keeps those too, at an fsync per commit, and sends every write
through the pool's writer (inline writes never fsync on the loop thread).

AsyncNanaSQLite's names work as aliases (``aget``, ``aset``, ...) and its
options are accepted and mapped: ``read_pool_size`` is ``readers``;
``max_workers`` (its thread count) caps the threads aiolite starts, one
writer plus ``max_workers - 1`` readers; ``lock_timeout`` is
``acquire_timeout``; ``bulk_load`` loads everything into the cache.

Large values (stored form over :data:`~aiolite._kv.codec.LARGE`, 32 KiB)
never hold the event loop: they are read, encoded and decoded in a pool
worker thread and written through the pool's writer, never inline (see
:mod:`aiolite._kv.offload`). The cache keeps them in their stored form,
as it does every mutable value, and decodes them in a worker thread on each
``get``: a decoded JSON tree takes several times the memory of its text.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Generator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Self, overload

from typing_extensions import TypeVar

from .. import _logging
from .._apsw import AsyncOnly, database_name
from .._errors import ConnectionClosedError
from .._pool import Pool, Synchronous, WriteResult, core_of_pool, open_pool
from . import offload
from .cache import Cache, Hook
from .codec import LARGE, Codec, check_key
from .inline_policy import InlinePolicy
from .inline_writes import Fallback, InlineAccess
from .table_helpers import create_table_sql, identifier, insert_sql, query_sql

if TYPE_CHECKING:
    from types import TracebackType

_ITERATION_PAGE = 500


def _plain_file(path: str) -> bool:
    """Inline writes open the file by name on a connection of their own: not a URI or memory."""
    return path not in ("", ":memory:") and not path.startswith("file:")


V = TypeVar("V", default=Any)
"""The type of the values a store holds; ``Any`` unless you say (``aiolite.KV[Profile](path)``)."""
D = TypeVar("D")


class KV(AsyncOnly, Generic[V]):
    """A persistent dict of ``str`` keys to JSON values or ``bytes``, used with ``await``.

    >>> import asyncio, aiolite, tempfile, os
    >>> async def main(path):
    ...     async with aiolite.KV(path) as kv:
    ...         await kv.set("user_1", {"name": "Alice", "age": 25})
    ...         await kv.update({"n": 2**70, "raw": b"\\x00\\xff"})
    ...         return await kv.get("user_1"), await kv.get("n"), await kv.aget("raw")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     asyncio.run(main(os.path.join(folder, "app.db")))
    ({'name': 'Alice', 'age': 25}, 1180591620717411303424, b'\\x00\\xff')
    """

    def __init__(
        self,
        database: str | os.PathLike[str],
        table: str = "data",
        *,
        readers: int | None = None,
        cache: bool | int = False,
        bulk_load: bool = False,
        acquire_timeout: float | None = 30.0,
        synchronous: Synchronous = "NORMAL",
        codec: str | None = None,
        inline: bool = True,
        max_workers: int | None = None,
        read_pool_size: int | None = None,
        lock_timeout: float | None = None,
        **ignored: Any,
    ) -> None:
        self._quoted = identifier(table, "table")
        path = database_name(database)
        if readers is None:
            readers = read_pool_size if read_pool_size is not None else 4
            if max_workers is not None:
                if not isinstance(max_workers, int) or max_workers < 1:
                    raise ValueError(f"max_workers must be an int >= 1, not {max_workers!r}")
                readers = min(readers, max_workers - 1)
        if lock_timeout is not None:
            acquire_timeout = lock_timeout
        self.table = table
        self.path = path
        self.codec = Codec(codec)
        self.ignored_options = dict(ignored)
        """AsyncNanaSQLite options accepted for compatibility that have no effect here."""
        self._opener = open_pool(
            self.path, readers=readers, acquire_timeout=acquire_timeout, synchronous=synchronous
        )
        if cache is True or bulk_load:
            limit: int | None = None if cache is True or cache is False else int(cache)
            self._cache: Cache | None = Cache(limit)
        elif cache is False:
            self._cache = None
        elif isinstance(cache, int) and cache > 0:
            self._cache = Cache(cache)
        else:
            raise ValueError(f"cache must be True, False or a positive int, not {cache!r}")
        self._bulk_load = bulk_load
        self._pool: Pool[tuple[Any, ...]] | None = None
        self._synchronous = str(synchronous).upper()
        self._want_inline = inline and _plain_file(self.path)
        self._inline: InlinePolicy | None = None
        self.inline_writes = 0
        """Writes committed on the event-loop thread."""
        self._closed = False
        q = self._quoted
        # The value only when it is small; a large one is left in the table
        # (octet_length reads only the record header) and read in a worker.
        self._sql_get = (
            f"SELECT CASE WHEN octet_length(value) <= {LARGE} THEN value END, "
            f"octet_length(value) FROM {q} WHERE key = ?"
        )
        self._sql_get_large = f"SELECT value FROM {q} WHERE key = ?"
        self._sql_set = (
            f"INSERT INTO {q}(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value"
        )
        self._sql_delete = f"DELETE FROM {q} WHERE key = ?"

    # ----------------------------------------------------------------- opening

    async def open(self) -> Self:
        """Open the pool and create the table if needed (``async with`` does this).

        A store is opened once: after ``close()`` this raises
        ``ConnectionClosedError`` (make a new ``KV`` to open the file again).
        """
        if self._closed:
            raise ConnectionClosedError("the KV store is closed")
        if self._pool is not None:
            return self
        pool = await self._opener
        try:
            await pool.execute(
                f"CREATE TABLE IF NOT EXISTS {self._quoted} (key TEXT PRIMARY KEY, value TEXT)"
            )
            if self._bulk_load and self._cache is not None:
                cache = self._cache
                sql = f"SELECT key, value FROM {self._quoted}"
                for key, stored, value in await offload.in_worker(
                    pool, offload.read_all, sql, self.codec
                ):
                    cache.store(key, stored, value)
            if self._want_inline:
                access = InlineAccess(
                    pool.path,
                    self._sql_set,
                    self._sql_delete,
                    self._synchronous,
                    pool.request_checkpoint,
                )
                self._inline = InlinePolicy(access, core_of_pool(pool))
        except BaseException:
            await pool.close()
            raise
        self._pool = pool
        return self

    def __await__(self) -> Generator[Any, None, Self]:
        return self.open().__await__()

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the pool (waiting a bounded time for writes in flight). Idempotent.

        From then on every call raises ``ConnectionClosedError``, cached
        reads included: the cache is dropped with the store.
        """
        self._closed = True
        cache, self._cache = self._cache, None  # reads now go to the closed pool, which refuses
        if cache is not None:
            cache.clear()
        pool = self._pool
        inline, self._inline = self._inline, None
        if inline is not None:
            inline.access.close()
        if pool is not None:
            await pool.close()

    aclose = close

    @property
    def pool(self) -> Pool[tuple[Any, ...]]:
        """The pool underneath, for SQL of your own on the same database."""
        if self._pool is None:
            raise RuntimeError("the KV store is not open: use 'async with aiolite.KV(...)'")
        return self._pool

    # ------------------------------------------------------------------- reads

    @overload
    async def get(self, key: str) -> V | None: ...
    @overload
    async def get(self, key: str, default: D) -> V | D: ...
    async def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` when it is missing."""
        if type(key) is not str or not key.isascii():
            check_key(key)
        cache = self._cache
        if cache is not None:
            entry = cache.data.get(key)  # the hot path of a cached read, kept flat
            if entry is not None:
                if cache.limit is not None:
                    cache.data.move_to_end(key)
                if not entry[0]:
                    return entry[1]
                if len(entry[1]) <= LARGE:
                    return self.codec.decode(entry[1])
                return await offload.in_worker(self.pool, offload.decode, self.codec, entry[1])
            generation = cache.generation
        pool = self.pool
        row = await pool.fetchone(self._sql_get, (key,))
        if row is None:
            return default
        stored, size = row
        if size is not None and size > LARGE:  # left in the table: read it in a worker
            found, stored, value = await offload.in_worker(
                pool, offload.read_one, self._sql_get_large, key, self.codec
            )
            if not found:  # deleted in between
                return default
        else:
            value = self.codec.decode(stored)
        if cache is not None and cache.generation == generation and not pool.holds_writer():
            cache.store(key, stored, value)
        return value

    async def contains(self, key: str) -> bool:
        """True if ``key`` is stored."""
        check_key(key)
        if self._cache is not None and self._cache.has(key):
            return True
        return (
            await self.pool.fetchone(f"SELECT 1 FROM {self._quoted} WHERE key = ?", (key,))
            is not None
        )

    async def len(self) -> int:
        """How many keys are stored."""
        count: int = await self.pool.fetchval(f"SELECT count(*) FROM {self._quoted}")
        return count

    async def keys(self) -> list[str]:
        """Every key, in key order."""
        return [
            key
            for (key,) in await self.pool.fetchall(f"SELECT key FROM {self._quoted} ORDER BY key")
        ]

    async def values(self) -> list[V]:
        """Every value, in key order (read and decoded in a worker thread: it may be a lot)."""
        return [value for _, _, value in await self._read_all()]

    async def items(self) -> list[tuple[str, V]]:
        """Every ``(key, value)``, in key order (read and decoded in a worker thread)."""
        return [(key, value) for key, _, value in await self._read_all()]

    async def _read_all(self) -> list[tuple[Any, Any, Any]]:
        sql = f"SELECT key, value FROM {self._quoted} ORDER BY key"
        return await offload.in_worker(self.pool, offload.read_all, sql, self.codec)

    async def __aiter__(self) -> AsyncIterator[str]:
        """``async for key in kv``: keys in order, read a page at a time."""
        page_sql = f"SELECT key FROM {self._quoted} ORDER BY key LIMIT {_ITERATION_PAGE}"
        # The first page has no lower bound: ``key > ''`` would skip the key "".
        page = await self.pool.fetchall(page_sql)
        page_sql = (
            f"SELECT key FROM {self._quoted} WHERE key > ? ORDER BY key LIMIT {_ITERATION_PAGE}"
        )
        while True:
            for (key,) in page:
                yield key
            if len(page) < _ITERATION_PAGE:
                return
            page = await self.pool.fetchall(page_sql, (page[-1][0],))

    # ------------------------------------------------------------------ writes

    async def set(self, key: str, value: V) -> None:
        """Store ``value`` under ``key``; returns once it is committed."""
        check_key(key)
        stored = self.codec.encode_here(value)
        if stored is None:  # too much work for the loop thread
            stored = await offload.in_worker(self.pool, offload.encode, self.codec, value)
        cache = self._cache
        inline = self._inline
        if inline is not None and len(stored) <= LARGE:  # a large commit is the writer's work
            if inline.streak.expired():
                # Before the write, not after: a cancellation delivered here
                # leaves nothing written, as for any write cancelled before it ran.
                await inline.adapter.checkpoint()
            if inline.allowed():
                try:
                    inline.access.set(key, stored)
                except Fallback:
                    pass
                else:
                    self.inline_writes += 1
                    inline.wrote()
                    if cache is not None:
                        cache.generation += 1
                        cache.store(key, stored, value)
                    return
        if cache is None:
            await self._write(self._sql_set, (key, stored), False, None)
            return
        await self._write(self._sql_set, (key, stored), False, cache.storing(key, stored, value))

    async def delete(self, key: str) -> None:
        """Remove ``key``; ``KeyError`` if it is not stored (like ``del d[key]``)."""
        check_key(key)
        inline = self._inline
        if inline is not None:
            if inline.streak.expired():
                await inline.adapter.checkpoint()  # before the write, as in set()
            if inline.allowed():
                try:
                    changes = inline.access.delete(key)
                except Fallback:
                    pass
                else:
                    self.inline_writes += 1
                    inline.wrote()
                    if self._cache is not None:
                        self._cache.generation += 1
                        self._cache.forget(key)
                    if changes == 0:
                        raise KeyError(key)
                    return
        cache = self._cache
        hook = None if cache is None else cache.forgetting((key,))
        result = await self._write(self._sql_delete, (key,), False, hook)
        if result.changes == 0:
            raise KeyError(key)

    async def update(
        self, items: Mapping[str, V] | Iterable[tuple[str, V]] = (), **more: V
    ) -> None:
        """Store many items in one transaction: all of them, or (on any error) none.

        Values are encoded on the loop thread until they add up to more than
        :data:`~aiolite._kv.codec.LARGE`; the rest are encoded in a worker thread.
        """
        encode_here = self.codec.encode_here
        encoded: list[tuple[str, str | bytes]] = []
        append = encoded.append
        left = LARGE  # what the loop thread may still encode
        pending: list[tuple[str, Any]] = []  # what a worker thread encodes
        for source in (items.items() if isinstance(items, Mapping) else items, more.items()):
            for pair in source:
                if type(pair) is not tuple or len(pair) != 2:
                    raise TypeError(f"update() needs (key, value) pairs, not {pair!r}")
                key, value = pair
                if type(key) is not str or not key.isascii():
                    check_key(key)
                if not pending:
                    stored = encode_here(value) if left >= 0 else None
                    if stored is not None:
                        left -= len(stored)
                        append((key, stored))
                        continue
                pending.append(pair)
        if pending:
            values = [value for _, value in pending]
            stored_values = await offload.in_worker(
                self.pool, offload.encode_all, self.codec, values
            )
            encoded.extend(zip([key for key, _ in pending], stored_values, strict=True))
        if not encoded:
            return
        cache = self._cache
        hook = None if cache is None else cache.storing_many(encoded)
        await self._write(self._sql_set, encoded, True, hook)

    async def delete_many(self, keys: Iterable[str]) -> int:
        """Remove every key in ``keys`` that is stored (missing ones are skipped).

        One transaction; returns how many were removed.
        """
        checked = [check_key(key) for key in keys]
        if not checked:
            return 0
        cache = self._cache
        hook = None if cache is None else cache.forgetting(checked)
        result = await self._write(self._sql_delete, [(key,) for key in checked], True, hook)
        return result.changes

    async def clear(self) -> None:
        """Remove every key."""
        cache = self._cache
        hook = None if cache is None else cache.clearing()
        await self._write(f"DELETE FROM {self._quoted}", None, False, hook)

    async def _write(
        self, sql: str, bindings: Any, many: bool, on_commit: Hook | None
    ) -> WriteResult:
        """A write through the pool; inside a writer block the cache is dropped instead.

        The block may still roll back, so what it wrote must not be cached;
        what the cache held for those keys is no longer right either.
        """
        pool = self.pool
        core = core_of_pool(pool)
        cache = self._cache
        if cache is None or not pool.holds_writer():
            return await core.write(sql, bindings, many, on_commit)
        cache.generation += 1
        try:
            return await core.write(sql, bindings, many, None)
        finally:
            cache.clear()

    # ------------------------------------------------------------ table helpers

    async def create_table(
        self, name: str, columns: Mapping[str, str], if_not_exists: bool = True
    ) -> None:
        """``CREATE TABLE`` with validated, quoted names (see :mod:`aiolite._kv.table_helpers`)."""
        await self.pool.execute(create_table_sql(name, columns, if_not_exists))

    async def sql_insert(self, table: str, row: Mapping[str, Any]) -> int:
        """Insert ``{column: value}`` into ``table``, values bound; returns the new rowid."""
        sql, values = insert_sql(table, row)
        result = await self.pool.execute(sql, values)
        return result.lastrowid

    async def query(
        self,
        table_name: str,
        columns: Sequence[str] | None = None,
        where: str | None = None,
        parameters: Sequence[Any] | Mapping[str, Any] | None = None,
        order_by: str | Iterable[str] | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of ``table_name`` as dicts; ``where`` is SQL with ``?`` placeholders.

        Identifiers are validated and quoted and values bound; ``where`` is
        programmer-written SQL (never user input), refused if it holds ``;``
        or comments, and run on a query-only reader.
        """
        sql, bound = query_sql(table_name, columns, where, parameters, order_by, limit)
        pool = self.pool
        async with pool.reader() as db:
            cursor = await db.execute(sql, bound)
            names = [column[0] for column in cursor.description or ()]
            rows = await cursor.fetchall()
        return [dict(zip(names, row, strict=True)) for row in rows]

    # ------------------------------------------------------ AsyncNanaSQLite names

    aget = get
    aset = set
    adelete = delete
    acontains = contains
    alen = len
    akeys = keys
    avalues = values
    aitems = items
    batch_update = update
    batch_delete = delete_many

    def __del__(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None and not pool.closed:
            _logging.unclosed(_logging.kv, f"KV store on {self.path!r}")

    def __repr__(self) -> str:
        state = "open" if self._pool is not None and not self._pool.closed else "not open"
        return f"<aiolite.KV {self.path!r} table={self.table!r} {state}>"
