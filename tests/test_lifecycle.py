"""A connection's life: opening, closing, dropping, and the process around it.

Every connection owns one worker thread. These tests pin that the thread
always ends (after close, aclose, stop, garbage collection, a cancelled
connect, interpreter exit), that a closed connection refuses everything with
``ConnectionClosedError``, that a connection refuses loops other than its own
with ``WrongEventLoopError``, and that no event loop ending first, no Ctrl+C
and no interpreter exit can make the worker hang the process or print errors.
Where the process itself is the subject, the scenario runs in a real
subprocess of ``sys.executable``.
"""

from __future__ import annotations

import asyncio
import gc
import os
import select
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import apsw
import pytest
import trio
import uvloop

import aiolite
from tests.conftest import aiolite_threads, join_aiolite_threads
from tests.frameworks import Framework, TaskHandle
from tests.helpers import ENDLESS_QUERY, db_path

T = TypeVar("T")

CYCLES = 1_000
JOIN_SECONDS = 10.0
PROMPT_CLOSE_SECONDS = 3.0  # "promptly": far below any timeout it is compared with
SUBPROCESS_SECONDS = 10.0

# ENDLESS_QUERY, but its first step calls started_mark() in the worker, so the
# caller can tell the query really is running inside SQLite.
MARKED_ENDLESS_QUERY = ENDLESS_QUERY.replace("SELECT 1 UNION", "SELECT started_mark() UNION", 1)
assert MARKED_ENDLESS_QUERY != ENDLESS_QUERY

# What must never appear on a subprocess's stderr (a ResourceWarning line may).
STDERR_NEVER = (
    "Traceback",
    "Exception in thread",
    "Exception ignored",
    "Event loop is closed",
    "RunFinishedError",
    "Fatal Python error",
)


# --------------------------------------------------------------------- helpers


def _new_workers(before: set[threading.Thread]) -> list[threading.Thread]:
    return [thread for thread in aiolite_threads() if thread not in before]


def _resource_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


async def _in_thread(fw: Framework, fn: Callable[[], T]) -> T:
    """Run blocking ``fn`` in a helper thread, the framework's own way."""
    if fw.kind == "trio":
        return await trio.to_thread.run_sync(fn)
    return await asyncio.to_thread(fn)


async def _install_mark(db: aiolite.Connection[Any]) -> threading.Event:
    """Register started_mark() on ``db``; the event is set when SQLite first calls it."""
    started = threading.Event()

    def mark(*_: Any) -> int:
        started.set()
        return 1

    await db.run(lambda conn: conn.create_scalar_function("started_mark", mark, 0))
    return started


async def _wait_running(fw: Framework, started: threading.Event) -> None:
    assert await _in_thread(fw, lambda: started.wait(JOIN_SECONDS)), "the query never started"


async def _value(db: aiolite.Connection[Any], sql: str) -> Any:
    return await (await db.execute(sql)).get


def _drop(held: list[Any]) -> None:
    """Forget the only references to ``held``'s items, and collect."""
    held.clear()
    gc.collect()


def _report(done: subprocess.CompletedProcess[str], seconds: float) -> str:
    return (
        f"exit {done.returncode} after {seconds:.2f} s\n"
        f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    )


def _error_of(fn: Callable[[], object]) -> BaseException | None:
    try:
        fn()
    except Exception as exc:
        return exc
    return None


def _check_file(path: str) -> list[Any]:
    """Open ``path`` with plain APSW: integrity must be ok; returns table t's rows."""
    conn = apsw.Connection(path)
    try:
        assert conn.pragma("integrity_check") == "ok"
        return [row[0] for row in conn.execute("SELECT x FROM t ORDER BY rowid")]
    finally:
        conn.close()


async def _assert_file_writable(path: str) -> None:
    """No lock is left on ``path``: an exclusive write succeeds without waiting."""
    async with aiolite.connect(path, busy_timeout=None) as db:
        async with db.transaction("exclusive"):
            await db.execute("CREATE TABLE IF NOT EXISTS t(x)")
            await db.execute("INSERT INTO t VALUES ('after')")
        assert await _value(db, "SELECT count(*) FROM t WHERE x = 'after'") == 1
        assert await db.pragma("integrity_check") == "ok"


def _run_script(
    tmp_path: Path, source: str, *args: str, python_options: tuple[str, ...] = ()
) -> tuple[subprocess.CompletedProcess[str], float]:
    script = tmp_path / "script.py"
    script.write_text(source)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, *python_options, str(script), *args],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_SECONDS,
        check=False,
    )
    return done, time.monotonic() - started


def _assert_quiet_stderr(stderr: str) -> None:
    for text in STDERR_NEVER:
        assert text not in stderr, f"{text!r} on the subprocess's stderr:\n{stderr}"


# ------------------------------------------------- 1. thread count over cycles


@pytest.mark.parametrize("style", ["await-close", "async-with"])
async def test_thread_count_returns_to_baseline_after_open_close_cycles(
    fw: Framework, style: str
) -> None:
    workers_before = len(aiolite_threads())
    threads_before = threading.active_count()
    peak = 0
    for _ in range(CYCLES):
        if style == "await-close":
            db = await aiolite.connect(":memory:")
            peak = max(peak, len(aiolite_threads()))
            await db.close()
        else:
            async with aiolite.connect(":memory:") as db:
                peak = max(peak, len(aiolite_threads()))
        assert db.closed
    workers_after = len(aiolite_threads())
    threads_after = threading.active_count()
    figures = (
        f"{fw.name}: {CYCLES} {style} cycles: aiolite workers {workers_before} before, "
        f"{peak} at most while open, {workers_after} after; all threads {threads_before} "
        f"before, {threads_after} after"
    )
    print(figures)
    assert peak == workers_before + 1, figures
    assert workers_after == workers_before, figures
    assert threads_after == threads_before, figures


# --------------------------------------------- 2. connections dropped unclosed


async def test_dropped_connections_warn_and_their_threads_end(fw: Framework) -> None:
    before = set(aiolite_threads())
    connections = [await aiolite.connect(":memory:") for _ in range(5)]
    for db in connections:
        assert await _value(db, "SELECT 1") == 1
    del db
    workers = _new_workers(before)
    assert len(workers) == 5
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del connections
        gc.collect()
    messages = _resource_warnings(caught)
    assert len(messages) == 5, messages
    assert all("never closed" in message for message in messages), messages
    for thread in workers:
        thread.join(JOIN_SECONDS)
    alive = [thread.name for thread in workers if thread.is_alive()]
    assert not alive, f"workers of dropped connections still running: {alive}"
    assert set(aiolite_threads()) == before


async def test_dropped_connection_releases_its_write_lock(fw: Framework, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    async with aiolite.connect(path) as db:
        await db.execute("CREATE TABLE t(x); INSERT INTO t VALUES ('committed')")
    before = set(aiolite_threads())
    held = [await aiolite.connect(path)]
    await held[0].execute("BEGIN IMMEDIATE; INSERT INTO t VALUES ('never committed')")
    (worker,) = _new_workers(before)
    with pytest.warns(ResourceWarning, match="never closed"):
        _drop(held)
    worker.join(JOIN_SECONDS)
    assert not worker.is_alive()
    await _assert_file_writable(path)
    assert _check_file(path) == ["committed", "after"]


# ----------------------------------------------------- 3. close and afterwards


async def test_close_is_idempotent_and_every_later_call_fails(
    fw: Framework, tmp_path: Path
) -> None:
    assert aiolite.ConnectionClosedError is apsw.ConnectionClosedError
    before = set(aiolite_threads())
    db = await aiolite.connect(db_path(tmp_path))
    (worker,) = _new_workers(before)
    await db.execute("CREATE TABLE t(x)")
    await db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(500)])
    cursor = await db.execute("SELECT x FROM t")  # 500 rows: most are still in SQLite
    assert not db.closed

    await db.close()
    assert db.closed
    assert not worker.is_alive()
    await db.close()
    await db.aclose()
    await db.close()
    assert db.closed

    async def in_transaction() -> None:
        async with db:
            raise AssertionError("a closed connection began a transaction")

    async def iterate() -> None:
        async for _ in db.execute("SELECT 1"):
            raise AssertionError("a closed connection returned a row")

    async def cursor_context() -> None:
        async with db.execute("SELECT 1"):
            raise AssertionError("a closed connection opened a cursor")

    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "execute": lambda: db.execute("SELECT 1"),
        "async for over execute": iterate,
        "async with execute": cursor_context,
        "executemany": lambda: db.executemany("INSERT INTO t VALUES (?)", [(1,)]),
        "run": lambda: db.run(lambda conn: 1),
        "pragma": lambda: db.pragma("user_version"),
        "table_exists": lambda: db.table_exists(None, "t"),
        "async with db": in_transaction,
        "async with db.transaction()": lambda: db.transaction("immediate").__aenter__(),
        "cursor.fetchall of a cursor opened before close": cursor.fetchall,
    }
    for name, call in calls.items():
        with pytest.raises(aiolite.ConnectionClosedError):
            await call()
        assert db.closed, name


async def test_cursor_opened_before_close_serves_no_rows_after_close(fw: Framework) -> None:
    """Rows already buffered are not handed out either: every fetch fails once closed."""
    db = await aiolite.connect(":memory:")
    cursor = await db.execute(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 500) "
        "SELECT x FROM c"
    )
    assert await cursor.fetchone() == (1,)
    await db.close()
    with pytest.raises(aiolite.ConnectionClosedError):
        await cursor.fetchone()
    with pytest.raises(aiolite.ConnectionClosedError):
        await cursor.fetchmany(3)
    with pytest.raises(aiolite.ConnectionClosedError):
        await anext(aiter(cursor))
    with pytest.raises(aiolite.ConnectionClosedError):
        await cursor.fetchall()


async def _close_while_busy(
    fw: Framework, db: aiolite.Connection[Any]
) -> tuple[BaseException | None, list[BaseException | None], float]:
    """Close ``db`` while an endless query runs and two requests wait behind it.

    Returns the running request's error, the queued ones' errors and how long
    close() took.
    """
    started = await _install_mark(db)
    async with fw.fail_after(JOIN_SECONDS), fw.task_group() as group:
        running = group.start_soon(_value, db, MARKED_ENDLESS_QUERY)
        await _wait_running(fw, started)
        queued: list[TaskHandle] = []
        for _ in range(2):
            enqueued = fw.event()

            async def behind_the_query(enqueued: Any = enqueued) -> Any:
                enqueued.set()  # the request below is queued before this task next yields
                return await _value(db, "SELECT 1")

            queued.append(group.start_soon(behind_the_query))
            await enqueued.wait()
        began = time.monotonic()
        await db.close()
        close_seconds = time.monotonic() - began
    assert running.finished
    assert all(handle.finished for handle in queued)
    return running.error, [handle.error for handle in queued], close_seconds


async def test_close_fails_requests_queued_behind_it(fw: Framework) -> None:
    db = await aiolite.connect(":memory:")
    _, queued_errors, close_seconds = await _close_while_busy(fw, db)
    for error in queued_errors:
        assert isinstance(error, aiolite.ConnectionClosedError), repr(error)
    assert close_seconds < PROMPT_CLOSE_SECONDS, f"close() took {close_seconds:.3f} s"
    assert db.closed


@pytest.mark.parametrize("steps", [None, 1_000_000], ids=["default-checks", "rare-checks"])
async def test_close_stops_a_running_query_with_connection_closed_error(
    fw: Framework, tmp_path: Path, steps: int | None
) -> None:
    """The running request fails with ConnectionClosedError, however SQLite noticed the close.

    With rare progress checks, SQLite always notices close()'s interrupt before
    aiolite's progress handler runs; by default, either may come first.
    """
    before = set(aiolite_threads())
    db = await aiolite.connect(db_path(tmp_path), check_progress_steps=steps)
    (worker,) = _new_workers(before)
    running_error, _, close_seconds = await _close_while_busy(fw, db)
    assert close_seconds < PROMPT_CLOSE_SECONDS, f"close() took {close_seconds:.3f} s"
    assert not worker.is_alive()
    assert isinstance(running_error, aiolite.ConnectionClosedError), (
        f"the query running when close() was called failed with {running_error!r}"
    )


async def test_concurrent_close_calls_all_return(fw: Framework) -> None:
    before = set(aiolite_threads())
    db = await aiolite.connect(":memory:")
    (worker,) = _new_workers(before)
    async with fw.fail_after(JOIN_SECONDS), fw.task_group() as group:
        closers = [group.start_soon(db.close), group.start_soon(db.aclose)]
        closers.append(group.start_soon(db.close))
    assert [(c.finished, c.error) for c in closers] == [(True, None)] * 3
    assert db.closed
    assert not worker.is_alive()


# ------------------------------------------------------------------ 4. stop()


async def _open_with_row(path: str) -> aiolite.Connection[Any]:
    db = await aiolite.connect(path)
    await db.execute("CREATE TABLE t(x); INSERT INTO t VALUES ('committed')")
    return db


@pytest.mark.parametrize("framework", ["asyncio", "uvloop", "trio"])
@pytest.mark.parametrize("caller", ["main thread", "plain thread"])
def test_stop_after_the_loop_has_finished(framework: str, caller: str, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    before = set(aiolite_threads())
    db: aiolite.Connection[Any] = Framework(framework).run(partial(_open_with_row, path))
    (worker,) = _new_workers(before)
    assert worker.is_alive()
    assert not db.closed
    if caller == "main thread":
        db.stop()
    else:
        stopper = threading.Thread(target=db.stop)
        stopper.start()
        stopper.join(JOIN_SECONDS)
        assert not stopper.is_alive()
    assert db.closed
    assert not worker.is_alive(), "stop() returned while the worker still ran"
    db.stop()  # idempotent
    assert db.closed
    assert _check_file(path) == ["committed"]
    assert not Path(path + "-wal").exists(), "the database was not closed cleanly"


async def test_stop_from_another_thread_stops_a_running_query(fw: Framework) -> None:
    before = set(aiolite_threads())
    # Rare progress checks: SQLite notices stop()'s interrupt before aiolite's own check,
    # every time (see test_close_stops_a_running_query_with_connection_closed_error).
    db = await aiolite.connect(":memory:", check_progress_steps=1_000_000)
    (worker,) = _new_workers(before)
    started = await _install_mark(db)
    async with fw.fail_after(JOIN_SECONDS), fw.task_group() as group:
        running = group.start_soon(_value, db, MARKED_ENDLESS_QUERY)
        await _wait_running(fw, started)
        await _in_thread(fw, db.stop)
        assert not worker.is_alive()
    assert db.closed
    assert running.finished
    assert isinstance(running.error, aiolite.ConnectionClosedError), repr(running.error)
    with pytest.raises(aiolite.ConnectionClosedError):
        await db.execute("SELECT 1")


# ------------------------------------------------ 5. the loop finishes first

LOOP_CLOSES_FIRST_SCRIPT = """
import asyncio
import gc
import sys
import threading

import aiolite

framework, mode, path, endless = sys.argv[1:5]
started = threading.Event()
release = threading.Event()
kept = {}


def mark():
    started.set()
    return 1


def block(conn):
    started.set()
    release.wait(30)
    return "finished after the event loop ended"


async def request(db):
    if mode == "blocked":
        return await db.run(block)
    return await (await db.execute(endless)).get


async def asyncio_main():
    db = await aiolite.connect(path)
    kept["db"] = db
    await db.run(lambda conn: conn.create_scalar_function("started_mark", mark, 0))
    kept["task"] = asyncio.get_running_loop().create_task(request(db))
    await asyncio.to_thread(started.wait, 10)
    # Return with the request in flight: the run cancels its task and closes the loop.


async def trio_main():
    import trio

    db = await aiolite.connect(path)
    kept["db"] = db
    await db.run(lambda conn: conn.create_scalar_function("started_mark", mark, 0))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(request, db)
        await trio.to_thread.run_sync(started.wait, 10)
        nursery.cancel_scope.cancel()


if framework == "asyncio":
    asyncio.run(asyncio_main())
elif framework == "uvloop":
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(asyncio_main())
else:
    import trio

    trio.run(trio_main)
if not started.is_set():
    sys.exit("the request never started")
print("loop finished", flush=True)
release.set()  # the worker now finishes a request whose loop is gone
kept.clear()  # drop the connection without closing it
gc.collect()
for thread in threading.enumerate():
    if thread.name.startswith("aiolite-"):
        thread.join(10)
print("workers left:", [t.name for t in threading.enumerate() if t.name.startswith("aiolite-")])
"""


@pytest.mark.parametrize("framework", ["asyncio", "uvloop", "trio"])
@pytest.mark.parametrize("mode", ["blocked", "endless"])
def test_a_loop_that_finishes_first_never_breaks_the_worker(
    framework: str, mode: str, tmp_path: Path
) -> None:
    done, seconds = _run_script(
        tmp_path,
        LOOP_CLOSES_FIRST_SCRIPT,
        framework,
        mode,
        db_path(tmp_path),
        MARKED_ENDLESS_QUERY,
        python_options=("-W", "always::ResourceWarning"),
    )
    report = _report(done, seconds)
    assert done.returncode == 0, report
    assert "loop finished" in done.stdout, report
    assert "workers left: []" in done.stdout, report
    _assert_quiet_stderr(done.stderr)
    assert "ResourceWarning" in done.stderr, report
    assert "never closed" in done.stderr, report


# ------------------------------------------- 6. interpreter exit, still open

EXIT_WITH_OPEN_CONNECTION_SCRIPT = """
import asyncio
import sys
import threading

import aiolite

mode, path, endless = sys.argv[1:4]
started = threading.Event()
kept = []


def mark():
    started.set()
    return 1


async def open_and_write():
    db = await aiolite.connect(path)
    kept.append(db)  # never closed: still open when the interpreter exits
    await db.execute("CREATE TABLE t(x)")
    await db.execute("INSERT INTO t VALUES ('committed')")
    return db


async def query_until_exit():
    db = await open_and_write()
    await db.run(lambda conn: conn.create_scalar_function("started_mark", mark, 0))
    await db.execute("BEGIN; INSERT INTO t VALUES ('never committed')")
    try:
        await db.execute(endless)
    except Exception:
        pass  # stopped at interpreter exit; only the process's fate is under test


if mode == "idle-asyncio":
    asyncio.run(open_and_write())
elif mode == "idle-trio":
    import trio

    trio.run(open_and_write)
else:
    # A server-like loop in a daemon thread, with a query running in the worker.
    loop_thread = threading.Thread(target=asyncio.run, args=(query_until_exit(),), daemon=True)
    loop_thread.start()
    if not started.wait(10):
        sys.exit("the query never started")
print("exiting with the connection open", flush=True)
"""


@pytest.mark.parametrize("mode", ["idle-asyncio", "idle-trio", "query-running"])
def test_interpreter_exit_with_a_connection_open_never_hangs(mode: str, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    done, seconds = _run_script(
        tmp_path, EXIT_WITH_OPEN_CONNECTION_SCRIPT, mode, path, MARKED_ENDLESS_QUERY
    )
    report = _report(done, seconds)
    print(f"{mode}: the process exited after {seconds:.2f} s")
    assert done.returncode == 0, report
    assert "exiting with the connection open" in done.stdout, report
    assert seconds < SUBPROCESS_SECONDS, report
    _assert_quiet_stderr(done.stderr)
    assert _check_file(path) == ["committed"]
    assert not Path(path + "-wal").exists(), "the database was not closed cleanly at exit"


# --------------------------------------------------------- 7. Ctrl+C mid-query

CTRL_C_SCRIPT = """
import asyncio
import signal
import sys

# Ctrl+C as in an interactive shell, whatever the parent process ignores.
signal.signal(signal.SIGINT, signal.default_int_handler)

import aiolite

framework, style, path, endless = sys.argv[1:5]
kept = []


def mark():
    print("started", flush=True)  # in the worker: the query is running in SQLite
    return 1


async def work(db):
    await db.execute("CREATE TABLE IF NOT EXISTS t(x)")
    await db.execute("INSERT INTO t VALUES ('before ctrl-c')")
    await db.run(lambda conn: conn.create_scalar_function("started_mark", mark, 0))
    await db.execute(endless)


async def main():
    if style == "async-with":
        async with aiolite.connect(path) as db:
            await work(db)
    else:
        db = await aiolite.connect(path)
        kept.append(db)
        await work(db)


if framework == "trio":
    import trio

    trio.run(main)
else:
    asyncio.run(main())
print("not reached", flush=True)
"""


def _read_until(process: subprocess.Popen[bytes], expected: bytes, timeout: float) -> bytes:
    """Read the child's stdout until ``expected`` appears (or fail after ``timeout``)."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = time.monotonic() + timeout
    seen = b""
    while expected not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {expected!r} from the child within {timeout} s: {seen!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 4096)
            assert chunk, f"the child closed stdout before {expected!r}: {seen!r}"
            seen += chunk
    return seen


def _wait_until_main_thread_sleeps(pid: int, timeout: float) -> None:
    """Wait until the child's main thread is asleep in the kernel (in epoll, where /proc says).

    A Ctrl+C from a person arrives while the loop sleeps. Sent the instant the
    worker prints "started", SIGINT would instead land in the microseconds in
    which the loop thread, having just handed the GIL to the worker, has not
    yet entered epoll_wait(); asyncio.Runner's handler (no wakeup fd) then
    never runs and even a plain asyncio program without aiolite hangs. This
    polls an observable state with a deadline; it does not guess a delay.
    """
    task = Path(f"/proc/{pid}/task/{pid}")
    if not task.exists():
        return  # no /proc: nothing to look at
    deadline = time.monotonic() + timeout
    while True:
        state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
        try:
            wchan = (task / "wchan").read_text().strip()
        except OSError:
            wchan = ""
        if state == "S" and (wchan in ("", "0") or "poll" in wchan):
            return
        assert time.monotonic() < deadline, f"the child's main thread never slept ({state} {wchan})"
        time.sleep(0.001)


@pytest.mark.parametrize("framework", ["asyncio", "trio"])
@pytest.mark.parametrize("style", ["async-with", "left-open"])
def test_ctrl_c_during_a_query_exits_promptly(framework: str, style: str, tmp_path: Path) -> None:
    path = db_path(tmp_path)
    script = tmp_path / "ctrl_c.py"
    script.write_text(CTRL_C_SCRIPT)
    process = subprocess.Popen(
        [sys.executable, str(script), framework, style, path, MARKED_ENDLESS_QUERY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _read_until(process, b"started\n", SUBPROCESS_SECONDS)
        _wait_until_main_thread_sleeps(process.pid, SUBPROCESS_SECONDS)
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=SUBPROCESS_SECONDS)
        exit_seconds = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    stderr = err.decode(errors="replace")
    print(f"{framework}/{style}: exited {exit_seconds:.3f} s after SIGINT")
    report = f"exit {process.returncode} after {exit_seconds:.2f} s\nstderr:\n{stderr}"
    assert exit_seconds < SUBPROCESS_SECONDS, report
    assert process.returncode == -signal.SIGINT, report
    assert "KeyboardInterrupt" in stderr, report
    assert b"not reached" not in out
    assert "Exception in thread" not in stderr, report
    assert "Event loop is closed" not in stderr, report
    assert _check_file(path) == ["before ctrl-c"]


# ------------------------------------------------- 8. a cancelled connect()


@pytest.mark.parametrize("delay", [0, 1e-6])
async def test_connect_cancelled_by_a_timeout_leaks_nothing(
    fw: Framework, tmp_path: Path, delay: float
) -> None:
    path = db_path(tmp_path)
    before = set(aiolite_threads())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(10):
            with pytest.raises(fw.timeout_error):
                async with fw.fail_after(delay):
                    await aiolite.connect(path)
        gc.collect()
    join_aiolite_threads(JOIN_SECONDS)
    leaked = _new_workers(before)
    assert not leaked, f"workers of cancelled connects still running: {leaked}"
    assert not _resource_warnings(caught)
    await _assert_file_writable(path)


async def test_connect_cancelled_while_the_file_is_locked_leaks_nothing(
    fw: Framework, tmp_path: Path
) -> None:
    """Cancelled in the middle of opening: the worker is waiting for another connection's lock."""
    path = db_path(tmp_path)
    holder = apsw.Connection(path)  # rollback journal: its exclusive lock blocks readers
    holder.execute("CREATE TABLE t(x); BEGIN EXCLUSIVE; INSERT INTO t VALUES ('held')")
    before = set(aiolite_threads())
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            began = time.monotonic()
            with pytest.raises(fw.timeout_error):
                await _connect_within(fw, path, 0.2)  # busy_timeout is 5 s
            seconds = time.monotonic() - began
            gc.collect()
        assert seconds < 0.2 + PROMPT_CLOSE_SECONDS, f"connect() ended {seconds:.2f} s in"
        join_aiolite_threads(JOIN_SECONDS)
        leaked = _new_workers(before)
        assert not leaked, f"the worker of the cancelled connect still runs: {leaked}"
        assert not _resource_warnings(caught)
    finally:
        holder.execute("COMMIT")
        holder.close()
    await _assert_file_writable(path)
    assert _check_file(path) == ["held", "after"]


async def _connect_within(fw: Framework, path: str, seconds: float) -> None:
    async with fw.fail_after(seconds):
        await aiolite.connect(path)
    raise AssertionError("connect() succeeded on a database another connection had locked")


async def test_connect_cancelled_in_its_task_leaks_nothing(fw: Framework, tmp_path: Path) -> None:
    """Cancel the opening task as soon as it is created, and after 1..7 checkpoints.

    (test_connect_cancelled_while_the_file_is_locked_leaks_nothing cancels one
    for certain in the middle of the open.)
    """
    path = db_path(tmp_path)
    before = set(aiolite_threads())
    opened: list[aiolite.Connection[Any]] = []

    async def open_it() -> None:
        opened.append(await aiolite.connect(path))

    outcomes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for checkpoints in range(8):
            async with fw.task_group() as group:
                handle = group.start_soon(open_it)
                for _ in range(checkpoints):
                    await fw.checkpoint()
                handle.cancel()
            assert handle.error is None, repr(handle.error)
            outcomes.append("opened" if opened else "cancelled")
            for db in opened:
                await db.close()
            opened.clear()
        gc.collect()
    print(f"{fw.name}: cancelled connect outcomes by checkpoints 0..7: {outcomes}")
    assert outcomes[0] == "cancelled"
    join_aiolite_threads(JOIN_SECONDS)
    leaked = _new_workers(before)
    assert not leaked, f"workers still running after cancelled connects {outcomes}: {leaked}"
    assert not _resource_warnings(caught)
    await _assert_file_writable(path)


# ------------------------------------------------ 9. the wrong event loop


async def _calls_from_elsewhere(
    db: aiolite.Connection[Any], cursor: aiolite.Cursor[Any]
) -> dict[str, BaseException | None]:
    """Try the connection's calls from the current loop; what each raised, by name."""

    async def in_transaction() -> None:
        async with db:
            pass

    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "execute": lambda: db.execute("SELECT count(*) FROM t"),
        "run": lambda: db.run(lambda conn: 1),
        "pragma": lambda: db.pragma("user_version"),
        "async with db": in_transaction,
        "cursor.fetchall": cursor.fetchall,
    }
    outcomes: dict[str, BaseException | None] = {}
    for name, call in calls.items():
        try:
            await call()
            outcomes[name] = None
        except Exception as exc:
            outcomes[name] = exc
    return outcomes


def _assert_refused(where: str, outcomes: dict[str, BaseException | None]) -> None:
    wrong = {
        name: error
        for name, error in outcomes.items()
        if not isinstance(error, aiolite.WrongEventLoopError)
    }
    assert not wrong, f"from {where}, not refused with WrongEventLoopError: {wrong}"


async def _open_for_loop_tests(path: str) -> tuple[aiolite.Connection[Any], aiolite.Cursor[Any]]:
    db = await aiolite.connect(path, prefetch=1)
    await db.execute("CREATE TABLE t(x)")
    await db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(10)])
    cursor = await db.execute("SELECT x FROM t ORDER BY x")
    # Take the rows already fetched, so the cursor's next fetch needs the worker.
    assert [await cursor.fetchone(), await cursor.fetchone()] == [(0,), (1,)]
    return db, cursor


def test_asyncio_connection_refuses_other_loops_and_keeps_working(tmp_path: Path) -> None:
    with asyncio.Runner() as runner:
        db, cursor = runner.run(_open_for_loop_tests(db_path(tmp_path)))
        try:
            _assert_refused("a second asyncio.run", asyncio.run(_calls_from_elsewhere(db, cursor)))
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as other:
                _assert_refused("uvloop", other.run(_calls_from_elsewhere(db, cursor)))
            _assert_refused("trio.run", trio.run(_calls_from_elsewhere, db, cursor))
            from_thread: list[dict[str, BaseException | None]] = []
            thread = threading.Thread(
                target=lambda: from_thread.append(asyncio.run(_calls_from_elsewhere(db, cursor)))
            )
            thread.start()
            thread.join(JOIN_SECONDS)
            assert len(from_thread) == 1
            _assert_refused("a thread with its own loop", from_thread[0])
            assert not db.closed
            assert runner.run(cursor.fetchall()) == [(i,) for i in range(2, 10)]
            assert runner.run(_value(db, "SELECT count(*) FROM t")) == 10
        finally:
            runner.run(db.close())
    assert db.closed


async def test_connection_refuses_other_threads_and_frameworks(
    fw: Framework, tmp_path: Path
) -> None:
    db, cursor = await _open_for_loop_tests(db_path(tmp_path))
    try:

        def elsewhere() -> dict[str, dict[str, BaseException | None]]:
            return {
                "asyncio.run in another thread": asyncio.run(_calls_from_elsewhere(db, cursor)),
                "trio.run in another thread": trio.run(_calls_from_elsewhere, db, cursor),
            }

        for where, outcomes in (await _in_thread(fw, elsewhere)).items():
            _assert_refused(where, outcomes)
        assert not db.closed
        assert await cursor.fetchall() == [(i,) for i in range(2, 10)]
        async with db:
            await db.execute("INSERT INTO t VALUES (10)")
        assert await _value(db, "SELECT count(*) FROM t") == 11
    finally:
        await db.close()


async def test_a_refused_fetch_loses_no_buffered_rows(fw: Framework) -> None:
    """A call refused for the wrong loop changes nothing, not even the cursor's buffer."""
    async with aiolite.connect(":memory:", prefetch=4) as db:
        cursor = await db.execute(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20) "
            "SELECT x FROM c"
        )
        assert await cursor.fetchone() == (1,)  # rows 2..5 are buffered, the rest in SQLite

        def fetch_elsewhere() -> BaseException | None:
            return _error_of(lambda: asyncio.run(cursor.fetchall()))

        error = await _in_thread(fw, fetch_elsewhere)
        assert isinstance(error, aiolite.WrongEventLoopError), repr(error)
        rest = [row[0] for row in await cursor.fetchall()]
        assert rest == list(range(2, 21)), f"rows after the refused fetchall: {rest}"


async def test_close_from_another_event_loop_is_refused(fw: Framework) -> None:
    """Closing from another asyncio loop (in another thread) changes nothing."""
    before = set(aiolite_threads())
    db = await aiolite.connect(":memory:")
    (worker,) = _new_workers(before)
    try:
        error = await _in_thread(fw, lambda: _error_of(lambda: asyncio.run(db.close())))
        assert isinstance(error, aiolite.WrongEventLoopError), repr(error)
        assert not db.closed
        assert await _value(db, "SELECT 1") == 1
    finally:
        await db.close()
    assert not worker.is_alive()


# ------------------------------------- 10. async with closes, whatever happens


async def test_async_with_closes_when_the_body_raises(fw: Framework, tmp_path: Path) -> None:
    before = set(aiolite_threads())
    seen: list[aiolite.Connection[Any]] = []
    workers: list[threading.Thread] = []

    async def body() -> None:
        async with aiolite.connect(db_path(tmp_path)) as db:
            seen.append(db)
            workers.extend(_new_workers(before))
            await db.execute("CREATE TABLE t(x)")
            raise ValueError("body failed")

    with pytest.raises(ValueError, match="body failed"):
        await body()
    assert len(workers) == 1
    (db,) = seen
    assert db.closed
    assert not workers[0].is_alive(), "the worker outlived the 'async with' block"


async def test_async_with_closes_when_a_timeout_cancels_the_body(
    fw: Framework, tmp_path: Path
) -> None:
    before = set(aiolite_threads())
    seen: list[aiolite.Connection[Any]] = []
    workers: list[threading.Thread] = []

    async def body() -> None:
        async with fw.fail_after(0.05), aiolite.connect(db_path(tmp_path)) as db:
            seen.append(db)
            workers.extend(_new_workers(before))
            await db.execute(ENDLESS_QUERY)

    began = time.monotonic()
    with pytest.raises(fw.timeout_error):
        await body()
    seconds = time.monotonic() - began
    assert seconds < PROMPT_CLOSE_SECONDS, f"the block took {seconds:.3f} s to end"
    assert len(workers) == 1
    (db,) = seen
    assert db.closed
    assert not workers[0].is_alive(), "the worker outlived the 'async with' block"


@pytest.mark.parametrize("waiting_in", ["idle", "query"])
async def test_async_with_closes_when_its_task_is_cancelled(
    fw: Framework, tmp_path: Path, waiting_in: str
) -> None:
    before = set(aiolite_threads())
    inside = fw.event()
    seen: list[aiolite.Connection[Any]] = []

    async def body() -> None:
        async with aiolite.connect(db_path(tmp_path)) as db:
            seen.append(db)
            started = await _install_mark(db)
            if waiting_in == "idle":
                inside.set()
                await fw.event().wait()  # never set
            else:
                async with fw.task_group() as queries:
                    queries.start_soon(_value, db, MARKED_ENDLESS_QUERY)
                    await _wait_running(fw, started)
                    inside.set()

    async with fw.fail_after(JOIN_SECONDS), fw.task_group() as group:
        handle = group.start_soon(body)
        await inside.wait()
        workers = _new_workers(before)
        handle.cancel()
    assert handle.cancelled, repr(handle.error)
    assert len(workers) == 1
    (db,) = seen
    assert db.closed
    assert not workers[0].is_alive(), "the worker outlived the cancelled 'async with' block"
