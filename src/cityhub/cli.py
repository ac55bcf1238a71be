"""The `cityhub` command: a thin layer over the library. Listing commands take --json."""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from cityhub.catalog import service
from cityhub.catalog.search import search
from cityhub.catalog.vocab import DataType, OpenType, ShareType
from cityhub.config import load_settings
from cityhub.errors import CityhubError
from cityhub.hub import Hub
from cityhub.ingest import (
    SyncOptions,
    SyncResult,
    apply_catalog,
    is_manifest,
    load_manifest,
    rollback_dataset,
)
from cityhub.ingest import sync_file as run_sync

app = typer.Typer(help="cityhub: the city's big data center (城市大数据中心)",
                  no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="The metadata database", no_args_is_help=True)
dept_app = typer.Typer(help="Departments (委办局)", no_args_is_help=True)
dataset_app = typer.Typer(help="Datasets (信息资源) in the catalog", no_args_is_help=True)
field_app = typer.Typer(help="Fields (信息项)", no_args_is_help=True)
catalog_app = typer.Typer(help="Browse and search the catalog", no_args_is_help=True)
for sub, name in ((db_app, "db"), (dept_app, "department"), (dataset_app, "dataset"),
                  (field_app, "field"), (catalog_app, "catalog")):
    app.add_typer(sub, name=name)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts")]


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(_jsonable(value), ensure_ascii=False, indent=2) + "\n")


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    t = Table(title=title, show_lines=False)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    out.print(t)


def _command(group: typer.Typer, name: str | None = None) -> Callable[[F], F]:
    """Register a command whose cityhub errors end as a one-line message and exit code 2."""

    def register(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except CityhubError as exc:
                err.print(f"[red]error:[/] {exc.message}")
                raise typer.Exit(2) from exc

        group.command(name)(run)
        return fn

    return register


def _hub() -> Hub:
    return Hub.open(load_settings())


# -- setup ---------------------------------------------------------------------------------------
@_command(app)
def init() -> None:
    """Create the home folder (metadata DB + lake) and migrate the schema."""
    hub = Hub(load_settings())
    hub.init()
    out.print(f"[green]cityhub home ready[/] at {hub.home.resolve()}  "
              f"(metadata: {hub.db.dialect}, lake: {hub.lake.root})")


@_command(db_app, "upgrade")
def db_upgrade() -> None:
    """Apply pending migrations (safe to run again)."""
    hub = Hub(load_settings())
    hub.db.upgrade()
    out.print("metadata DB is at the current schema")


@_command(app, "config")
def show_config(as_json: JsonOpt = False) -> None:
    """Every setting, its environment variable, value and meaning."""
    rows = load_settings().describe()
    if as_json:
        return _print_json(rows)
    _table("settings (cityhub.toml or CITYHUB_*)", ["name", "env", "value", "description"],
           [[r["name"], r["env"], r["value"], r["description"]] for r in rows])


# -- departments and datasets ---------------------------------------------------------------------
@_command(dept_app, "add")
def department_add(code: str, name: str,
                   name_en: Annotated[str | None, typer.Option()] = None,
                   kind: Annotated[str, typer.Option(help="government or enterprise")] =
                   "government") -> None:
    """Register (or rename) a department."""
    with _hub().db.session() as s:
        service.upsert_department(s, code, name, name_en=name_en, kind=kind)
    out.print(f"department {code} {name} saved")


@_command(dept_app, "list")
def department_list(as_json: JsonOpt = False) -> None:
    with _hub().db.session() as s:
        rows = [{"code": d.code, "name": d.name, "name_en": d.name_en, "kind": d.kind,
                 "datasets": len(d.datasets)} for d in service.list_departments(s)]
    if as_json:
        return _print_json(rows)
    _table("departments", ["code", "name", "kind", "datasets"],
           [[r["code"], r["name"], r["kind"], r["datasets"]] for r in rows])


@_command(dataset_app, "add")
def dataset_add(
    code: Annotated[str, typer.Argument(help="资源代码 resource code")],
    department: Annotated[str, typer.Option(help="provider department code")],
    name: Annotated[str, typer.Option(help="资源名称")],
    summary: Annotated[str | None, typer.Option(help="资源摘要")] = None,
    share_type: Annotated[str | None, typer.Option(help="无条件共享/有条件共享/不予共享")] = None,
    share_condition: Annotated[str | None, typer.Option()] = None,
    open_type: Annotated[str | None, typer.Option(help="无条件开放/有条件开放/不予开放")] = None,
    open_condition: Annotated[str | None, typer.Option()] = None,
    legal_basis: Annotated[str | None, typer.Option(help="required for 不予共享")] = None,
    update_cycle: Annotated[str | None, typer.Option(help="每日/每月/... or daily/monthly/...")]
    = None,
    format: Annotated[str | None, typer.Option(help="资源格式")] = None,
    classification: Annotated[str | None, typer.Option(help="资源分类")] = None,
    publish_date: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    themes: Annotated[str | None, typer.Option(help="comma separated")] = None,
    tags: Annotated[str | None, typer.Option(help="comma separated")] = None,
    key: Annotated[str | None, typer.Option(help="key fields for upsert and lookups")] = None,
) -> None:
    """Catalog a dataset (it may stay without data: cataloged but not connected)."""
    with _hub().db.session() as s:
        service.upsert_dataset(
            s, code, department, name=name, summary=summary, share_type=share_type,
            share_condition=share_condition, open_type=open_type, open_condition=open_condition,
            legal_basis=legal_basis, update_cycle=update_cycle, format=format,
            classification=classification, publish_date=publish_date, themes=themes, tags=tags,
            key_fields=key)
    out.print(f"dataset {code} saved")


@_command(field_app, "set")
def field_set(dataset: str, field: Annotated[str, typer.Argument(help="field name or title")],
              grade: Annotated[str | None, typer.Option(help="L1-L4; overrides detection")]
              = None,
              title: Annotated[str | None, typer.Option()] = None,
              description: Annotated[str | None, typer.Option()] = None) -> None:
    """Edit a field; a grade set here survives later syncs."""
    with _hub().db.session() as s:
        info = service.set_field(s, dataset, field, grade=grade, title=title,
                                 description=description)
        out.print(f"{dataset}.{info.name} ({info.title}): grade {info.grade}")


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
    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), TextColumn("{task.fields[rows]:,} rows"),
                    TimeElapsedColumn(), console=err, transient=False)


def _report(r: SyncResult) -> None:
    colour = "green" if r.status == "succeeded" else "red"
    err.print(f"[{colour}]{r.status}[/] {r.dataset} v{r.version if r.version is not None else '-'}"
              f": {r.rows_written:,} rows stored, {r.rows_rejected:,} rejected"
              + (f", {r.rows_skipped:,} left out (totals/notes)" if r.rows_skipped else "")
              + f" in {r.seconds:.1f}s")
    for line in r.notes + r.changes:
        err.print(f"  · {line}")
    if r.rows_rejected:
        err.print(f"  see them with: cityhub rejects {r.dataset} --sync {r.sync_id}")


@_command(app)
def ingest(
    path: Annotated[Path, typer.Argument(help="a data file, or a source file (.toml/.yaml)")],
    dataset: Annotated[str | None, typer.Option("--dataset", "-d")] = None,
    mode: Annotated[str, typer.Option(help="replace, append or upsert")] = "replace",
    key: Annotated[list[str] | None, typer.Option(help="upsert key field (repeatable)")] = None,
    encoding: Annotated[str | None, typer.Option(help="force a text encoding, e.g. gb18030")]
    = None,
    delimiter: Annotated[str | None, typer.Option()] = None,
    sheet: Annotated[str | None, typer.Option(help="Excel sheet (default: all)")] = None,
    skip_rows: Annotated[int, typer.Option(help="title lines above a CSV header")] = 0,
    format: Annotated[str | None, typer.Option(help="csv/excel/json/geojson/parquet")] = None,
    nested: Annotated[str, typer.Option(help="JSON objects: flatten or json")] = "flatten",
    allow_breaking: Annotated[bool, typer.Option(help="accept removed/renamed/retyped fields")]
    = False,
    max_reject_ratio: Annotated[float | None, typer.Option(help="default 0.01 (1 %)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Load a file into a dataset as a new version, or every source of a source file."""
    hub = _hub()
    if mode not in ("replace", "append", "upsert"):
        raise CityhubError(f"--mode must be replace, append or upsert, not {mode!r}")
    jobs: list[tuple[str, Path, SyncOptions]] = []
    if is_manifest(path):
        manifest = load_manifest(path)
        apply_catalog(hub, manifest)
        for spec in manifest.sources:
            for i, p in enumerate(spec.paths):
                opts = dataclasses.replace(spec.options, mode="append") if i else spec.options
                jobs.append((spec.dataset, p, opts))
    else:
        if not dataset:
            raise CityhubError("--dataset is required when PATH is a data file")
        jobs.append((dataset, path, SyncOptions(
            mode=mode, format=format, encoding=encoding, delimiter=delimiter,  # type: ignore[arg-type]
            sheet=sheet, skip_rows=skip_rows, nested=nested, key=key,
            allow_breaking=allow_breaking, max_reject_ratio=max_reject_ratio)))
    results: list[SyncResult] = []
    failures: list[str] = []
    with _progress_bar() as bar:
        for code, p, opts in jobs:
            progress = _RichProgress(bar)
            try:
                results.append(run_sync(hub, code, p, opts, progress))
                bar.update(progress.task, completed=progress.total)
            except CityhubError as exc:
                failures.append(exc.message)
                err.print(f"[red]failed[/] {code} ← {p}: {exc.message}")
    if as_json:
        _print_json({"results": results, "failures": failures})
    else:
        for r in results:
            _report(r)
    if failures:
        raise typer.Exit(1)


# -- versions ---------------------------------------------------------------------------------
@_command(app)
def history(dataset: str, as_json: JsonOpt = False) -> None:
    """Versions of a dataset: time, rows, source file and hash, operator."""
    hub = _hub()
    rows_by_sync = {}
    with hub.db.session() as s:
        for run in service.sync_runs(s, dataset, limit=10_000):
            rows_by_sync[run.id] = run.table_rows
    versions = []
    for v in hub.lake.history(dataset):
        rows = v.rows if v.rows is not None else rows_by_sync.get(v.sync_id or -1)
        versions.append({**dataclasses.asdict(v), "rows": rows})
    if as_json:
        return _print_json(versions)
    _table(f"{dataset} versions", ["version", "time", "operation", "rows", "source", "hash",
                                   "operator"],
           [[v["version"], v["time"].strftime("%Y-%m-%d %H:%M:%S"), v["operation"],
             f"{v['rows']:,}" if v["rows"] is not None else "", v["source"] or v["note"],
             (v["source_hash"] or "")[:19], v["operator"]] for v in versions])


@_command(app)
def show(dataset: str,
         version: Annotated[int | None, typer.Option(help="an older version")] = None,
         limit: Annotated[int, typer.Option()] = 20, as_json: JsonOpt = False) -> None:
    """Rows of a dataset (the current version, or --version N)."""
    table = _hub().lake.read(dataset, version, limit=limit)
    rows = table.to_pylist()
    if as_json:
        return _print_json(rows)
    _table(f"{dataset}" + (f" v{version}" if version is not None else ""), table.column_names,
           [[r[c] for c in table.column_names] for r in rows])


@_command(app)
def rollback(dataset: str, version: int) -> None:
    """Make an old version current again, as a new version (nothing is erased)."""
    new = rollback_dataset(_hub(), dataset, version)
    out.print(f"{dataset}: version {version} restored as version {new}")


@_command(app)
def rejects(dataset: str, sync: Annotated[int | None, typer.Option(help="one sync only")] = None,
            limit: Annotated[int, typer.Option()] = 50, as_json: JsonOpt = False) -> None:
    """Rows that could not be stored, with file, place and reason."""
    table = _hub().lake.rejects(dataset, sync)
    rows = table.slice(0, limit).to_pylist() if table.num_columns else []
    if as_json:
        return _print_json(rows)
    _table(f"{dataset} rejects ({table.num_rows:,})", ["sync", "file", "sheet", "line", "column",
                                                       "reason"],
           [[r["sync_id"], Path(r["file"]).name, r["sheet"], r["line"], r["column"], r["reason"]]
            for r in rows])


@_command(app)
def syncs(dataset: Annotated[str | None, typer.Argument()] = None,
          limit: Annotated[int, typer.Option()] = 30, as_json: JsonOpt = False) -> None:
    """Recent sync runs and how they ended."""
    with _hub().db.session() as s:
        rows: list[dict[str, Any]] = [
                {"id": r.id, "status": r.status, "mode": r.mode, "source": r.source,
                 "version": r.version, "rows": r.rows_written, "rejected": r.rows_rejected,
                 "seconds": r.seconds, "started_at": r.started_at, "message": r.message}
                for r in service.sync_runs(s, dataset, limit)]
    if as_json:
        return _print_json(rows)
    _table("sync runs", ["id", "status", "mode", "source", "version", "rows", "rejected", "s",
                         "message"],
           [[r["id"], r["status"], r["mode"], Path(r["source"]).name, r["version"], r["rows"],
             r["rejected"], f"{r['seconds'] or 0:.1f}", r["message"]] for r in rows])


# -- statistics and catalog ---------------------------------------------------------------------
@_command(app)
def stats(as_json: JsonOpt = False) -> None:
    """The center's headline figures, live: departments connected and cataloged, datasets,
    fields, records; and the same per department."""
    with _hub().db.session() as s:
        st = service.stats(s)
    if as_json:
        return _print_json(st)
    out.print(f"部门接入 departments connected  [bold]{st.departments_connected:,}[/]\n"
              f"部门编目 departments cataloged  [bold]{st.departments_cataloged:,}[/]\n"
              f"数据集   datasets                [bold]{st.datasets:,}[/]"
              f" ({st.datasets_connected:,} with data)\n"
              f"信息项   fields                  [bold]{st.fields:,}[/]\n"
              f"记录数   records                 [bold]{st.records:,}[/]")
    _table("per department", ["code", "name", "datasets", "connected", "fields", "records"],
           [[r["code"], r["name"], r["datasets"], r["connected"], f"{r['fields']:,}",
             f"{r['records']:,}"] for r in st.per_department])


def _dataset_row(ds: Any) -> dict[str, Any]:
    return {"code": ds.code, "name": ds.name, "department": ds.department.code,
            "department_name": ds.department.name,
            "share_type": ds.share_type, "open_type": ds.open_type,
            "update_cycle": ds.update_cycle, "themes": ds.themes, "tags": ds.tags,
            "connected": ds.connected, "version": ds.current_version, "rows": ds.row_count}


@_command(catalog_app, "list")
def catalog_list(department: Annotated[str | None, typer.Option()] = None,
                 as_json: JsonOpt = False) -> None:
    with _hub().db.session() as s:
        rows = [_dataset_row(ds) for ds in service.list_datasets(s, department)]
    if as_json:
        return _print_json(rows)
    _table("catalog", ["code", "name", "department", "share", "open", "version", "rows"],
           [[r["code"], r["name"], r["department_name"], ShareType(r["share_type"]).zh,
             OpenType(r["open_type"]).zh, r["version"], f"{r['rows']:,}"] for r in rows])


@_command(catalog_app, "show")
def catalog_show(code: str, as_json: JsonOpt = False) -> None:
    """A dataset's full catalog record with its fields."""
    with _hub().db.session() as s:
        ds = service.get_dataset(s, code)
        record = {**_dataset_row(ds), "summary": ds.summary, "format": ds.format,
                  "classification": ds.classification, "share_condition": ds.share_condition,
                  "open_condition": ds.open_condition, "legal_basis": ds.legal_basis,
                  "publish_date": ds.publish_date, "key_fields": ds.key_fields,
                  "fields": [{"name": f.name, "title": f.title, "type": f.data_type,
                              "semantic_type": f.semantic_type, "grade": f.grade,
                              "grade_override": f.grade_override, "present": f.present,
                              "description": f.description, "profile": f.profile}
                             for f in ds.fields]}
    if as_json:
        return _print_json(record)
    for key in ("code", "name", "department_name", "summary", "share_type", "open_type",
                "update_cycle", "format", "publish_date", "version", "rows"):
        out.print(f"[bold]{key}[/]: {record[key]}")
    _table("fields (信息项)", ["name", "title", "type", "semantic", "grade", "nulls", "distinct"],
           [[f["name"], f["title"], DataType(f["type"]).zh, f["semantic_type"],
             f["grade"] + ("*" if f["grade_override"] else ""),
             f"{f['profile'].get('null_rate', 0):.1%}" if f["profile"] else "",
             f["profile"].get("distinct", "")] for f in record["fields"] if f["present"]])


@_command(catalog_app, "search")
def catalog_search(
    query: Annotated[str | None, typer.Argument(help="words, in Chinese or English")] = None,
    department: Annotated[str | None, typer.Option()] = None,
    theme: Annotated[str | None, typer.Option()] = None,
    share_type: Annotated[str | None, typer.Option()] = None,
    open_type: Annotated[str | None, typer.Option()] = None,
    format: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option()] = 20,
    offset: Annotated[int, typer.Option()] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Ranked full-text search with facets."""
    with _hub().db.session() as s:
        res = search(s, query,
                     department=department, theme=theme,
                     share_type=ShareType.parse(share_type).value if share_type else None,
                     open_type=OpenType.parse(open_type).value if open_type else None,
                     format=format, limit=limit, offset=offset)
    items = [_jsonable(i) for i in res.items]
    if as_json:
        return _print_json({"total": res.total, "items": items, "facets": res.facets})
    out.print(f"{res.total} match(es)")
    _table("results", ["code", "name", "department", "score"],
           [[i["code"], i["name"], i["department_name"], f"{i['score']:.3f}"] for i in items])
    for facet, counts in res.facets.items():
        out.print(f"[bold]{facet}[/]: " + ", ".join(f"{k} ({n})" for k, n in counts))


def main() -> None:
    app()



if __name__ == "__main__":
    main()
