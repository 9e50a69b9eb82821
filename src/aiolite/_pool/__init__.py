"""aiolite._pool."""
