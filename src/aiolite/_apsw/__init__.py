"""Layer 3: the async connection on APSW (``Connection``, cursors, transactions, extensions).

The public API (``aiolite.connect``, ``Connection``, ``Cursor``...) is
re-exported by :mod:`aiolite`. What this layer offers the layers above it
(the pool, the KV store, the aiosqlite module), and all they may use of it:

Reaching a connection
    :class:`Connection` (its type; open one with :func:`open_connection`)
    and :data:`Bindings` (what a statement's parameters may be).
    :func:`core_of` gives a connection's :class:`ConnectionCore`: its
    ``engine`` (layer 1), ``adapter`` (its framework, layer 2, with the
    whole adapter interface), ``row_factory``, ``call(fn, ...)`` (a
    function of the sync connection, run in the worker as one request of
    the open transaction), ``post(fn, ...)``, ``first_batch(sql, bindings,
    limit)`` (rows of a read, inline when it is a proven tiny one),
    ``execution(refuses)`` and ``forget_lost_transaction()``.
Opening
    :func:`open_connection` is ``connect()`` with a :class:`SetUp` of the
    caller's; :func:`open_here` opens a set-up connection on the calling
    thread (for a connection with no worker); :class:`OpenOptions`;
    :class:`ChainedAuthorizer` (the base of a set-up's authorizer, which
    ``set_authorizer`` adds the user's to instead of replacing it).
Worker-side functions (pass them to ``call`` or ``engine.post``)
    :func:`execute_in_worker` runs a statement into an :class:`Execution`
    and fetches its rows; :func:`run_atomically` runs a function all or
    nothing in a savepoint; :func:`fetch_shaped` takes a finished
    statement's rows in the row factory's shape.
Checks
    :func:`refuse_transaction_control` (a statement that would begin or end
    the transaction it runs in) and :func:`is_plain_rollback` (the statement
    that acknowledges a lost transaction).
Rows
    :data:`RowFactory` (what a caller's ``row_factory`` may be) and
    :data:`CompiledFactory` (one compiled for a statement's columns).
Blobs
    :func:`open_blob` and :func:`close_blob` (worker side: a blob whose
    close commits without holding the GIL), :class:`BlobHandle`.
Images
    :func:`in_memory_image` (a database image as ``deserialize`` can open it).
Helpers
    :class:`AsyncClosing` (``async with`` that awaits ``aclose()``);
    :class:`Opener` (await it to open, or ``async with`` it to close too);
    :class:`AsyncOnly` (a plain ``with`` says to use ``async with``) and
    :func:`hint_forgotten_await` (names that ask "did you forget to
    await?");
    :func:`bridge` (a user's callback as SQLite can call it in the worker:
    an ``async def`` one runs in the loop).

Inside the layer: ``connection`` (the public front and ``connect``),
``core`` (the machinery every part shares), ``task_gate`` (task
isolation), ``guard`` and ``transaction`` (transactions),
``transaction_control`` (statement checks), ``cursor`` (loop side) and
``execution`` (worker side) of a statement, ``rows``, ``opening`` and
``busy`` (the one set-up path), ``connection_methods`` and ``features/``
(the rest of ``apsw.Connection``'s API).
"""

from .closing import AsyncClosing, Opener
from .connection import Connection, open_connection
from .core import Bindings, ConnectionCore, core_of
from .execution import Execution, execute_in_worker
from .features.blob_commit import BlobHandle, close_blob, open_blob
from .features.callbacks import bridge
from .features.image import in_memory_image
from .misuse import AsyncOnly, hint_forgotten_await
from .opening import ChainedAuthorizer, OpenOptions, SetUp, database_name, open_here
from .rows import CompiledFactory, RowFactory, fetch_shaped
from .transaction import run_atomically
from .transaction_control import is_plain_rollback, refuse_transaction_control

__all__ = [
    "AsyncClosing",
    "AsyncOnly",
    "Bindings",
    "BlobHandle",
    "ChainedAuthorizer",
    "CompiledFactory",
    "Connection",
    "ConnectionCore",
    "Execution",
    "OpenOptions",
    "Opener",
    "RowFactory",
    "SetUp",
    "bridge",
    "close_blob",
    "core_of",
    "database_name",
    "execute_in_worker",
    "fetch_shaped",
    "hint_forgotten_await",
    "in_memory_image",
    "is_plain_rollback",
    "open_blob",
    "open_connection",
    "open_here",
    "refuse_transaction_control",
    "run_atomically",
]
