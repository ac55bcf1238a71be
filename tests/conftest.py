"""Shared fixtures: a migrated metadata DB on every supported backend."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from cityhub.catalog.db import Database
from cityhub.config import Settings
from cityhub.hub import Hub

PG_URL_ENV = "CITYHUB_TEST_PG_URL"


def _sqlite(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'catalog.db'}")
    try:
        database.upgrade()
        yield database
    finally:
        database.dispose()


def _postgres() -> Iterator[Database]:
    url = os.environ.get(PG_URL_ENV)
    if not url and os.environ.get("CITYHUB_REQUIRE_SERVICES"):
        pytest.fail(f"{PG_URL_ENV} must be set when CITYHUB_REQUIRE_SERVICES is (CI)")
    if not url:
        pytest.skip(
            f"{PG_URL_ENV} is not set; PostgreSQL tests need a server URL such as "
            "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        )
    # A schema of its own per test: parallel runs and other tests never see each other's rows.
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(url, poolclass=NullPool)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))  # our own generated name
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    database = Database(scoped.render_as_string(hide_password=False))
    try:
        database.upgrade()
        yield database
    finally:
        database.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    ids=["sqlite", "postgres"],
)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A freshly migrated `Database`, once on a temp SQLite file and once on PostgreSQL.

    PostgreSQL reads its URL from CITYHUB_TEST_PG_URL (skipped when unset) and runs in a new
    schema, dropped afterwards.
    """
    if request.param == "sqlite":
        yield from _sqlite(tmp_path)
    else:
        yield from _postgres()


@pytest.fixture
def hub(db: Database, tmp_path: Path) -> Iterator[Hub]:
    """A cityhub home on `db` (SQLite or PostgreSQL) with its lake in a temp folder."""
    settings = Settings(
        home=tmp_path / "home",
        database_url=db.url,
        lake_dir=tmp_path / "lake",
        operator="tester",
        infer_rows=2000,
        batch_rows=4096,
    )
    h = Hub(settings)
    h.db.dispose()
    h.db = db
    h.init()
    yield h


@pytest.fixture
def sqlite_hub(tmp_path: Path) -> Iterator[Hub]:
    """A cityhub home on SQLite only, for tests of the data path rather than the metadata DB."""
    settings = Settings(home=tmp_path / "home", operator="tester", infer_rows=2000, batch_rows=4096)
    h = Hub(settings)
    h.init()
    yield h
    h.close()
