"""What the suite may expect of ``sqlite+aiolite``: SQLAlchemy's rules for its aiosqlite dialect.

``sqlite+aiolite`` is SQLAlchemy's aiosqlite dialect with ``aiolite.aiosqlite``
as its DBAPI module, so it gets SQLAlchemy's own requirements for
``sqlite+aiosqlite`` (``DefaultRequirements``, from SQLAlchemy's
``test/requirements.py``). Those rules name drivers; the two that name
``aiosqlite`` and that the compliance suite consults are restated here with
``aiolite`` added, so both URLs are judged alike and their outcomes compare
test by test. run.py prints every test whose outcome differs between targets:
a rule naming ``+aiosqlite`` in a later SQLAlchemy shows up there.
"""

from __future__ import annotations

from typing import Any

from sqla_default_requirements import DefaultRequirements
from sqlalchemy.testing.exclusions import only_on, skip_if


class Requirements(DefaultRequirements):  # type: ignore[misc]
    @property
    def independent_readonly_connections(self) -> Any:
        # SQLAlchemy: skip_if([self._sqlite_memory_db, "+aiosqlite"])
        return super().independent_readonly_connections + skip_if("+aiolite")

    @property
    def dbapi_lastrowid(self) -> Any:
        # SQLAlchemy's rule, with sqlite+aiolite beside sqlite+aiosqlite
        return skip_if("mssql+pymssql", "crashes on pymssql") + only_on(
            [
                "mysql",
                "mariadb",
                "sqlite+pysqlite",
                "sqlite+aiosqlite",
                "sqlite+aiolite",
                "sqlite+pysqlcipher",
                "mssql",
            ]
        )
