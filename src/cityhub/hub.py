"""One cityhub home: its settings, metadata DB, lake and engine, opened together."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb

from cityhub.catalog.db import Database
from cityhub.config import Settings, load_settings
from cityhub.errors import CityhubError
from cityhub.lake import Lake


class NotInitialised(CityhubError):
    status = 503
    title = "Not initialised"


class Hub:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.db_url, settings.sqlite_synchronous)
        self.lake = Lake(settings.lake_path)
        self._duckdb: duckdb.DuckDBPyConnection | None = None
        self._duckdb_lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings | None = None, *, check: bool = True) -> Hub:
        hub = cls(settings or load_settings())
        if check and not hub.db.is_current():
            raise NotInitialised(
                f"the metadata DB at {hub.db.engine.url.render_as_string()} is not set up or "
                "not up to date; run `cityhub init` (or `cityhub db upgrade`)"
            )
        return hub

    def init(self) -> None:
        """Create the home folders and bring the metadata DB to the current schema."""
        self.settings.home.mkdir(parents=True, exist_ok=True)
        for sub in ("tables", "rejects", "staging"):
            (self.lake.root / sub).mkdir(parents=True, exist_ok=True)
        self.db.upgrade()

    def engine(self) -> duckdb.DuckDBPyConnection:
        """A fresh connection to the hub's embedded DuckDB, memory-capped, spilling to the lake's
        disk. The database is made once (that costs ~35 ms, a connection to it nothing); what a
        connection registers or creates as temporary goes when it is closed."""
        with self._duckdb_lock:
            if self._duckdb is None:
                self._duckdb = duckdb.connect(
                    config={
                        "memory_limit": self.settings.duckdb_memory_limit,
                        "temp_directory": str(self.lake.staging() / "duckdb"),
                        "preserve_insertion_order": True,  # reject line numbers rely on order
                    }
                )
                if self.settings.duckdb_threads:
                    self._duckdb.execute(f"SET threads = {int(self.settings.duckdb_threads)}")
            return self._duckdb.cursor()

    @property
    def home(self) -> Path:
        return self.settings.home

    def close(self) -> None:
        with self._duckdb_lock:
            if self._duckdb is not None:
                self._duckdb.close()
                self._duckdb = None
        self.db.dispose()
