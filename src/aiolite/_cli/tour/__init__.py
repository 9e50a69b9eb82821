"""aiolite._cli.tour."""
