"""What a program leaves behind when it stops: everything open, requests in flight.

Shared by the in-process shutdown scenarios and ``shutdown_child.py``. A
:class:`Scene` opens a connection, a pool and a KV store on one file, makes
acknowledged writes through each, leaves streaming cursors open part way,
and can start requests that are still running when the program ends:

* an endless query on the connection,
* a ``pool.writer()`` block that has inserted a row and runs an endless
  query (its row must never be committed),
* plain ``pool.execute`` writes queued behind that block,
* an endless ``pool.fetchall`` on a reader,
* a ``pool.reader()`` block streaming endless rows,
* a task setting KV keys in a loop, and one writing through the pool in a
  loop (each write recorded once it returned).

Tasks are started the way each framework lets them outlive ``main``:
``loop.create_task`` on asyncio (``asyncio.run`` cancels them at the end),
``trio.lowlevel.spawn_system_task`` on trio (cancelled when ``main``
returns); under anyio the underlying framework's way.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import apsw

import aiolite
from aiolite._cli.endless import ENDLESS_QUERY as UNMARKED_ENDLESS_QUERY
from aiolite._cli.endless import ENDLESS_ROWS

ENDLESS_QUERY = UNMARKED_ENDLESS_QUERY.replace("SELECT 1", "SELECT started_mark()", 1)
"""Counts for ever; its first step calls ``started_mark()``, so we know it runs in SQLite."""
UNCOMMITTED = "never committed"
WRITES = 20
GUARD = 15.0


class Scene:
    """A connection, a pool and a KV store on ``path``, with a record of what was acknowledged."""

    def __init__(
        self, path: str, kind: str, on_ack: Callable[[str, Any], None] | None = None
    ) -> None:
        self.path = path
        self.kind = kind  # "asyncio" or "trio": how to start tasks that outlive main
        self.on_ack = on_ack
        self.acknowledged: list[str] = []
        """Values of ``t.x`` whose write returned."""
        self.kv_acknowledged: dict[str, int] = {}
        self.errors: collections.Counter[str] = collections.Counter()
        """Exceptions the in-flight tasks saw, by type (their cancellation excluded)."""
        self.started: list[threading.Event] = []
        self.in_flight = 0
        self.kept: list[Any] = []
        """Everything opened; clear it (and collect) to drop the objects unclosed."""
        self._tasks: set[Any] = set()

    def ack(self, value: str) -> None:
        self.acknowledged.append(value)
        if self.on_ack is not None:
            self.on_ack("ack", value)

    def ack_kv(self, key: str, value: int) -> None:
        self.kv_acknowledged[key] = value
        if self.on_ack is not None:
            self.on_ack("kv", [key, value])

    async def open(self, cursors: bool = True) -> None:
        """Open everything, write and acknowledge, and leave idle streaming cursors part read.

        ``cursors=False`` leaves out the KV's key iterator, an async
        generator: a loop closed by hand never finalizes those (Python then
        reports the generator, whatever the library does).
        """
        self.pool = await aiolite.open_pool(self.path, readers=2)
        self.kv = await aiolite.KV(self.path, table="kv", readers=1)
        self.db = await aiolite.connect(self.path)
        self.kept += [self.pool, self.kv, self.db]
        await self.pool.execute("CREATE TABLE IF NOT EXISTS t(x TEXT)")
        for i in range(WRITES):
            await self.pool.execute("INSERT INTO t VALUES (?)", (f"pool {i}",))
            self.ack(f"pool {i}")
            await self.db.execute("INSERT INTO t VALUES (?)", (f"db {i}",))
            self.ack(f"db {i}")
            await self.kv.set(f"key {i}", i)
            self.ack_kv(f"key {i}", i)
        async with self.pool.writer() as w:
            await w.executemany("INSERT INTO t VALUES (?)", [(f"block {i}",) for i in range(5)])
        for i in range(5):
            self.ack(f"block {i}")
        cursor = await self.db.execute(ENDLESS_ROWS)  # idle, a batch read ahead
        assert await cursor.fetchone() == (1,)
        self.kept.append(cursor)
        if cursors:
            keys = aiter(self.kv)
            assert await anext(keys) == "key 0"
            self.kept.append(keys)

    async def start_requests(self) -> None:
        """Start the requests that will still be in flight when the program ends."""
        db_mark = await self.mark(self.db)
        self._spawn(self._query, self.db, ENDLESS_QUERY)
        writer_mark = threading.Event()
        self._spawn(self._writer_block, writer_mark)
        await self.wait(writer_mark)  # the block holds the writer: these writes queue behind it
        for i in range(3):
            self._spawn(self._pool_write, f"queued {i}")
        self._spawn(self._pool_read)
        streaming = threading.Event()
        self._spawn(self._reader_stream, streaming)
        self._spawn(self._kv_loop)
        await self.wait(db_mark)
        await self.wait(streaming)

    def drop(self) -> None:
        """Forget everything opened (unclosed) and the tasks, as a program that moves on."""
        self.kept.clear()
        self._tasks.clear()
        del self.pool, self.kv, self.db

    # ---------------------------------------------------------- in-flight tasks

    async def _query(self, db: aiolite.Connection[Any], sql: str) -> None:
        await (await db.execute(sql)).get

    async def _writer_block(self, started: threading.Event) -> None:
        async with self.pool.writer() as w:
            await w.execute("INSERT INTO t VALUES (?)", (UNCOMMITTED,))
            await w.run(lambda conn: conn.create_scalar_function("started_mark", mark(started), 0))
            await self._query(w, ENDLESS_QUERY)

    async def _pool_write(self, value: str) -> None:
        await self.pool.execute("INSERT INTO t VALUES (?)", (value,))
        self.ack(value)

    async def _pool_read(self) -> None:
        await self.pool.fetchall(UNMARKED_ENDLESS_QUERY)

    async def _reader_stream(self, streaming: threading.Event) -> None:
        async with self.pool.reader() as r:
            async for _ in r.execute(ENDLESS_ROWS):
                streaming.set()
                await self.sleep(0.001)  # a consumer that takes its time over each row

    async def _kv_loop(self) -> None:
        i = WRITES
        while True:
            await self.kv.set(f"key {i}", i)
            self.ack_kv(f"key {i}", i)
            i += 1

    # ------------------------------------------------------------------ helpers

    async def mark(self, db: aiolite.Connection[Any]) -> threading.Event:
        """Register ``started_mark()`` on ``db``; the event is set when SQLite first calls it."""
        started = threading.Event()
        await db.run(lambda conn: conn.create_scalar_function("started_mark", mark(started), 0))
        return started

    async def wait(self, event: threading.Event) -> None:
        """Poll (bounded) until a worker thread has set ``event``."""
        deadline = time.monotonic() + GUARD
        while not event.is_set():
            assert time.monotonic() < deadline, "an in-flight request never started"
            await self.sleep(0.001)
        self.started.append(event)

    async def sleep(self, seconds: float) -> None:
        if self.kind == "trio":
            import trio

            await trio.sleep(seconds)
        else:
            await asyncio.sleep(seconds)

    def _spawn(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        self.in_flight += 1

        async def run() -> None:
            try:
                await fn(*args)
            except Exception as exc:  # the framework's cancellation is not an Exception
                self.errors[type(exc).__name__] += 1

        if self.kind == "trio":
            import trio

            trio.lowlevel.spawn_system_task(run)
        else:
            task = asyncio.get_running_loop().create_task(run())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)


def mark(event: threading.Event) -> Callable[[], int]:
    def started_mark() -> int:
        event.set()
        return 1

    return started_mark


def check_file(path: str, acknowledged: list[str], kv_acknowledged: dict[str, int]) -> int:
    """Integrity, and how many acknowledged writes are missing (plain APSW, a fresh view).

    Also: the writer block's row was never committed, and no lock is left
    on the file (an exclusive transaction starts without waiting).
    """
    conn = apsw.Connection(path)
    try:
        integrity = conn.pragma("integrity_check")
        assert integrity == "ok", integrity
        stored = {x for (x,) in conn.execute("SELECT x FROM t")}
        assert UNCOMMITTED not in stored, "the writer block's row was committed"
        kv = dict(conn.execute("SELECT key, value FROM kv").fetchall())
        missing = [x for x in acknowledged if x not in stored]
        missing += [k for k, v in kv_acknowledged.items() if kv.get(k) != str(v)]
        conn.execute("BEGIN EXCLUSIVE; INSERT INTO t VALUES ('afterwards'); COMMIT")
        return len(missing)
    finally:
        conn.close()
