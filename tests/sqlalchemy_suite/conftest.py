"""Bootstraps SQLAlchemy's pytest plugin, as a third-party dialect's ``test/conftest.py`` does.

Two settings come from run.py through the environment:

- ``AIOLITE_SQLA_REQUIREMENTS``: the folder holding SQLAlchemy's own SQLite
  requirements (``test/requirements.py`` of the installed SQLAlchemy's source
  distribution, which SQLAlchemy does not ship in its wheel), imported as
  ``sqla_default_requirements``;
- ``AIOLITE_SQLA_SUBSTITUTE=1``: ``import aiosqlite`` gives ``aiolite.aiosqlite``,
  so the ``sqlite+aiosqlite`` URL runs SQLAlchemy's own aiosqlite dialect on our
  module (the way tests/aiosqlite_suite/run.py runs aiosqlite's own tests).
"""

from __future__ import annotations

import importlib
import os
import sys

import pytest

folder = os.environ.get("AIOLITE_SQLA_REQUIREMENTS")
if not folder:
    raise pytest.UsageError("run SQLAlchemy's suite through tests/sqlalchemy_suite/run.py")
sys.path.insert(0, folder)

if os.environ.get("AIOLITE_SQLA_SUBSTITUTE") == "1":
    ours = importlib.import_module("aiolite.aiosqlite")
    sys.modules["aiosqlite"] = ours
    for _name in ("core", "cursor", "context", "__version__"):
        sys.modules[f"aiosqlite.{_name}"] = importlib.import_module(f"aiolite.aiosqlite.{_name}")

pytest.register_assert_rewrite("sqlalchemy.testing.assertions")

from sqlalchemy.testing.plugin.pytestplugin import *  # noqa: E402, F403


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name the module and the SQLite that really ran (run.py checks and prints this line)."""
    from sqlalchemy.testing import config

    dialect = config.db.dialect
    module = dialect.dbapi.aiosqlite
    version = ".".join(map(str, dialect.server_version_info or ()))
    terminalreporter.write_line(
        f"under test: {config.db.url.drivername} on {module.__name__} "
        f"({module.__file__}), SQLite {version}"
    )
