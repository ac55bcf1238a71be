"""Connecting to the metadata DB and migrating it with Alembic."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    ClauseElement,
    Connection,
    Dialect,
    Engine,
    create_engine,
    event,
    make_url,
)
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler

MIGRATIONS = Path(__file__).parent / "migrations"


Synchronous = Literal["full", "normal"]
SQLITE_POOL = 40  # connections kept, and as many more opened at a peak
# In a reading session's info: its small reads may run outside a transaction (`reading`).
_OUTSIDE = "reads outside a transaction"


def sqlite_file(url: str) -> str | None:
    """The file of a SQLite database on disk (a URI filename's path too); None for an
    in-memory one and for other databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.query.get("mode") == "memory":
        return None
    path = (parsed.database or "").removeprefix("file:")  # a URI filename: file:path?mode=ro
    return None if path in ("", ":memory:") else path


def make_engine(url: str, synchronous: Synchronous = "normal") -> Engine:
    """An engine for `url`. On SQLite, `synchronous` says when a commit reaches the disk: "full"
    syncs the log at every commit, "normal" at checkpoints. Either way a crash of cityhub loses
    nothing; with "normal" a power cut may undo the last commits, and the database, the audit's
    hash chain included, stays whole up to there. Every read writes an audit record, and on a
    plain disk the sync of "full" costs more than the rest of a key lookup."""
    if url.startswith("sqlite"):
        # A pool as large as the server's thread pool (anyio's 40): a connection returned past
        # `pool_size` is closed, and under a load of 16 requests in flight every few requests
        # opened a new one (file, WAL, pragmas) instead of reusing it. SQLite connections cost
        # a file handle and a small page cache each.
        # (in memory: SQLAlchemy keeps one connection per thread, no pool to size)
        on_disk = sqlite_file(url) is not None
        pool = {"pool_size": SQLITE_POOL, "max_overflow": SQLITE_POOL} if on_disk else {}
        engine = create_engine(url, connect_args={"timeout": 30}, **pool)
        pragma = {"full": "FULL", "normal": "NORMAL"}[synchronous]

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers (the API) run beside a sync; foreign keys are off by default.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={pragma}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; running it again changes nothing."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


class Database:
    """The metadata DB of one cityhub home."""

    def __init__(self, url: str, synchronous: Synchronous = "normal") -> None:
        self.url, self.synchronous = url, synchronous
        self.engine = make_engine(url, synchronous)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = threading.local()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def upgrade(self) -> None:
        upgrade(self.engine)

    def is_current(self) -> bool:
        return current_revision(self.engine) == head_revision()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads alone, for the event loop's busiest reads, where the unit of
        work's begin and end, and a connection's checkout from the pool and return, cost more
        than their query. It runs on a connection this thread keeps (so one at a time in a
        thread, never one inside another); nothing is committed, and what it began is rolled
        back at the end (no snapshot held between reads). On SQLite, whose driver opens no
        transaction for a read, `driver_rows` asks a session that has begun nothing on that
        connection as it is, without beginning one."""
        connection = getattr(self._readers, "connection", None)
        if connection is None or connection.closed or connection.invalidated:
            connection = self._readers.connection = self.engine.connect()
        info = {_OUTSIDE: True} if self.dialect == "sqlite" else {}
        with self._sessions(bind=connection, info=info) as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def driver_rows(session: Session, statement: ClauseElement, **params: Any) -> list[tuple[Any, ...]]:
    """The rows of `statement`, run in `session`'s transaction (a reading session's on SQLite:
    outside one until it begins, see `Database.reading`) on its driver's own cursor.

    For the few small statements asked on every read (a catalog record's stamp): run the
    SQLAlchemy way, building and executing them cost more than the database's own work. Each
    is a module's constant, compiled once per dialect and kept. Values come back as the driver
    gives them, not converted to the columns' Python types (a datetime is text on SQLite):
    compare them with one another, never with the ORM's values."""
    bind = session.bind
    if session.info.get(_OUTSIDE) and isinstance(bind, Connection) and not session.in_transaction():
        connection = bind  # a reading session on SQLite, before anything began: see `reading`
    else:
        session.flush()  # as the ORM's own execute would (nothing to do in a clean session)
        connection = session.connection()
    sql, order = _compiled(statement, connection.dialect)
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, [params[name] for name in order] if order is not None else params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


@functools.cache
def _compiled(statement: ClauseElement, dialect: Dialect) -> tuple[str, tuple[str, ...] | None]:
    """The SQL of `statement` for `dialect`, and its parameters' order when they are positional."""
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)  # a query's compiler, not a DDL statement's
    order = compiled.positiontup
    return compiled.string, None if order is None else tuple(order)
