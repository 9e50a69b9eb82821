"""A web-style SQLAlchemy ORM workload: ``sqlite+aiolite`` against ``sqlite+aiosqlite``.

Many request handlers run at once, each as a web framework would run it:
its own ``AsyncSession``, a primary-key select, then an insert and a commit.
The database is a file (as a web app's is) in a fresh temporary folder, and
both drivers use SQLAlchemy's defaults (its connection pool included), so
the only difference is the driver underneath. The journal is WAL (what a
web app sets, so readers do not wait for writers). A first gather of
``WARM_UP`` handlers runs before the clock, for both drivers alike; the
measured part is all the handlers, gathered.
Needs ``sqlalchemy[asyncio]`` and aiosqlite; asyncio only (SQLAlchemy's
async layer runs on asyncio).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import tempfile
from time import perf_counter
from typing import Any

DRIVERS = ("aiolite", "aiosqlite")
ITEMS = 1_000
WARM_UP = 15  # enough at once to open SQLAlchemy's default pool (5, plus 10 overflow)


def installed() -> bool:
    needed = ("sqlalchemy", "greenlet", "aiosqlite")
    return all(importlib.util.find_spec(name) is not None for name in needed)


def _models() -> tuple[Any, Any, Any]:
    """Fresh mapped classes per run (no annotations: this module's are strings)."""
    from sqlalchemy import ForeignKey, Integer, String
    from sqlalchemy.orm import DeclarativeBase, mapped_column

    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = "item"
        id = mapped_column(Integer, primary_key=True)
        name = mapped_column(String, nullable=False)

    class Visit(Base):
        __tablename__ = "visit"
        id = mapped_column(Integer, primary_key=True)
        item_id = mapped_column(Integer, ForeignKey("item.id"), nullable=False)

    return Base, Item, Visit


async def handlers(driver: str, count: int) -> float:
    """Seconds for ``count`` concurrent handlers on ``sqlite+<driver>`` (after one warm-up)."""
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    base, item, visit = _models()
    with tempfile.TemporaryDirectory() as folder:
        engine = create_async_engine(f"sqlite+{driver}:///{os.path.join(folder, 'app.db')}")
        try:
            async with engine.begin() as conn:
                await conn.exec_driver_sql("PRAGMA journal_mode=WAL")
                await conn.run_sync(base.metadata.create_all)
            async with AsyncSession(engine) as session:
                session.add_all([item(id=i, name=f"item {i}") for i in range(ITEMS)])
                await session.commit()

            async def handle(i: int) -> None:
                async with AsyncSession(engine) as session:
                    found = await session.get(item, i % ITEMS)
                    assert found is not None
                    session.add(visit(item_id=found.id))
                    await session.commit()

            await asyncio.gather(*(handle(i) for i in range(WARM_UP)))
            start = perf_counter()
            await asyncio.gather(*(handle(i) for i in range(count)))
            return perf_counter() - start
        finally:
            await engine.dispose()
