"""The aiosqlite version whose API this module reproduces.

Libraries that gate behaviour on ``aiosqlite.__version__`` (SQLAlchemy's
dialect does) then see the version they are talking to.
"""

__version__ = "0.22.1"
