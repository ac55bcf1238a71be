"""The sync runner: one source file into one dataset, as one atomic new version.

decode (beside the scan) → infer types on a sample → one engine pass converting every row →
rejects split off → versioned commit → profile → catalog update. Any failure before the commit
leaves the last good version exactly as it was; rejected rows are kept with their reasons either
way.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from deltalake.exceptions import DeltaError

from cityhub.catalog import service
from cityhub.catalog.models import Dataset, FieldInfo, SchemaChange, SyncRun
from cityhub.catalog.names import assign_names
from cityhub.catalog.profiling import profile_files
from cityhub.catalog.search import index_dataset
from cityhub.catalog.vocab import DataType
from cityhub.errors import (
    CityhubError,
    InvalidInput,
    RejectRatioExceeded,
    SchemaDrift,
    SyncFailed,
)
from cityhub.hub import Hub
from cityhub.ingest.drift import Change, Column, compare
from cityhub.ingest.formats import ReadOptions, detect_format
from cityhub.ingest.infer import ColumnPlan, arrow_data_type, plan_columns, select_sql
from cityhub.ingest.prepare import Prepared, prepare_csv, prepare_tables
from cityhub.ingest.source import PLACE_COLUMN, SHEET_COLUMN, Reject
from cityhub.lake import Mode

REJECTS_SCHEMA = pa.schema(
    [
        ("sync_id", pa.int64()),
        ("file", pa.string()),
        ("sheet", pa.string()),
        ("line", pa.int64()),
        ("column", pa.string()),
        ("reason", pa.string()),
        ("raw", pa.string()),
        ("at", pa.timestamp("us", tz="UTC")),
    ]
)


class Progress(Protocol):
    """What a long sync reports as it goes (the CLI draws it as progress bars)."""

    def start(self, label: str, total_bytes: int | None) -> None: ...
    def update(self, *, bytes_done: int | None = None, rows: int | None = None) -> None: ...


@dataclass
class SyncOptions:
    mode: Mode = "replace"
    format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    skip_rows: int = 0
    nested: str = "flatten"  # JSON objects: flattened to parent.child columns, or "json" text
    geometry: str = "wkt"  # GeoJSON geometry as WKT text, or "wkb" bytes
    key: list[str] | None = None  # upsert key (titles or names); default: the dataset's keys
    allow_breaking: bool = False
    max_reject_ratio: float | None = None  # default: the settings'


@dataclass
class SyncResult:
    sync_id: int
    dataset: str
    source: str
    status: str
    version: int | None = None
    rows_read: int = 0
    rows_written: int = 0
    rows_rejected: int = 0
    rows_skipped: int = 0
    table_rows: int | None = None  # rows in the dataset at the new version
    seconds: float = 0.0
    source_hash: str | None = None
    message: str | None = None
    notes: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    # Seconds spent in each step (prepare, plan, write, catalog, rejects, hash): where a slow
    # sync's time went. "write" is the engine's scan and conversion and the versioned commit,
    # which run as one stream.
    phases: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timing(self, phase: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.phases[phase] = self.phases.get(phase, 0.0) + time.perf_counter() - began


class _Hasher(threading.Thread):
    """SHA-256 of the source beside the ingest (hashlib releases the GIL on large blocks)."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.digest = path, ""

    def run(self) -> None:
        h = hashlib.sha256()
        with self.path.open("rb") as f:
            while block := f.read(8 << 20):
                h.update(block)
        self.digest = "sha256:" + h.hexdigest()


@dataclass
class _Split:
    """Divides the converted stream into rows to store and rows to reject, counting both."""

    prepared: Prepared
    reject_limit: float
    keep: list[str]
    progress: Progress | None = None
    seen: int = 0  # records read from the stream, rejected ones included
    rows: int = 0  # records kept
    bad_rows: list[tuple[int, int | None, str | None, str]] = field(default_factory=list)
    failure: CityhubError | None = None

    def batches(self, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        for batch in reader:
            bad = batch.column("__bad")
            if bad.null_count < batch.num_rows:
                self._keep_bad(batch, bad)
                self.seen += batch.num_rows
                batch = batch.filter(pc.is_null(bad))
            else:
                self.seen += batch.num_rows
            self.rows += batch.num_rows
            if self.progress:
                per_row = self.prepared.bytes_per_row
                self.progress.update(
                    rows=self.rows, bytes_done=int(self.seen * per_row) if per_row else None
                )
            yield batch.select(self.keep)
        self._check_ratio()

    def _keep_bad(self, batch: pa.RecordBatch, bad: pa.Array) -> None:
        idx = pc.indices_nonzero(pc.is_valid(bad)).to_pylist()  # few: bounded by the ratio
        names = batch.schema.names
        places = (
            batch.column(PLACE_COLUMN).take(idx).to_pylist()
            if PLACE_COLUMN in names
            else [None] * len(idx)
        )
        sheets = (
            batch.column(SHEET_COLUMN).take(idx).to_pylist()
            if SHEET_COLUMN in names
            else [None] * len(idx)
        )
        reasons = bad.take(idx).to_pylist()
        for i, place, sheet, reason in zip(idx, places, sheets, reasons, strict=True):
            self.bad_rows.append((self.seen + i, place, sheet, reason))

    def _check_ratio(self) -> None:
        rejected = len(self.bad_rows) + len(self.prepared.all_rejects())
        total = self.rows + rejected
        if total and rejected / total > self.reject_limit:
            self.failure = RejectRatioExceeded(
                f"{self.prepared.file}: {rejected:,} of {total:,} rows rejected "
                f"({rejected / total:.2%}), above the limit of {self.reject_limit:.2%}; "
                "nothing was committed and the last good version is unchanged. "
                "See the rejects (`cityhub rejects`) or raise --max-reject-ratio."
            )
            raise self.failure

    def rejects(self, titles: list[str]) -> list[Reject]:
        line_of = None if self.prepared.has_place else self.prepared.line_of()
        out = []
        for k, place, sheet, reason in self.bad_rows:
            column = next(
                (t for t in sorted(titles, key=len, reverse=True) if reason.startswith(t + ": ")),
                None,
            )
            line = place if place is not None else (line_of(k) if line_of else None)
            out.append(
                Reject(
                    file=self.prepared.file,
                    sheet=sheet or self.prepared.sheet,
                    line=line,
                    column=column,
                    reason=reason,
                )
            )
        return out


@dataclass(frozen=True)
class _Known:
    """What the catalog already holds of a dataset, read once before a sync."""

    names: dict[str, str]  # title → machine name, for every field it ever had
    types: dict[str, DataType]  # title → type, for the fields it has now
    columns: list[Column]
    keys: list[str]
    connected: bool

    @classmethod
    def of(cls, ds: Dataset) -> _Known:
        present = [f for f in ds.fields if f.present]
        return cls(
            names={f.title: f.name for f in ds.fields},
            types={f.title: DataType(f.data_type) for f in present},
            columns=[Column(f.title, DataType(f.data_type)) for f in present],
            keys=list(ds.key_fields),
            connected=ds.connected,
        )


def _start_run(hub: Hub, code: str, path: Path, opts: SyncOptions) -> tuple[int, _Known]:
    """Record the run as started (so a failure is recorded too), reading what the catalog
    knows of the dataset in the same transaction."""
    with hub.db.session() as s:
        ds = service.get_dataset(s, code)
        run = SyncRun(
            dataset_id=ds.id,
            mode=opts.mode,
            source=str(path),
            operator=hub.settings.operator,
            source_bytes=path.stat().st_size if path.exists() else None,
        )
        s.add(run)
        s.flush()
        return run.id, _Known.of(ds)


def sync_file(
    hub: Hub,
    code: str,
    path: Path,
    opts: SyncOptions | None = None,
    progress: Progress | None = None,
) -> SyncResult:
    """Load `path` into dataset `code` as a new version. Raises SyncFailed (or a SourceError)
    after recording the failed run; the dataset's last good version is then untouched."""
    opts = opts or SyncOptions()
    run_id, known = _start_run(hub, code, path, opts)
    result = SyncResult(sync_id=run_id, dataset=code, source=str(path), status="running")
    began = time.perf_counter()
    try:
        _run(hub, code, path, opts, known, result, progress)
        result.status = "succeeded"
    except Exception as exc:
        result.status = "failed"
        result.message = (
            exc.message if isinstance(exc, CityhubError) else f"{type(exc).__name__}: {exc}"
        )
        if not isinstance(exc, CityhubError):
            raise SyncFailed(f"{path}: {result.message}") from exc
        raise
    finally:
        result.seconds = time.perf_counter() - began
        _finish_run(hub, result)
    return result


def _prepare(
    hub: Hub,
    con: duckdb.DuckDBPyConnection,
    path: Path,
    opts: SyncOptions,
    tag: str,
    progress: Progress | None,
) -> Prepared:
    fmt = detect_format(path, opts.format)
    settings = hub.settings
    if fmt == "csv":
        return prepare_csv(
            con,
            path,
            staging=hub.lake.staging(),
            tag=tag,
            encoding=opts.encoding,
            delimiter=opts.delimiter,
            skip_rows=opts.skip_rows,
            sample_rows=settings.infer_rows,
            progress=(lambda n: progress.update(bytes_done=n)) if progress else None,
        )
    return prepare_tables(
        con,
        path,
        fmt,
        tag=tag,
        read=ReadOptions(sheet=opts.sheet, nested=opts.nested, geometry=opts.geometry),
        batch_rows=settings.batch_rows,
        sample_rows=settings.infer_rows,
    )


def _plan(
    con: duckdb.DuckDBPyConnection, prepared: Prepared, known: _Known, tag: str
) -> list[ColumnPlan]:
    titles = prepared.titles
    names = assign_names(titles, known.names)
    source_schema = pa.schema([prepared.sample.schema.field(t) for t in titles])
    con.register(f"sample_{tag}", prepared.sample)
    return plan_columns(
        con, f'"sample_{tag}"', source_schema, names, known.types, native=prepared.is_csv
    )


def _run(
    hub: Hub,
    code: str,
    path: Path,
    opts: SyncOptions,
    known: _Known,
    result: SyncResult,
    progress: Progress | None,
) -> None:
    settings = hub.settings
    hasher = _Hasher(path)  # runs beside the load; its digest is recorded with the run
    hasher.start()
    if progress:
        progress.start(f"{code} ← {path.name}", path.stat().st_size)
    con = hub.engine()
    tag = uuid.uuid4().hex[:12]
    prepared: Prepared | None = None
    split: _Split | None = None
    try:
        with result.timing("prepare"):
            prepared = _prepare(hub, con, path, opts, tag, progress)
        with result.timing("plan"):
            plans = _plan(con, prepared, known, tag)
        changes = (
            compare(known.columns, [Column(p.title, p.data_type) for p in plans])
            if known.connected
            else []
        )
        result.changes = [c.describe() for c in changes]
        breaking = [c for c in changes if c.breaking]
        if breaking and not opts.allow_breaking:
            raise SchemaDrift(
                f"{path}: breaking schema change for dataset {code!r}: "
                + "; ".join(c.describe() for c in breaking)
                + ". Nothing was committed; pass --allow-breaking to accept it."
            )
        key_names = _key_names(opts.key or known.keys, plans, opts.mode)
        extra = [c for c in (PLACE_COLUMN, SHEET_COLUMN) if c in prepared.sample.column_names]
        reader = prepared.read(
            plans, lambda source: select_sql(plans, source, extra), settings.batch_rows
        )
        ratio = (
            settings.max_reject_ratio if opts.max_reject_ratio is None else opts.max_reject_ratio
        )
        keep = [p.name for p in plans]
        split = _Split(prepared, ratio, keep, progress)
        out = pa.RecordBatchReader.from_batches(
            pa.schema([reader.schema.field(k) for k in keep]), split.batches(reader)
        )
        evolve: Literal["merge", "overwrite"] | None = (
            "overwrite" if breaking and opts.mode == "replace" else "merge" if changes else None
        )
        try:
            with result.timing("write"):
                version = hub.lake.write(
                    code,
                    out,
                    mode=opts.mode,
                    key=key_names,
                    evolve=evolve,
                    metadata={
                        "source": str(path),
                        "operator": settings.operator,
                        "sync_id": result.sync_id,
                    },
                )
        except DeltaError as exc:
            if split.failure is not None:
                raise split.failure from None
            raise SyncFailed(f"{path}: the lake refused the write: {exc}") from exc
        result.version = version
        result.rows_written = split.rows
        with result.timing("catalog"):
            result.table_rows = _refresh_catalog(
                hub, con, code, version, plans, changes, result.sync_id
            )
    finally:
        if prepared is not None:  # rejects are kept whatever happened, for inspection
            rejects = prepared.all_rejects() + (split.rejects(prepared.titles) if split else [])
            result.rows_rejected = len(rejects)
            result.rows_read = result.rows_written + len(rejects)
            result.rows_skipped = prepared.rows_skipped()
            result.notes = prepared.all_notes()
            with result.timing("rejects"):
                _store_rejects(hub, code, result.sync_id, rejects)
            prepared.cleanup()
        con.close()
        with result.timing("hash"):  # only what the hashing took beyond the load
            hasher.join()
        result.source_hash = hasher.digest or None


def _key_names(keys: list[str], plans: list[ColumnPlan], mode: str) -> list[str]:
    """Key fields, given by title or machine name, as machine names of this sync's columns."""
    by_any = {**{p.name: p.name for p in plans}, **{p.title: p.name for p in plans}}
    missing = [k for k in keys if k not in by_any]
    if mode == "upsert" and (missing or not keys):
        raise InvalidInput(
            "upsert needs key fields present in the source; "
            + (f"missing: {', '.join(missing)}" if keys else "the dataset declares none (--key)")
        )
    return [by_any[k] for k in keys if k in by_any]


def _refresh_catalog(
    hub: Hub,
    con: duckdb.DuckDBPyConnection,
    code: str,
    version: int,
    plans: list[ColumnPlan],
    changes: list[Change] | None = None,
    sync_id: int | None = None,
) -> int:
    """Bring the catalog in line with lake `version` of `code`, in one DB transaction: fields,
    types, profiles, grades (a steward's override stays), drift, version and row count.
    Types come from this sync's `plans`, or from the stored schema (after a rollback)."""
    schema = hub.lake.schema(code, version)
    with hub.db.session() as s:
        ds = service.get_dataset(s, code)
        by_name = {f.name: f for f in ds.fields}
        plan_by_name = {p.name: p for p in plans}
        for pos, col in enumerate(schema):
            info = by_name.get(col.name)
            plan = plan_by_name.get(col.name)
            if info is None:
                info = FieldInfo(
                    name=col.name,
                    title=plan.title if plan else col.name,
                    position=pos,
                    added_version=version,
                    profile={},
                )
                ds.fields.append(info)
                by_name[col.name] = info
            info.position = pos
            info.data_type = (
                plan.data_type if plan else arrow_data_type(col.type) or DataType.STRING
            ).value
        for info in ds.fields:
            info.present = info.name in schema.names
        # Nothing is flushed before profiling, which reads the new version's files: on SQLite
        # the first write takes the database's write lock until the commit, and every read's
        # audit append would wait on it meanwhile.
        present = [f for f in ds.fields if f.present]
        profiles = profile_files(
            con,
            hub.lake.files(code, version),
            [(f.name, f.title, f.data_type) for f in present],
            sample_rows=hub.settings.profile_rows,
        )
        rows = 0
        for info in present:
            prof = profiles.get(info.name, {})
            rows = int(prof.get("rows", rows))
            info.profile = prof
            info.semantic_type = prof.get("semantic_type")
            if info.grade_override is None:
                info.grade = prof.get("grade") or "L1"
        ds.current_version = version
        ds.row_count = rows if present else 0
        ds.last_sync_at = datetime.now(UTC)
        for c in changes or []:
            s.add(
                SchemaChange(
                    dataset_id=ds.id,
                    sync_id=sync_id,
                    kind=c.kind,
                    field=c.field,
                    old=c.old,
                    new=c.new,
                    breaking=c.breaking,
                    applied=True,
                )
            )
        index_dataset(s, ds)
        return ds.row_count


def rollback_dataset(hub: Hub, code: str, version: int) -> int:
    """Restore `version` of a dataset as a new version, recorded like a sync."""
    with hub.db.session() as s:
        ds = service.get_dataset(s, code)
        run = SyncRun(
            dataset_id=ds.id,
            mode="rollback",
            source=f"version {version}",
            operator=hub.settings.operator,
        )
        s.add(run)
        s.flush()
        run_id = run.id
    result = SyncResult(sync_id=run_id, dataset=code, source=f"version {version}", status="running")
    began = time.perf_counter()
    con = hub.engine()
    try:
        result.version = hub.lake.rollback(
            code,
            version,
            {
                "operator": hub.settings.operator,
                "sync_id": run_id,
                "note": f"rollback to version {version}",
            },
        )
        result.table_rows = _refresh_catalog(hub, con, code, result.version, [])
        result.status = "succeeded"
    except CityhubError as exc:
        result.status, result.message = "failed", exc.message
        raise
    finally:
        con.close()
        result.seconds = time.perf_counter() - began
        _finish_run(hub, result)
    return result.version


def _store_rejects(hub: Hub, code: str, sync_id: int, rejects: list[Reject]) -> None:
    if not rejects:
        return
    now = datetime.now(UTC)
    table = pa.Table.from_pylist(
        [
            {
                "sync_id": sync_id,
                "file": r.file,
                "sheet": r.sheet,
                "line": r.line,
                "column": r.column,
                "reason": r.reason,
                "raw": r.raw,
                "at": now,
            }
            for r in rejects
        ],
        schema=REJECTS_SCHEMA,
    )
    hub.lake.append_rejects(code, table)


def _finish_run(hub: Hub, result: SyncResult) -> None:
    with hub.db.session() as s:
        run = s.get(SyncRun, result.sync_id)
        assert run is not None
        run.status = result.status
        run.finished_at = datetime.now(UTC)
        run.seconds = result.seconds
        run.version = result.version
        run.rows_read = result.rows_read
        run.rows_written = result.rows_written
        run.rows_rejected = result.rows_rejected
        run.table_rows = result.table_rows
        run.source_hash = result.source_hash
        run.message = result.message
        run.notes = result.notes + result.changes
