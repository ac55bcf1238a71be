"""Setting up: the home, the metadata DB, departments, datasets and fields."""

from __future__ import annotations

from typing import Annotated

import typer

from cityhub.catalog import service
from cityhub.cli.common import (
    JsonOpt,
    app,
    command,
    dataset_app,
    db_app,
    dept_app,
    field_app,
    open_hub,
    out,
    print_json,
    table,
)
from cityhub.config import load_settings
from cityhub.hub import Hub


# -- setup ---------------------------------------------------------------------------------------
@command(app)
def init() -> None:
    """Create the home folder (metadata DB + lake) and migrate the schema."""
    hub = Hub(load_settings())
    hub.init()
    out.print(
        f"[green]cityhub home ready[/] at {hub.home.resolve()}  "
        f"(metadata: {hub.db.dialect}, lake: {hub.lake.root})"
    )


@command(db_app, "upgrade")
def db_upgrade() -> None:
    """Apply pending migrations (safe to run again)."""
    hub = Hub(load_settings())
    hub.db.upgrade()
    out.print("metadata DB is at the current schema")


@command(app, "config")
def show_config(as_json: JsonOpt = False) -> None:
    """Every setting, its environment variable, value and meaning."""
    rows = load_settings().describe()
    if as_json:
        return print_json(rows)
    table(
        "settings (cityhub.toml or CITYHUB_*)",
        ["name", "env", "value", "description"],
        [[r["name"], r["env"], r["value"], r["description"]] for r in rows],
    )


# -- departments and datasets ---------------------------------------------------------------------
@command(dept_app, "add")
def department_add(
    code: str,
    name: str,
    name_en: Annotated[str | None, typer.Option()] = None,
    kind: Annotated[str, typer.Option(help="government or enterprise")] = "government",
) -> None:
    """Register (or rename) a department."""
    with open_hub().db.session() as s:
        service.upsert_department(s, code, name, name_en=name_en, kind=kind)
    out.print(f"department {code} {name} saved")


@command(dept_app, "list")
def department_list(as_json: JsonOpt = False) -> None:
    with open_hub().db.session() as s:
        rows = [
            {
                "code": d.code,
                "name": d.name,
                "name_en": d.name_en,
                "kind": d.kind,
                "datasets": len(d.datasets),
            }
            for d in service.list_departments(s)
        ]
    if as_json:
        return print_json(rows)
    table(
        "departments",
        ["code", "name", "kind", "datasets"],
        [[r["code"], r["name"], r["kind"], r["datasets"]] for r in rows],
    )


@command(dataset_app, "add")
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
    update_cycle: Annotated[
        str | None, typer.Option(help="每日/每月/... or daily/monthly/...")
    ] = None,
    format: Annotated[str | None, typer.Option(help="资源格式")] = None,
    classification: Annotated[str | None, typer.Option(help="资源分类")] = None,
    publish_date: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    themes: Annotated[str | None, typer.Option(help="comma separated")] = None,
    tags: Annotated[str | None, typer.Option(help="comma separated")] = None,
    key: Annotated[str | None, typer.Option(help="key fields for upsert and lookups")] = None,
) -> None:
    """Catalog a dataset (it may stay without data: cataloged but not connected)."""
    with open_hub().db.session() as s:
        service.upsert_dataset(
            s,
            code,
            department,
            name=name,
            summary=summary,
            share_type=share_type,
            share_condition=share_condition,
            open_type=open_type,
            open_condition=open_condition,
            legal_basis=legal_basis,
            update_cycle=update_cycle,
            format=format,
            classification=classification,
            publish_date=publish_date,
            themes=themes,
            tags=tags,
            key_fields=key,
        )
    out.print(f"dataset {code} saved")


@command(field_app, "set")
def field_set(
    dataset: str,
    field: Annotated[str, typer.Argument(help="field name or title")],
    grade: Annotated[str | None, typer.Option(help="L1-L4; overrides detection")] = None,
    title: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    masking: Annotated[
        str | None,
        typer.Option(
            help="this field's masking rule, e.g. keep:3:4, surname, district, redact, "
            "pseudonym; 'default' goes back to its semantic type's"
        ),
    ] = None,
) -> None:
    """Edit a field; a grade or masking rule set here survives later syncs."""
    with open_hub().db.session() as s:
        info = service.set_field(
            s, dataset, field, grade=grade, title=title, description=description, masking=masking
        )
        rule = f", masking {info.masking}" if info.masking else ""
        out.print(f"{dataset}.{info.name} ({info.title}): grade {info.grade}{rule}")
