"""aiolite._kv."""
