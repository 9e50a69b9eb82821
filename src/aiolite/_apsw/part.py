"""Kept only for ``aiolite.aiosqlite``, which imports ``AsyncClosing`` from here.

Its home is :mod:`aiolite._apsw.closing`; remove this module once the
aiosqlite module imports it from there.
"""

from .closing import AsyncClosing as AsyncClosing
