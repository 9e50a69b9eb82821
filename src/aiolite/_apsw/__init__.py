"""aiolite._apsw."""
