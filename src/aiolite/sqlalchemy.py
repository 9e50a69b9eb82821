"""The ``sqlite+aiolite`` SQLAlchemy dialect: SQLAlchemy's aiosqlite dialect on aiolite.aiosqlite.

SQLAlchemy's ``sqlite+aiosqlite`` dialect drives aiosqlite's API;
:mod:`aiolite.aiosqlite` is that API, so the dialect is SQLAlchemy's own with
the module swapped. It is registered as an entry point (``pip install
aiolite[sqlalchemy]``), so a URL is all it takes; queries then gain aiolite's
engine: a cancelled ``await session.execute(...)`` really stops inside SQLite.

>>> import asyncio
>>> from sqlalchemy import text
>>> from sqlalchemy.ext.asyncio import create_async_engine
>>> async def main():
...     engine = create_async_engine("sqlite+aiolite:///:memory:")
...     async with engine.connect() as conn:
...         value = (await conn.execute(text("SELECT 40 + 2"))).scalar()
...     await engine.dispose()
...     return engine.dialect.driver, value
>>> asyncio.run(main())
('aiolite', 42)
"""

from __future__ import annotations

import sqlite3

from ._errors import missing_extra

try:
    from sqlalchemy.dialects.sqlite.aiosqlite import (
        AsyncAdapt_aiosqlite_dbapi,
        SQLiteDialect_aiosqlite,
    )
except ModuleNotFoundError as error:  # name the extra, not just the module
    if (error.name or "").partition(".")[0] != "sqlalchemy":
        raise
    raise missing_extra(
        "aiolite.sqlalchemy (the sqlite+aiolite dialect)", "sqlalchemy", "sqlalchemy"
    ) from error

__all__ = ["AioliteDialect", "dialect"]


class AioliteDialect(SQLiteDialect_aiosqlite):
    """``sqlite+aiolite://``: SQLAlchemy's aiosqlite dialect on aiolite.aiosqlite."""

    driver = "aiolite"
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> AsyncAdapt_aiosqlite_dbapi:
        from . import aiosqlite

        return AsyncAdapt_aiosqlite_dbapi(aiosqlite, sqlite3)

    @classmethod
    def load_provisioning(cls) -> None:
        """Load SQLite's set-up for SQLAlchemy's test plugin (``sqlalchemy.testing``).

        Only SQLAlchemy's testing plugin calls this. The default looks for a
        ``provision`` module in the dialect's package (``aiolite.provision``);
        this dialect is SQLite's, so it takes SQLite's: ``ATTACH`` of the
        ``test_schema`` database, file clean-up, ``TEMPORARY`` tables, upserts.
        """
        import sqlalchemy.dialects.sqlite.provision  # noqa: F401


dialect = AioliteDialect
