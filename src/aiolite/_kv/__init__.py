"""Layer 5, the KV store: a persistent async dict on the pool (``aiolite.KV``).

It uses only the pool's public API and :class:`~aiolite._pool.PoolCore`
(see :mod:`aiolite._pool`). The modules: ``store`` (the :class:`KV` API),
``codec`` (values to stored text or bytes and back), ``pieces`` (large JSON
coded an entry at a time), ``offload`` (large values read and coded in a
pool worker thread), ``cache`` (the optional write-through cache, kept in
commit order), ``inline_writes`` (a loop-thread connection for one task's
writes) and ``inline_policy`` (when a write may use it), ``table_helpers``
(validated SQL for tables of your own).
"""
