"""Fast lookups by key: which rows a key filter can find in a version's key index.

The server keeps the key indexes of the versions it serves mapped in memory and builds missing
ones in one background thread, one at a time (each build sorts a whole version; two at once
would fight over the two cores and the engine's memory). Until an index is ready the query
scans, so answers never wait for an index and never depend on one.
"""

from __future__ import annotations

import fcntl
import logging
import queue
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.orm import Session

from cityhub.access import Door, TableView, operator
from cityhub.catalog.models import Dataset
from cityhub.config import Settings
from cityhub.lake import keyindex
from cityhub.lake.keyindex import KeyIndex
from cityhub.query.spec import Filter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexKey:
    code: str
    version: int
    field: str  # machine name of the key column


class Lookups:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.lake_path
        self._open: dict[IndexKey, KeyIndex] = {}
        self._wanted: dict[IndexKey, list[str]] = {}  # queued or building: the version's files
        self._lock = threading.Lock()
        self._queue: queue.Queue[IndexKey | None] = queue.Queue()
        self._closed = threading.Event()
        self._worker = threading.Thread(target=self._build_loop, name="key-index", daemon=True)
        self._worker.start()

    # -- asking ------------------------------------------------------------------------------
    def index(self, view: TableView, field: str, *, opening: bool = True) -> KeyIndex | None:
        """The ready index of `field` in this version, or None (and a build is queued). Not
        `opening`: only an index already open, None without a look at the disk (opening one
        maps its file and reads a sample of its keys, a fraction of a second when large)."""
        key = IndexKey(view.code, view.version, field)
        with self._lock:
            found = self._open.get(key)
            if found is not None or key in self._wanted or not opening:
                return found
        path = keyindex.index_path(self.root, key.code, key.version, key.field)
        if path.is_file():
            opened = KeyIndex(path, field)
            with self._lock:
                return self._open.setdefault(key, opened)
        self.want(view, field)
        return None

    def status(self, view: TableView, field: str) -> str:
        """ready, building (or queued), or missing."""
        key = IndexKey(view.code, view.version, field)
        path = keyindex.index_path(self.root, key.code, key.version, key.field)
        with self._lock:
            if key in self._open or path.is_file():
                return "ready"
            return "building" if key in self._wanted else "missing"

    def candidates(
        self,
        view: TableView,
        key_field: str | None,
        filters: list[Filter],
        *,
        opening: bool = True,
    ) -> pa.Table | None:
        """The only rows an `eq` or `in` filter on the key field can match, from the index;
        None when no such filter is given or the index is not ready (then the query scans),
        or, not `opening`, not yet open (see `index`)."""
        if key_field is None:
            return None
        for f in filters:
            if f.op not in ("eq", "in") or view.column(f.field).name != key_field:
                continue
            index = self.index(view, key_field, opening=opening)
            if index is None:
                return None
            arrow_type = index.table.schema.field(key_field).type
            raw = f.value if isinstance(f.value, list) else [f.value]
            values = [keyindex.same_type(v, arrow_type) for v in raw]
            if any(v is None for v in values):
                return None  # not of the key's type: the scan reports it as it always does
            return index.find(values)
        return None

    # -- building ----------------------------------------------------------------------------
    def want(self, view: TableView, field: str) -> None:
        key = IndexKey(view.code, view.version, field)
        with self._lock:
            if key in self._wanted or key in self._open:
                return
            self._wanted[key] = list(view.files)
        self._queue.put(key)

    def want_all(self, s: Session, door: Door) -> None:
        """Queue the missing indexes of every current version with a key (at server start)."""
        served = s.scalars(sa.select(Dataset).where(Dataset.current_version.is_not(None)))
        for code in [ds.code for ds in served if ds.key_fields]:
            view = door.table(s, operator(), code)
            if view.key_field is not None and self.status(view, view.key_field) == "missing":
                self.want(view, view.key_field)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every queued build is done (tests, benchmarks, the demo)."""
        done = threading.Event()

        def watch() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=watch, daemon=True).start()
        return done.wait(timeout)

    def _build_loop(self) -> None:
        while True:
            key = self._queue.get()
            try:
                if key is None:
                    return
                if not self._closed.is_set():  # builds still queued at shutdown are dropped
                    self._build(key)
            except Exception:  # a failed build only costs speed; the query scans
                log.exception("could not build the key index of %s", key)
            finally:
                if key is not None:
                    with self._lock:
                        self._wanted.pop(key, None)
                self._queue.task_done()

    def _build(self, key: IndexKey) -> None:
        with self._lock:
            files = self._wanted[key]
        path = keyindex.index_path(self.root, key.code, key.version, key.field)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Server processes (workers) share the lake: one builds, the others wait and map it.
        with open(path.with_name(path.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.is_file():
                self._sort(key, files, path)
        opened = KeyIndex(path, key.field)
        with self._lock:
            self._open[key] = opened
            for k in [k for k in self._open if k.code == key.code and k.version < key.version]:
                del self._open[k]
        # Older versions of the same key are scanned from now on (time travel is rare); a file
        # still mapped by a reader stays readable until it is unmapped.
        for older in path.parent.glob(f"v*.{path.name.split('.', 1)[1]}"):
            if older != path and int(older.name[1:].split(".", 1)[0]) < key.version:
                older.unlink(missing_ok=True)
                older.with_name(older.name + ".lock").unlink(missing_ok=True)

    def _sort(self, key: IndexKey, files: list[str], path: Path) -> None:
        con = duckdb.connect(
            config={
                "memory_limit": self.settings.duckdb_memory_limit,
                "temp_directory": str(self.root / "staging" / "key-index"),
                "preserve_insertion_order": False,
            }
        )
        try:
            keyindex.build(con, files, key.field, path, self.settings.batch_rows)
        finally:
            con.close()
        log.info("key index of %s v%d by %s built", key.code, key.version, key.field)

    def close(self) -> None:
        self._closed.set()
        self._queue.put(None)
        self._worker.join(timeout=5)
