"""aiolite._cli."""
