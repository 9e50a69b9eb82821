"""aiolite._apsw.features."""
