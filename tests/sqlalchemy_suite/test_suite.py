"""SQLAlchemy's dialect compliance suite (``sqlalchemy.testing.suite``), run by run.py."""

from sqlalchemy.testing.suite import *  # noqa: F403
from sqlalchemy.testing.suite import ServerSideCursorsTest as _ServerSideCursorsTest


class ServerSideCursorsTest(_ServerSideCursorsTest):  # type: ignore[misc]
    def _is_server_side(self, cursor):  # type: ignore[no-untyped-def]
        # SQLAlchemy's own check knows drivers by name ("a huge issue as it
        # prevents these tests from being usable by third party dialects", its
        # comment says); sqlite+aiolite uses the aiosqlite dialect's cursors.
        if self.engine.dialect.driver == "aiolite":
            return cursor.server_side
        return super()._is_server_side(cursor)
