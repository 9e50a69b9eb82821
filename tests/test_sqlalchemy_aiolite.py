"""SQLAlchemy's async ORM on the ``sqlite+aiolite`` dialect (found through its entry point).

SQLAlchemy's async layer is asyncio-only, so these run under asyncio and uvloop.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import ForeignKey, String, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncAttrs,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload

from aiolite import aiosqlite
from aiolite.sqlalchemy import AioliteDialect
from tests.frameworks import Framework
from tests.helpers import ENDLESS_QUERY, GUARD

pytestmark = pytest.mark.frameworks("asyncio", "uvloop")


class Base(AsyncAttrs, DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    addresses: Mapped[list[Address]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )


class Address(Base):
    __tablename__ = "addresses"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user: Mapped[User] = relationship(back_populates="addresses")


@asynccontextmanager
async def orm_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(f"sqlite+aiolite:///{tmp_path / 'orm.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        yield engine
    finally:
        await engine.dispose()


async def test_url_finds_the_dialect_through_its_entry_point(fw: Framework) -> None:
    engine = create_async_engine("sqlite+aiolite://")
    try:
        assert isinstance(engine.dialect, AioliteDialect)
        assert engine.dialect.dbapi.aiosqlite is aiosqlite  # type: ignore[union-attr]
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT sqlite_version()"))).scalar()
            raw = await conn.get_raw_connection()
            assert isinstance(raw.driver_connection, aiosqlite.Connection)
    finally:
        await engine.dispose()


async def test_create_insert_select_with_relationships(fw: Framework, tmp_path: Path) -> None:
    async with orm_engine(tmp_path) as engine:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with sessions() as session, session.begin():
            session.add_all(
                [
                    User(name="ada", addresses=[Address(email="ada@x"), Address(email="a@y")]),
                    User(name="bob", addresses=[Address(email="bob@x")]),
                ]
            )
        async with sessions() as session:
            users = (
                await session.scalars(
                    select(User).options(selectinload(User.addresses)).order_by(User.name)
                )
            ).all()
            assert [(u.name, sorted(a.email for a in u.addresses)) for u in users] == [
                ("ada", ["a@y", "ada@x"]),
                ("bob", ["bob@x"]),
            ]
            bob_address = await session.scalar(select(Address).where(Address.email == "bob@x"))
            assert bob_address is not None
            assert (await bob_address.awaitable_attrs.user).name == "bob"


async def test_rollback_and_integrity_error_leave_nothing_written(
    fw: Framework, tmp_path: Path
) -> None:
    async with orm_engine(tmp_path) as engine:
        sessions = async_sessionmaker(engine)
        async with sessions() as session:
            session.add(User(name="ada"))
            await session.flush()
            assert await session.scalar(select(func.count(User.id))) == 1
            await session.rollback()
            assert await session.scalar(select(func.count(User.id))) == 0
        async with sessions() as session:
            session.add_all([User(name="dup"), User(name="dup")])
            with pytest.raises(IntegrityError):
                await session.commit()
            await session.rollback()
            assert await session.scalar(select(func.count(User.id))) == 0
            session.add(User(name="after"))
            await session.commit()
            assert await session.scalar(select(User.name)) == "after"


async def test_concurrent_sessions(fw: Framework, tmp_path: Path) -> None:
    async with orm_engine(tmp_path) as engine:
        sessions = async_sessionmaker(engine)

        async def add(i: int) -> None:
            async with sessions() as session, session.begin():
                session.add(User(name=f"user{i}", addresses=[Address(email=f"{i}@x")]))

        await asyncio.gather(*(add(i) for i in range(20)))
        async with sessions() as session:
            assert await session.scalar(select(func.count(User.id))) == 20
            assert await session.scalar(select(func.count(Address.id))) == 20


async def test_isolation_level_goes_through_the_worker_queue(fw: Framework) -> None:
    # SQLAlchemy sets isolation_level through aiosqlite's private _tx queue.
    engine = create_async_engine("sqlite+aiolite://", isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            assert raw.driver_connection.isolation_level is None
            await conn.execute(text("CREATE TABLE t(x)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
            assert not raw.driver_connection.in_transaction  # autocommit: nothing pending
        async with engine.connect() as conn:
            sql = "SELECT x FROM t"
            assert (await conn.execute(text(sql))).scalar() == 1
    finally:
        await engine.dispose()


async def test_cancelled_orm_query_is_interrupted(fw: Framework, tmp_path: Path) -> None:
    async with orm_engine(tmp_path) as engine:
        async with engine.connect() as conn:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await conn.execute(text(ENDLESS_QUERY))
        async with asyncio.timeout(GUARD), engine.connect() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
        with pytest.raises(OperationalError, match="no such table"):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT * FROM missing"))


PROVISIONING_PROBE = """
from sqlalchemy.engine import make_url
from sqlalchemy.testing import provision
assert "sqlite" not in provision.follower_url_from_main.fns
make_url("sqlite+aiolite://").get_dialect().load_provisioning()
assert "sqlite" in provision.follower_url_from_main.fns
assert provision.temp_table_keyword_args.fns["sqlite"].__module__ == (
    "sqlalchemy.dialects.sqlite.provision"
)
"""


def test_sqlalchemy_test_plugin_gets_sqlites_provisioning() -> None:
    """SQLAlchemy's test plugin calls ``load_provisioning()`` of the URL's dialect.

    Its default imports ``aiolite.provision``, which does not exist: users who
    test with SQLAlchemy's plugin got no SQLite set-up (801 errors in its
    compliance suite). Checked in a fresh process: the registry is global.
    """
    subprocess.run([sys.executable, "-c", PROVISIONING_PROBE], check=True, timeout=GUARD)
