"""The KV store's optional write-through cache, and the hooks that keep it in commit order.

The cache is updated only after the commit that holds a write (the pool
calls a write's ``on_commit`` hook on the loop thread, in commit order), so
it never shows a value that could still roll back. A read fills it only if
no write began meanwhile: every write bumps ``generation`` when it starts
and when it commits, and a read that saw the generation change drops what
it read instead of caching a value that may already be stale.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

_IMMUTABLE = (str, int, float, bool, bytes, type(None))
UNKNOWN: Any = object()
"""``Cache.store``'s ``value`` when the caller has only the stored form."""

Hook = Callable[[], None]


class Cache:
    """Decoded values by key; mutable values are kept encoded and decoded per read.

    So a caller mutating what ``get`` returned never changes what the next
    ``get`` sees. ``limit`` bounds it (least recently used go first).
    """

    __slots__ = ("data", "generation", "limit")

    def __init__(self, limit: int | None) -> None:
        self.data: OrderedDict[str, tuple[bool, Any]] = OrderedDict()
        """``key: (encoded, value)``: read it directly on a hot path, as ``KV.get`` does."""
        self.limit = limit
        self.generation = 0  # bumped by every write, so a racing read never caches a stale value

    def has(self, key: str) -> bool:
        """True if ``key`` is cached (counts as a use), without decoding its value."""
        if key not in self.data:
            return False
        if self.limit is not None:
            self.data.move_to_end(key)
        return True

    def store(self, key: str, stored: str | bytes, value: Any = UNKNOWN) -> None:
        """Cache ``key``; ``value`` is its decoded form when the caller has it."""
        if type(stored) is bytes:
            self.data[key] = (False, stored)
        elif value is not UNKNOWN and type(value) in _IMMUTABLE:
            self.data[key] = (False, value)
        else:
            self.data[key] = (True, stored)
        if self.limit is not None:
            self.data.move_to_end(key)
            while len(self.data) > self.limit:
                self.data.popitem(last=False)

    def forget(self, key: str) -> None:
        self.data.pop(key, None)

    def clear(self) -> None:
        self.data.clear()

    def __len__(self) -> int:
        return len(self.data)

    # The hooks for writes through the pool: each call marks a write as begun.

    def storing(self, key: str, stored: str | bytes, value: Any) -> Hook:
        """The ``on_commit`` hook of a write that stores ``key``."""
        self.generation += 1

        def on_commit() -> None:
            self.generation += 1
            self.store(key, stored, value)

        return on_commit

    def storing_many(self, encoded: list[tuple[str, str | bytes]]) -> Hook:
        """The ``on_commit`` hook of a write that stores every ``(key, stored)``."""
        self.generation += 1

        def on_commit() -> None:
            self.generation += 1
            for key, stored in encoded:
                self.store(key, stored)

        return on_commit

    def forgetting(self, keys: Sequence[str]) -> Hook:
        """The ``on_commit`` hook of a write that deletes ``keys``."""
        self.generation += 1

        def on_commit() -> None:
            self.generation += 1
            for key in keys:
                self.forget(key)

        return on_commit

    def clearing(self) -> Hook:
        """The ``on_commit`` hook of a write that deletes every key."""
        self.generation += 1

        def on_commit() -> None:
            self.generation += 1
            self.clear()

        return on_commit
