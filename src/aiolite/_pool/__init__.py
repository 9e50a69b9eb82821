"""Layer 4, the pool: one writer and N readers on one WAL database.

What the layer above (the KV store, :mod:`aiolite._kv`) may use:

* :class:`Pool`'s public API (``fetch*``, ``execute``, ``reader()``,
  ``writer()``, ``holds_writer()``, ``request_checkpoint()``, ``path``,
  ``closed``), made by :func:`open_pool`;
* :class:`PoolCore`, got with :func:`core_of_pool`: a write whose hook runs
  right after the commit that holds it (what keeps the KV cache in commit
  order), whether the writer is idle (when a KV write may commit on the loop
  thread instead), and the pool's framework adapter.

Nothing else of the pool's, and none of its private attributes. The modules:
``pool`` (the :class:`Pool`), ``opening`` (:func:`open_pool`: options
and each connection's set-up), ``readers`` (which reader a read runs on),
``read_only`` (what a reader refuses), ``write_queue`` and
``group_commit`` (the loop half and the worker half of group commit),
``writer_block`` (``pool.writer()``'s transaction), ``turns`` (first
come, first served on the writer and the readers).
"""

from .group_commit import WriteResult
from .opening import PoolOpener, Synchronous, open_pool
from .pool import Pool, PoolCore, PoolStats, core_of_pool

__all__ = [
    "Pool",
    "PoolCore",
    "PoolOpener",
    "PoolStats",
    "Synchronous",
    "WriteResult",
    "core_of_pool",
    "open_pool",
]
