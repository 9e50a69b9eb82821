"""aiolite._engine."""
