"""One async test body, run under every framework aiolite supports.

Each :class:`Framework` runs a coroutine function on its own event loop and
offers the few primitives the shared tests need, each in that framework's
*native* form (``asyncio.timeout``, ``trio.fail_after``, ``anyio.fail_after``;
``asyncio.TaskGroup``, trio nurseries, anyio task groups), so the shared
suite exercises each framework's real cancellation machinery. Running a
test body and sleeping go through :mod:`aiolite._cli.runners`, the runner
the tour and the bench use too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import trio

from aiolite._cli import runners

ALL = runners.FRAMEWORKS
TRIO_BASED = runners.TRIO_BASED


class TaskHandle:
    """A task started by :meth:`TaskGroup.start_soon` that can be cancelled on its own."""

    def __init__(self) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.cancelled = False
        self.finished = False
        self._cancel: Callable[[], Any] | None = None
        self._cancel_requested = False

    def cancel(self) -> None:
        self._cancel_requested = True
        if self._cancel is not None:
            self._cancel()


class TaskGroup:
    """Start tasks; on exit wait for them all (the framework's own task group underneath)."""

    def __init__(self, fw: Framework, group: Any) -> None:
        self._fw = fw
        self._group = group

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> TaskHandle:
        handle = TaskHandle()
        if self._fw.kind == "asyncio":

            async def run_asyncio() -> None:
                try:
                    handle.result = await fn(*args)
                except asyncio.CancelledError:
                    handle.cancelled = True
                    raise
                except Exception as exc:
                    handle.error = exc
                finally:
                    handle.finished = True

            task = self._group.create_task(run_asyncio())
            handle._cancel = task.cancel
        else:
            scope_type = trio.CancelScope if self._fw.name == "trio" else anyio.CancelScope

            async def run_scoped() -> None:
                with scope_type() as scope:
                    handle._cancel = scope.cancel
                    if handle._cancel_requested:
                        scope.cancel()
                    try:
                        handle.result = await fn(*args)
                    except Exception as exc:
                        handle.error = exc
                handle.cancelled = scope.cancelled_caught
                handle.finished = True

            self._group.start_soon(run_scoped)
        return handle

    def start_propagating(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Start a task whose exception fails the whole group, as the framework does."""
        if self._fw.kind == "asyncio":
            self._group.create_task(fn(*args))
        else:
            self._group.start_soon(fn, *args)

    def cancel_all(self) -> None:
        if self._fw.kind == "asyncio":
            for task in list(self._group._tasks):
                task.cancel()
        else:
            self._group.cancel_scope.cancel()


class Framework:
    """How to run, time out, group and cancel under one framework."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.kind = runners.loop_of(name)
        self.anyio = name.startswith("anyio")
        if self.anyio:
            self.timeout_error: type[BaseException] = TimeoutError
        elif self.kind == "trio":
            self.timeout_error = trio.TooSlowError
        else:
            self.timeout_error = TimeoutError
        self.cancelled_error: type[BaseException] = (
            trio.Cancelled if self.kind == "trio" else asyncio.CancelledError
        )

    def __repr__(self) -> str:
        return self.name

    def run(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``fn()`` on a fresh event loop of this framework."""
        return runners.run(self.name, fn)

    async def sleep(self, seconds: float) -> None:
        await runners.sleep(self.name, seconds)

    async def checkpoint(self) -> None:
        await self.sleep(0)

    def now(self) -> float:
        if self.anyio:
            return anyio.current_time()
        if self.kind == "trio":
            return trio.current_time()
        return asyncio.get_running_loop().time()

    @asynccontextmanager
    async def fail_after(self, seconds: float) -> AsyncIterator[None]:
        """The framework's own timeout block; raises ``self.timeout_error``."""
        if self.anyio:
            with anyio.fail_after(seconds):
                yield
        elif self.kind == "trio":
            with trio.fail_after(seconds):
                yield
        else:
            async with asyncio.timeout(seconds):
                yield

    @asynccontextmanager
    async def task_group(self) -> AsyncIterator[TaskGroup]:
        if self.anyio:
            async with anyio.create_task_group() as group:
                yield TaskGroup(self, group)
        elif self.kind == "trio":
            async with trio.open_nursery() as nursery:
                yield TaskGroup(self, nursery)
        else:
            async with asyncio.TaskGroup() as group:
                yield TaskGroup(self, group)

    def event(self) -> Any:
        if self.anyio:
            return anyio.Event()
        if self.kind == "trio":
            return trio.Event()
        return asyncio.Event()


def frameworks(*names: str) -> list[Framework]:
    return [Framework(name) for name in (names or ALL)]
