"""The connection's machinery, and the one interface the rest of aiolite uses to reach it.

:class:`aiolite.Connection` is the public front: its methods are named and
typed like ``apsw.Connection``'s. Everything they need lives in one
:class:`ConnectionCore`: the engine (worker thread), the transaction gate
(task isolation) and guard (a transaction stays whole), the inline policy,
the row factory, and the two ways of sending work to the worker (``call``
for any function of the sync connection, ``execute`` for a statement and its
first rows). Cursors, transaction blocks, blobs, sessions, backups, the
pool and the KV store are all given the core; none of them reads a
connection's private attributes. Get it with :func:`core_of`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from time import monotonic, perf_counter, thread_time
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeAlias, TypeVar

import apsw

from .._engine import (
    ABANDONED,
    INLINE_BUDGET_SECONDS,
    LEARN_ROUNDS,
    NOT_NOW,
    InlinePolicy,
    Learning,
)
from .._engine import deadline as deadline_var
from .execution import (
    Execution,
    close_in_worker,
    execute_first_in_worker,
    execute_first_inline,
    execute_in_worker,
    execute_inline,
)
from .guard import TransactionGuard
from .task_gate import TransactionGate
from .transaction import run_atomically

if TYPE_CHECKING:
    from .._engine import Engine
    from .._frameworks import FrameworkAdapter
    from .busy import BusyWaiter
    from .rows import CompiledFactory
    from .statement_log import StatementLog

R = TypeVar("R")
P = ParamSpec("P")

Bindings: TypeAlias = Sequence[Any] | Mapping[str, Any] | None
"""Values for the ``?``/``:name`` parameters of a statement."""

_READ_AHEAD_SECONDS = INLINE_BUDGET_SECONDS / 2
"""How long an inline read keeps reading rows past its first batch (each a trip saved)."""

_IN_EXECUTEMANY = "executemany (it runs as one all-or-nothing unit: use a transaction block)"


class ConnectionCore:
    """One open connection's machinery: what its front, cursors, blocks and aiolite's
    other layers (the pool, the KV store) use.

    Attributes are fixed at open; the request methods are the only way work
    reaches the worker, so every request waits at the gate and runs through
    the guard.
    """

    __slots__ = (
        "adapter",
        "busy",
        "engine",
        "filename",
        "gate",
        "guard",
        "inline",
        "log",
        "max_batch",
        "prefetch",
        "row_factory",
    )

    def __init__(
        self,
        engine: Engine,
        adapter: FrameworkAdapter,
        row_factory: CompiledFactory,
        prefetch: int,
        max_batch: int,
        inline: bool,
        busy: BusyWaiter | None,
    ) -> None:
        self.engine = engine
        """The worker thread."""
        self.adapter = adapter
        """The event loop's framework (the engine's adapter, with layer 2's full interface)."""
        self.row_factory = row_factory
        """The compiled row factory rows of this connection are shaped with."""
        self.prefetch = prefetch
        """Rows fetched with the statement itself."""
        self.max_batch = max_batch
        """Largest batch later fetches grow to."""
        self.inline: InlinePolicy | None = InlinePolicy() if inline else None
        """Which statements run on the loop thread (None: none do)."""
        self.busy = busy
        """aiolite's busy wait on this connection (``set_busy_handler(None)`` puts it back)."""
        self.gate = TransactionGate(adapter)
        self.guard = TransactionGuard(engine)
        self.log: StatementLog | None = None
        """Times and logs statements, when that was asked for at open (else None)."""
        self.filename = ""
        """The database file's path, for reprs ("" for memory; set once it is known)."""

    def describe(self) -> str:
        """The database as a repr names it."""
        return repr(self.filename or ":memory:")

    # ------------------------------------------------------------------ requests

    async def call(
        self, fn: Callable[Concatenate[apsw.Connection, P], R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Run ``fn(sync_connection, ...)`` in the worker, after any other task's transaction.

        It is one request of the open transaction, if any: it fails with
        ``TransactionRolledBackError`` once SQLite has rolled that back.
        """
        if kwargs:
            fn = partial(fn, **kwargs)
        result: R = await self._submit(self.guard.run, fn, *args)
        return result

    async def call_cleanup(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``call`` for clean-up that runs no SQL (closing a cursor or a blob).

        It must work inside a lost transaction too: it is what an ``async
        with`` runs on the way out, and failing there would hide the error
        that got it there.
        """
        return await self._submit(fn, *args)

    async def _submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        gate = self.gate
        while gate.other_task_inside():
            # Checked again after each wait: another task waiting for the same
            # block may have opened a block of its own before this one resumed.
            await gate.wait_for_release()
        return await self.engine.submit(fn, *args)

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(sync_connection, ...)`` without waiting for it."""
        self.engine.post(fn, *args)

    def forget_lost_transaction(self) -> None:
        """Queue forgetting a transaction SQLite rolled back (nobody is left to be told)."""
        self.engine.post(self.guard.forget)

    async def apsw_connection(self) -> apsw.Connection:
        """The plain ``apsw.Connection``, for objects that must be built on it.

        Only the worker may use it (or a thread the worker is parked for).
        """
        return await self.call(_itself)

    def execution(self, refuses: str | None = None) -> Execution:
        """A new execution shaped by this connection's rows (see :class:`Execution`)."""
        return Execution(self.row_factory, self.engine.abandon_inline, refuses)

    # ---------------------------------------------------------------- statements

    async def first_batch(self, sql: str, bindings: Bindings, limit: int) -> list[Any]:
        """Up to ``limit`` rows of ``sql``: one trip to the worker, or none for a tiny read.

        The statement is closed in the same run, whatever it had left. An
        error raised before ``limit`` rows (by a later row, or a later
        statement of a script) is raised here: there is no later fetch to
        raise it, and the rows before it are not the whole answer.
        """
        if self.log is None:
            execution, rows, _ = await self.execute(sql, bindings, False, limit, first_only=True)
        else:
            execution, rows, _ = await self.log.execute(self, sql, bindings, False, limit, True)
        error = execution.held_error
        if error is not None and len(rows) < limit:
            execution.held_error = None
            raise error
        return rows[:limit]

    async def execute(
        self,
        sql: str,
        bindings: Bindings | Iterable[Bindings],
        many: bool,
        size: int,
        *,
        first_only: bool = False,
    ) -> tuple[Execution, list[Any], bool]:
        """Run ``sql`` and fetch up to ``size`` rows: inline if it is a proven tiny read.

        Returns the execution (still open unless done), the rows, and whether
        it has finished. Inline, for a cursor that will want more rows, it
        reads ahead while its time allows; with ``first_only`` it reads none
        ahead and closes the statement in the same run instead.
        """
        if not isinstance(sql, str):
            raise TypeError(f"SQL must be a str, not {type(sql).__name__}")
        engine = self.engine
        guard = self.guard
        if many:
            execution = Execution(self.row_factory, engine.abandon_inline, _IN_EXECUTEMANY)
            rows, done = await self._submit(
                guard.run, run_atomically, execute_in_worker, execution, sql, bindings, True, None
            )
            return execution, rows, done
        policy = self.inline
        if policy is None:  # the worker runs every statement: nothing to learn or time
            execution = Execution(self.row_factory, engine.abandon_inline)
            gate = self.gate
            while gate.other_task_inside():  # (_submit, without its coroutine)
                await gate.wait_for_release()
            rows, done = await engine.submit(
                guard.run_statement,
                execute_first_in_worker if first_only else execute_in_worker,
                execution,
                sql,
                bindings,
                False,
                size,
            )
            return execution, rows, done
        learner: Learning | None = None
        if policy.should_try(sql):
            if self._may_run_inline():
                found = self._run_inline(policy, sql, bindings, size, first_only)
                if found is not None:
                    if engine.inline_streak_expired():
                        await self.adapter.checkpoint()
                    return found
        elif not policy.seen(sql) and engine.inline.allowed and self._may_run_inline():
            learner = await self._learn_or_wait(policy, sql)
            if learner is None and policy.should_try(sql) and self._may_run_inline():
                found = self._run_inline(policy, sql, bindings, size, first_only)
                if found is not None:
                    if engine.inline_streak_expired():
                        await self.adapter.checkpoint()
                    return found
        execution = Execution(self.row_factory, engine.abandon_inline)
        # Timed: the policy learns from this run whether the statement is tiny. Others
        # waiting for a learner's run keep the loop busy: the worker's wall time would
        # count its waits for the GIL, so that run is judged by CPU time.
        execution.clock = perf_counter if learner is None else thread_time
        run = execute_first_in_worker if first_only else execute_in_worker
        try:
            gate = self.gate
            while gate.other_task_inside():  # (_submit, without its coroutine)
                await gate.wait_for_release()
            rows, done = await engine.submit(
                guard.run_statement, run, execution, sql, bindings, False, size
            )
            policy.learned(sql, execution.readonly, execution.elapsed)
            if learner is not None:
                learner.retry = execution.readonly
        finally:
            if learner is not None:
                policy.learning.pop(sql, None)
                learner.done.set()
        return execution, rows, done

    async def _learn_or_wait(self, policy: InlinePolicy, sql: str) -> Learning | None:
        """For a statement not learned yet: this request's learning run, or None after waiting.

        None: another request's run of the same statement is over, and this
        one may try inline if that run showed the statement tiny.
        """
        waited = 0
        while True:
            learning = policy.learning.get(sql)
            if learning is None:
                if waited >= LEARN_ROUNDS:
                    return None
                learning = policy.learning[sql] = Learning(self.adapter.event())
                return learning
            await learning.done.wait()
            waited += 1
            if policy.known(sql) or not learning.retry:
                return None

    def _run_inline(
        self,
        policy: InlinePolicy,
        sql: str,
        bindings: Bindings | Iterable[Bindings],
        size: int,
        first_only: bool,
    ) -> tuple[Execution, list[Any], bool] | None:
        """Run ``sql`` on the loop thread now; None if the worker must run it after all."""
        engine = self.engine
        execution = Execution(self.row_factory, engine.abandon_inline)
        started = monotonic()
        batch = engine.run_inline(
            self.guard.run,
            execute_first_inline if first_only else execute_inline,
            execution,
            sql,
            bindings,
            size,
            size if first_only else self.max_batch,
            started + _READ_AHEAD_SECONDS,
        )
        if batch is ABANDONED:
            policy.abandoned(sql)
            if execution.raw is not None:  # only the worker may touch it from now on
                engine.post(close_in_worker, execution)
            return None
        if batch is NOT_NOW:
            return None
        policy.ran_inline(sql, monotonic() - started)
        return execution, *batch

    def _may_run_inline(self) -> bool:
        """Whether this task may run a statement on the loop thread right now."""
        if self.gate.other_task_inside():
            return False  # wait for it the normal way
        if self.guard.lost is not None:
            return False  # the worker says why it cannot run
        if deadline_var.get() is not None:
            return False  # the worker path enforces deadlines exactly
        self.adapter.check_loop()
        return True


def _itself(conn: apsw.Connection) -> apsw.Connection:
    return conn


class CoreFront:
    """Base of :class:`aiolite.Connection` and of the method groups it is made of.

    Each method group reaches the database only through ``_core``.
    """

    _core: ConnectionCore


def core_of(connection: CoreFront) -> ConnectionCore:
    """The internal interface of ``connection`` for aiolite's other layers."""
    return connection._core
