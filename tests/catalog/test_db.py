"""The metadata DB's connection settings."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from cityhub.catalog.db import Database, sqlite_file
from cityhub.config import Settings
from cityhub.hub import Hub

# PRAGMA synchronous answers with a number: 1 is NORMAL, 2 is FULL.
LEVELS = {"normal": 1, "full": 2}


@pytest.mark.parametrize("synchronous", ["normal", "full"])
def test_sqlite_commits_reach_the_disk_as_configured(tmp_path: Path, synchronous: str) -> None:
    db = Database(f"sqlite:///{tmp_path / 'catalog.db'}", synchronous)  # type: ignore[arg-type]
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == LEVELS[synchronous]
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        db.dispose()


def test_the_hub_takes_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYHUB_SQLITE_SYNCHRONOUS", "full")
    hub = Hub(Settings(home=tmp_path))
    try:
        with hub.db.engine.connect() as conn:
            assert conn.execute(sa.text("PRAGMA synchronous")).scalar() == LEVELS["full"]
    finally:
        hub.db.dispose()
    assert Settings(home=tmp_path, sqlite_synchronous="normal").sqlite_synchronous == "normal"


def test_an_unknown_level_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sqlite_synchronous"):
        Settings(home=tmp_path, sqlite_synchronous="off")


def test_sqlite_keeps_the_connections_a_busy_server_opened(tmp_path: Path) -> None:
    """20 requests in flight open 20 connections; all of them stay for the next requests (a
    smaller pool closed what it could not keep, and reopened it on the next burst)."""
    db = Database(f"sqlite:///{tmp_path / 'catalog.db'}")
    together = threading.Barrier(20)

    def request() -> None:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
            together.wait(timeout=30)

    threads = [threading.Thread(target=request) for _ in range(20)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert db.engine.pool.checkedin() == 20  # type: ignore[attr-defined]
    finally:
        db.dispose()


@pytest.mark.parametrize(
    ("url", "file"),
    [
        ("sqlite:////data/catalog.db", "/data/catalog.db"),
        ("sqlite:///file:/data/catalog.db?mode=ro&uri=true", "/data/catalog.db"),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///file:shared?mode=memory&cache=shared&uri=true", None),
        ("postgresql+psycopg://postgres@127.0.0.1:5432/test", None),
    ],
)
def test_the_file_of_a_sqlite_url(url: str, file: str | None) -> None:
    assert sqlite_file(url) == file


def test_an_in_memory_uri_database_opens() -> None:
    """No pool to size for it (it failed when only `:memory:` was taken for memory)."""
    db = Database("sqlite:///file:cityhub-test?mode=memory&cache=shared&uri=true")
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        db.dispose()


def test_driver_rows_run_in_the_sessions_transaction(db: Database) -> None:
    """On SQLite's positional parameters and psycopg's named ones alike; the session's own
    pending changes are seen, and the values are the driver's (SQLite's datetimes as text)."""
    from cityhub.catalog import service
    from cityhub.catalog.db import driver_rows
    from cityhub.catalog.models import Dataset

    stamp = sa.select(Dataset.name, Dataset.updated_at).where(Dataset.code == sa.bindparam("code"))
    with db.session() as s:
        service.upsert_department(s, "330400-GA", "市公安局")
        service.upsert_dataset(s, "GA-001", "330400-GA", name="户籍人口基本信息")
        assert driver_rows(s, stamp, code="NO-SUCH") == []
        ((name, when),) = driver_rows(s, stamp, code="GA-001")  # not yet flushed by the caller
        assert name == "户籍人口基本信息"
        assert isinstance(when, str) if db.dialect == "sqlite" else when.tzinfo is not None
        s.scalars(sa.select(Dataset)).one().name = "改名"
        assert driver_rows(s, stamp, code="GA-001")[0][0] == "改名"


def test_a_reading_session_sees_what_is_committed_and_keeps_nothing(db: Database) -> None:
    from cityhub.catalog import service
    from cityhub.catalog.models import Dataset

    with db.session() as s:
        service.upsert_department(s, "330400-GA", "市公安局")
        service.upsert_dataset(s, "GA-001", "330400-GA", name="户籍人口基本信息")
    with db.reading() as s:
        found = s.scalars(sa.select(Dataset)).one()
        assert found.name == "户籍人口基本信息"
        found.name = "改名"  # a read's session commits nothing, by mistake or not
        s.flush()
    with db.session() as s:
        assert s.scalars(sa.select(Dataset.name)).one() == "户籍人口基本信息"
        s.scalars(sa.select(Dataset)).one().name = "更名"
    with db.reading() as s:  # on the thread's kept connection: a new read sees the change
        assert s.scalars(sa.select(Dataset.name)).one() == "更名"


def test_reading_sessions_keep_one_connection_a_thread(db: Database) -> None:
    def connection() -> sa.Connection:
        with db.reading() as s:
            return s.connection()

    mine = connection()
    assert connection() is mine and not mine.in_transaction()
    theirs: list[sa.Connection] = []
    worker = threading.Thread(target=lambda: theirs.append(connection()))
    worker.start()
    worker.join()
    assert theirs[0] is not mine
    mine.invalidate()  # as after the server was lost: the next read connects again
    assert connection() is not mine


def test_a_reading_session_asks_its_stamps_without_beginning_on_sqlite(db: Database) -> None:
    """Before it has begun anything, a reading session on SQLite runs `driver_rows` on its
    connection as it is: nothing begins, and each read sees what was committed by then (no
    snapshot is held). Once the session has begun, or on PostgreSQL, they run in its
    transaction as in any session (which on SQLite holds no snapshot for reads either)."""
    from cityhub.catalog import service
    from cityhub.catalog.db import driver_rows
    from cityhub.catalog.models import Dataset

    name = sa.select(Dataset.name).where(Dataset.code == sa.bindparam("code"))

    def rename(to: str) -> None:
        with db.session() as s:
            s.scalars(sa.select(Dataset)).one().name = to

    with db.session() as s:
        service.upsert_department(s, "330400-GA", "市公安局")
        service.upsert_dataset(s, "GA-001", "330400-GA", name="户籍人口基本信息")
    outside = db.dialect == "sqlite"
    with db.reading() as s:
        assert driver_rows(s, name, code="GA-001") == [("户籍人口基本信息",)]
        assert s.in_transaction() is not outside
        rename("改名")
        assert driver_rows(s, name, code="GA-001") == [("改名",)]
        assert s.scalars(sa.select(Dataset.name)).one() == "改名"  # the ORM begins
        assert s.in_transaction()
        rename("更名")
        assert driver_rows(s, name, code="GA-001") == [("更名",)]
