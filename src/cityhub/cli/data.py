"""Loading data and looking after its versions: ingest, history, show, rollback, rejects."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from cityhub.access import Door, operator
from cityhub.access.audit import AuditEntry, AuditLog
from cityhub.catalog import service
from cityhub.cli.common import (
    JsonOpt,
    app,
    command,
    err,
    open_hub,
    out,
    print_json,
    table,
)
from cityhub.errors import CityhubError
from cityhub.hub import Hub
from cityhub.ingest import (
    Job,
    SyncOptions,
    SyncResult,
    apply_catalog,
    is_manifest,
    load_manifest,
    rollback_dataset,
)
from cityhub.ingest import history as history_of
from cityhub.ingest import sync_file as run_sync
from cityhub.lake import Mode
from cityhub.query import Engine, RowsQuery
from cityhub.query import rows as read_rows
from cityhub.query.spec import MAX_PAGE


# -- ingest -------------------------------------------------------------------------------------
class _RichProgress:
    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.task: Any = None

    def start(self, label: str, total_bytes: int | None) -> None:
        self.total = total_bytes
        self.task = self.bar.add_task(label, total=total_bytes, rows=0)

    def update(self, *, bytes_done: int | None = None, rows: int | None = None) -> None:
        if bytes_done is not None:  # may be an estimate: never past the end
            self.bar.update(self.task, completed=min(bytes_done, self.total or bytes_done))
        if rows is not None:
            self.bar.update(self.task, rows=rows)


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


def run_jobs(hub: Hub, jobs: list[Job]) -> tuple[list[SyncResult], list[str]]:
    """Load every job with a progress bar each; a failed job is said at once and the rest go on.
    Returns the results and the failures' messages."""
    results: list[SyncResult] = []
    failures: list[str] = []
    with _progress_bar() as bar:
        for job in jobs:
            progress = _RichProgress(bar)
            try:
                results.append(run_sync(hub, job.dataset, job.path, job.options, progress))
                bar.update(progress.task, completed=progress.total)
            except CityhubError as exc:
                failures.append(exc.message)
                err.print(f"[red]failed[/] {job.dataset} ← {job.path}: {exc.message}")
    return results, failures


def report(r: SyncResult) -> None:
    colour = "green" if r.status == "succeeded" else "red"
    err.print(
        f"[{colour}]{r.status}[/] {r.dataset} v{r.version if r.version is not None else '-'}"
        f": {r.rows_written:,} rows stored, {r.rows_rejected:,} rejected"
        + (f", {r.rows_skipped:,} left out (totals/notes)" if r.rows_skipped else "")
        + f" in {r.seconds:.1f}s"
    )
    for line in r.notes + r.changes:
        err.print(f"  · {line}")
    if r.rows_rejected:
        err.print(f"  see them with: cityhub rejects {r.dataset} --sync {r.sync_id}")


@command(app)
def ingest(
    path: Annotated[Path, typer.Argument(help="a data file, or a source file (.toml/.yaml)")],
    dataset: Annotated[str | None, typer.Option("--dataset", "-d")] = None,
    mode: Annotated[str, typer.Option(help="replace, append or upsert")] = "replace",
    key: Annotated[list[str] | None, typer.Option(help="upsert key field (repeatable)")] = None,
    encoding: Annotated[
        str | None, typer.Option(help="force a text encoding, e.g. gb18030")
    ] = None,
    delimiter: Annotated[str | None, typer.Option()] = None,
    sheet: Annotated[str | None, typer.Option(help="Excel sheet (default: all)")] = None,
    skip_rows: Annotated[int, typer.Option(help="title lines above a CSV header")] = 0,
    format: Annotated[str | None, typer.Option(help="csv/excel/json/geojson/parquet")] = None,
    nested: Annotated[str, typer.Option(help="JSON objects: flatten or json")] = "flatten",
    geometry: Annotated[str, typer.Option(help="GeoJSON geometry: wkt or wkb")] = "wkt",
    allow_breaking: Annotated[
        bool, typer.Option(help="accept removed/renamed/retyped fields")
    ] = False,
    max_reject_ratio: Annotated[float | None, typer.Option(help="default 0.01 (1 %)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Load a file into a dataset as a new version, or every source of a source file."""
    hub = open_hub()
    if mode not in ("replace", "append", "upsert"):
        raise CityhubError(f"--mode must be replace, append or upsert, not {mode!r}")
    if is_manifest(path):
        manifest = load_manifest(path)
        apply_catalog(hub, manifest)
        jobs = manifest.jobs()
    else:
        if not dataset:
            raise CityhubError("--dataset is required when PATH is a data file")
        options = SyncOptions(
            mode=cast(Mode, mode),
            format=format,
            encoding=encoding,
            delimiter=delimiter,
            sheet=sheet,
            skip_rows=skip_rows,
            nested=nested,
            geometry=geometry,
            key=key,
            allow_breaking=allow_breaking,
            max_reject_ratio=max_reject_ratio,
        )
        jobs = [Job(dataset, path, options)]
    results, failures = run_jobs(hub, jobs)
    if as_json:
        print_json({"results": results, "failures": failures})
    else:
        for r in results:
            report(r)
    if failures:
        raise typer.Exit(1)


# -- versions ---------------------------------------------------------------------------------
@command(app)
def history(dataset: str, as_json: JsonOpt = False) -> None:
    """Versions of a dataset: time, rows, source file and hash, operator."""
    versions = history_of(open_hub(), dataset)
    if as_json:
        return print_json(versions)
    table(
        f"{dataset} versions",
        ["version", "time", "operation", "rows", "source", "hash", "operator"],
        [
            [
                v.version,
                v.time.strftime("%Y-%m-%d %H:%M:%S"),
                v.operation,
                f"{v.rows:,}" if v.rows is not None else "",
                v.source or v.note,
                (v.source_hash or "")[:19],
                v.operator,
            ]
            for v in versions
        ],
    )


@command(app)
def show(
    dataset: str,
    version: Annotated[int | None, typer.Option(help="an older version")] = None,
    limit: Annotated[int, typer.Option()] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Rows of a dataset (the current version, or --version N), read as the center's operator
    through the access door and written to the audit log like any read."""
    hub = open_hub()
    door = Door(hub.lake, AuditLog(hub.db, hub.settings.audit_hash))
    who = operator(hub.settings.operator)
    with hub.db.session() as s:
        view = door.table(s, who, dataset, version)
    engine = Engine(hub.settings)
    try:
        page = read_rows(engine, view, RowsQuery(limit=min(limit, MAX_PAGE)))
    finally:
        engine.close()
    door.record_read(who, view, len(page.rows), f"cli show limit={limit}")
    if as_json:
        return print_json(page.rows)
    names = [c.name for c in page.fields]
    table(
        f"{dataset} v{view.version}",
        names,
        [[r[n] for n in names] for r in page.rows],
    )


@command(app)
def rollback(dataset: str, version: int) -> None:
    """Make an old version current again, as a new version (nothing is erased)."""
    new = rollback_dataset(open_hub(), dataset, version)
    out.print(f"{dataset}: version {version} restored as version {new}")


@command(app)
def rejects(
    dataset: str,
    sync: Annotated[int | None, typer.Option(help="one sync only")] = None,
    limit: Annotated[int, typer.Option()] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Rows that could not be stored, with file, place and reason (they hold source values:
    the read is audited)."""
    hub = open_hub()
    found = hub.lake.rejects(dataset, sync)
    rows = found.slice(0, limit).to_pylist() if found.num_columns else []
    entry = AuditEntry(
        action="rejects.read", actor=hub.settings.operator, dataset=dataset, rows=len(rows)
    )
    AuditLog(hub.db, hub.settings.audit_hash).append(entry)
    if as_json:
        return print_json(rows)
    table(
        f"{dataset} rejects ({found.num_rows:,})",
        ["sync", "file", "sheet", "line", "column", "reason"],
        [
            [r["sync_id"], Path(r["file"]).name, r["sheet"], r["line"], r["column"], r["reason"]]
            for r in rows
        ],
    )


@command(app)
def syncs(
    dataset: Annotated[str | None, typer.Argument()] = None,
    limit: Annotated[int, typer.Option()] = 30,
    as_json: JsonOpt = False,
) -> None:
    """Recent sync runs and how they ended."""
    with open_hub().db.session() as s:
        rows: list[dict[str, Any]] = [
            {
                "id": r.id,
                "status": r.status,
                "mode": r.mode,
                "source": r.source,
                "version": r.version,
                "rows": r.rows_written,
                "rejected": r.rows_rejected,
                "seconds": r.seconds,
                "started_at": r.started_at,
                "message": r.message,
            }
            for r in service.sync_runs(s, dataset, limit)
        ]
    if as_json:
        return print_json(rows)
    table(
        "sync runs",
        ["id", "status", "mode", "source", "version", "rows", "rejected", "s", "message"],
        [
            [
                r["id"],
                r["status"],
                r["mode"],
                Path(r["source"]).name,
                r["version"],
                r["rows"],
                r["rejected"],
                f"{r['seconds'] or 0:.1f}",
                r["message"],
            ]
            for r in rows
        ],
    )
