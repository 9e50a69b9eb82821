"""Shutdown: the program stops with everything open and requests in flight.

Three ways a program stops without closing what it opened (a connection, a
pool, a KV store, streaming cursors; see ``shutdown_scene.Scene``):

(a) its event loop ends: ``asyncio.run``/``trio.run``/``anyio.run`` return
    while requests are in flight (the framework cancels them), or an asyncio
    loop is closed by hand with its tasks still pending (nothing cancels
    them);
(b) Ctrl+C: a real SIGINT arrives while the main task waits on an endless
    query (asyncio's runner turns it into cancelling the main task, trio
    raises ``KeyboardInterrupt`` into it);
(c) the interpreter exits: a subprocess returns from its main module, calls
    ``sys.exit`` or dies of an uncaught exception, with everything open,
    idle or running, its event loop in the main thread or in a daemon one.

Each must end promptly (timed, and bounded), leave no thread running (the
``figures`` fixture), stop every query, and leave a file that passes
``integrity_check`` with every acknowledged write in it and the writer
block's uncommitted row not.
"""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvloop

import aiolite
from tests.conftest import aiolite_threads
from tests.frameworks import Framework
from tests.stress.conftest import Figures, scaled
from tests.stress.shutdown_scene import ENDLESS_QUERY, GUARD, Scene, check_file

ROUNDS = scaled(1, 10)
"""Runs of each scenario on one database file."""
PROMPT_SECONDS = 5.0
"""'Promptly': a stopped program's threads are gone (or it has exited) within this."""
SUBPROCESS_SECONDS = 60.0
"""Bounds a child process that hangs; far above what a prompt exit takes."""
STDERR_NEVER = (
    "Exception in thread",
    "Exception ignored",
    "Event loop is closed",
    "Fatal Python error",
    "Task was destroyed",
)


def _new_workers(before: set[threading.Thread]) -> list[threading.Thread]:
    return [t for t in aiolite_threads() if t not in before and t.is_alive()]


def _wait_threads_gone(before: set[threading.Thread]) -> float:
    """Seconds until every worker started since ``before`` has ended (bounded)."""
    started = time.monotonic()
    while _new_workers(before) and time.monotonic() < started + PROMPT_SECONDS:
        gc.collect()  # as the interpreter does now and then: unclosed objects in cycles
        for thread in _new_workers(before):
            thread.join(0.05)
    left = _new_workers(before)
    assert not left, f"workers still running {PROMPT_SECONDS} s after the objects were dropped"
    return time.monotonic() - started


def _cpu_ticks(thread: threading.Thread) -> int:
    """CPU time (clock ticks) the thread has used, from /proc."""
    stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
    utime, stime = stat.rsplit(")", 1)[1].split()[11:13]
    return int(utime) + int(stime)


def _busy_workers(before: set[threading.Thread]) -> list[str]:
    """Workers that burn CPU over a short window: a query that was not stopped."""
    threads = _new_workers(before)
    if not threads or not Path("/proc/self/task").exists():
        return []
    first = {t: _cpu_ticks(t) for t in threads if t.is_alive()}
    time.sleep(0.3)  # a measurement window, not synchronisation
    return [t.name for t, ticks in first.items() if t.is_alive() and _cpu_ticks(t) - ticks > 10]


@contextmanager
def _resource_warnings() -> Iterator[list[str]]:
    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield messages
    messages += [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


class History:
    """Everything acknowledged on one file over the rounds of a scenario."""

    def __init__(self) -> None:
        self.acknowledged: list[str] = []
        self.kv: dict[str, int] = {}


def _drop_and_check(
    scene: Scene, before: set[threading.Thread], figures: Figures, history: History
) -> tuple[float, list[str]]:
    """Forget everything the scene opened; workers must end and the file be intact.

    Returns the seconds the workers took to end and the ResourceWarnings.
    """
    history.acknowledged += scene.acknowledged
    history.kv.update(scene.kv_acknowledged)
    figures.ops += len(scene.acknowledged) + len(scene.kv_acknowledged) + scene.in_flight
    figures.faults += scene.in_flight
    figures.errors.update(scene.errors)
    with _resource_warnings() as warned:
        scene.drop()
        seconds = _wait_threads_gone(before)
    figures.rows_lost = check_file(scene.path, history.acknowledged, history.kv)
    return seconds, warned


# ------------------------------------------------------- (a) the loop ends first


def test_loop_ends_with_everything_open(fw: Framework, tmp_path: Path, figures: Figures) -> None:
    history = History()
    worst_run = worst_gone = 0.0
    for _ in range(ROUNDS):
        before = set(aiolite_threads())
        scene = Scene(str(tmp_path / "shutdown.db"), fw.kind)
        returned: list[float] = []

        async def main(scene: Scene = scene, returned: list[float] = returned) -> None:
            await scene.open()
            await scene.start_requests()
            returned.append(time.monotonic())  # and return, requests in flight

        fw.run(main)
        run_seconds = time.monotonic() - returned[0]
        assert run_seconds < PROMPT_SECONDS, f"the run took {run_seconds:.2f} s to end"
        busy = _busy_workers(before)
        assert busy == [], f"queries still running after the loop ended: {busy}"
        gone, warned = _drop_and_check(scene, before, figures, history)
        assert any("never closed" in message for message in warned), warned
        worst_run, worst_gone = max(worst_run, run_seconds), max(worst_gone, gone)
    figures.notes = (
        f"{fw.name}, {ROUNDS} run(s) on one file: the run ended <= {worst_run:.2f} s after "
        f"main returned with {scene.in_flight} requests in flight; workers gone "
        f"<= {worst_gone:.2f} s after the drop (ResourceWarning each)"
    )


@pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])
def test_loop_closed_by_hand_with_tasks_pending(
    loop_kind: str, tmp_path: Path, figures: Figures
) -> None:
    """No cancellation at all: the tasks stay pending on a closed loop until dropped."""
    history = History()
    worst_gone = 0.0
    for _ in range(ROUNDS):
        before = set(aiolite_threads())
        scene = Scene(str(tmp_path / "shutdown.db"), "asyncio")
        loop = uvloop.new_event_loop() if loop_kind == "uvloop" else asyncio.new_event_loop()

        async def main(scene: Scene = scene) -> None:
            await scene.open(cursors=False)
            await scene.start_requests()

        loop.run_until_complete(main())
        loop.close()  # by hand: no task is cancelled, no async generator finalized
        # Python logs "Task was destroyed but it is pending!" for each task
        # dropped here; that is asyncio's own report of the program's mistake.
        loop.set_exception_handler(lambda *_: None)
        gone, warned = _drop_and_check(scene, before, figures, history)
        assert any("never closed" in message for message in warned), warned
        worst_gone = max(worst_gone, gone)
    figures.notes = (
        f"{loop_kind} loop closed by hand with {scene.in_flight} requests pending, "
        f"{ROUNDS} run(s) on one file; workers gone <= {worst_gone:.2f} s after the drop "
        "(ResourceWarning each)"
    )


# ------------------------------------------------------------- (b) Ctrl+C


def _send_sigint(started: threading.Event, wake: Callable[[], object]) -> None:
    """A real SIGINT to the main thread once the query runs, then wake its loop.

    The wake-up matters on asyncio: its runner's handler runs only when the
    main thread runs Python code, and the signal may land just before the
    loop goes to sleep (trio writes a wakeup fd, so it needs none).
    """
    if started.wait(GUARD):
        main = threading.main_thread().ident
        assert main is not None
        signal.pthread_kill(main, signal.SIGINT)
        wake()


def _ctrl_c_round(fw: Framework, path: str) -> tuple[Scene, float]:
    """One run interrupted by SIGINT mid-query; the scene and how long the run took to end."""
    scene = Scene(path, fw.kind)
    held: dict[str, Any] = {}

    async def main() -> None:
        await scene.open()
        await scene.start_requests()
        async with aiolite.connect(path) as db:
            held["db"] = db
            started = await scene.mark(db)
            wake: Callable[[], object] = lambda: None  # noqa: E731
            if fw.kind == "asyncio":
                loop = asyncio.get_running_loop()
                wake = lambda: loop.call_soon_threadsafe(lambda: None)  # noqa: E731
            held["sender"] = threading.Thread(target=_send_sigint, args=(started, wake))
            held["sender"].start()
            held["sent"] = time.monotonic()
            await (await db.execute(ENDLESS_QUERY)).get
        held["finished"] = True

    interrupted = False
    try:
        fw.run(main)
    except KeyboardInterrupt:
        interrupted = True
    ended = time.monotonic() - held["sent"]
    held["sender"].join(GUARD)
    assert interrupted, "the run ended without KeyboardInterrupt"
    assert "finished" not in held, "the endless query returned"
    assert ended < PROMPT_SECONDS, f"the run ended {ended:.2f} s after Ctrl+C"
    db = held.pop("db")
    assert db.closed, "async with did not close"
    assert not db._engine.thread.is_alive()
    return scene, ended


def test_ctrl_c_during_a_long_query(fw: Framework, tmp_path: Path, figures: Figures) -> None:
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    history = History()
    worst_end = worst_gone = 0.0
    for _ in range(ROUNDS):
        before = set(aiolite_threads())
        scene, ended = _ctrl_c_round(fw, str(tmp_path / "shutdown.db"))
        busy = _busy_workers(before)
        assert busy == [], f"queries still running after Ctrl+C: {busy}"
        figures.faults += 1
        gone, _ = _drop_and_check(scene, before, figures, history)
        worst_end, worst_gone = max(worst_end, ended), max(worst_gone, gone)
    figures.notes = (
        f"{fw.name}, {ROUNDS} run(s) on one file: KeyboardInterrupt out of the run "
        f"<= {worst_end:.2f} s after SIGINT (+{scene.in_flight} requests in flight); "
        f"workers gone <= {worst_gone:.2f} s after the drop"
    )


# ------------------------------------------------------- (c) interpreter exit

EXPECTED_EXIT = {"return": 0, "exit": 3, "raise": 1}
CHILD = (sys.executable, "-W", "always::ResourceWarning", "-m", "tests.stress.shutdown_child")


def _run_child(framework: str, where: str, how: str, path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [*CHILD, framework, where, how, str(path)],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_SECONDS,
        cwd=Path(__file__).parents[2],
        check=False,
    )
    exited = time.time()
    messages = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    ending = [m["ending"] for m in messages if "ending" in m]
    return {
        "how": how,
        "path": path,
        "done": done,
        "seconds": exited - ending[0] if ending else None,
        "acknowledged": [m["ack"] for m in messages if "ack" in m],
        "kv": {k: v for m in messages if "kv" in m for k, v in [m["kv"]]},
    }


def _check_child(where: str, run: dict[str, Any]) -> None:
    done: subprocess.CompletedProcess[str] = run["done"]
    report = f"{where}/{run['how']}: exit {done.returncode}\nstderr:\n{done.stderr}"
    assert done.returncode == EXPECTED_EXIT[run["how"]], report
    assert run["seconds"] is not None, report
    assert run["seconds"] < PROMPT_SECONDS, report
    for text in STDERR_NEVER:
        assert text not in done.stderr, report
    assert done.stderr.count("Traceback") == (1 if run["how"] == "raise" else 0), report
    if run["how"] == "raise":
        assert "RuntimeError: boom" in done.stderr, report
    # Still open at exit, the objects are closed by aiolite's exit handler,
    # not collected: no ResourceWarning (that is for dropped connections).
    assert "ResourceWarning" not in done.stderr, report


def _child_rounds(framework: str, where: str, how: str, path: Path) -> list[dict[str, Any]]:
    """ROUNDS processes in turn on one file, each ending the same way."""
    return [_run_child(framework, where, how, path) for _ in range(ROUNDS)]


@pytest.mark.parametrize("where", ["idle", "running", "loop-thread"])
@pytest.mark.parametrize("framework", ["asyncio", "trio"])
def test_interpreter_exit_with_everything_open(
    framework: str, where: str, tmp_path: Path, figures: Figures
) -> None:
    hows = list(EXPECTED_EXIT)
    with ThreadPoolExecutor(len(hows)) as pool:
        chains = list(
            pool.map(lambda how: _child_rounds(framework, where, how, tmp_path / f"{how}.db"), hows)
        )
    lost = 0
    timings = []
    for how, runs in zip(hows, chains, strict=True):
        history = History()
        for run in runs:
            _check_child(where, run)
            history.acknowledged += run["acknowledged"]
            history.kv.update(run["kv"])
            figures.ops += len(run["acknowledged"]) + len(run["kv"])
            figures.faults += 1
        lost += check_file(str(runs[0]["path"]), history.acknowledged, history.kv)
        worst = max(run["seconds"] for run in runs)
        timings.append(f"{how} -> {EXPECTED_EXIT[how]} in <= {worst:.2f} s")
    figures.rows_lost = lost
    figures.notes = (
        f"{framework}, {where}, {ROUNDS} processes per ending on one file: "
        + ", ".join(timings)
        + " (end to exit)"
    )
