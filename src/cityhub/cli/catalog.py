"""The center's figures and the catalog: stats, catalog list / show / search."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cityhub.catalog import service
from cityhub.catalog.search import search
from cityhub.catalog.vocab import DataType, OpenType, ShareType
from cityhub.cli.common import (
    JsonOpt,
    app,
    catalog_app,
    command,
    jsonable,
    open_hub,
    out,
    print_json,
    table,
)


# -- statistics and catalog ---------------------------------------------------------------------
@command(app)
def stats(as_json: JsonOpt = False) -> None:
    """The center's headline figures, live: departments connected and cataloged, datasets,
    fields, records; and the same per department."""
    with open_hub().db.session() as s:
        st = service.stats(s)
    if as_json:
        return print_json(st)
    out.print(
        f"部门接入 departments connected  [bold]{st.departments_connected:,}[/]\n"
        f"部门编目 departments cataloged  [bold]{st.departments_cataloged:,}[/]\n"
        f"数据集   datasets                [bold]{st.datasets:,}[/]"
        f" ({st.datasets_connected:,} with data)\n"
        f"信息项   fields                  [bold]{st.fields:,}[/]\n"
        f"记录数   records                 [bold]{st.records:,}[/]"
    )
    table(
        "per department",
        ["code", "name", "datasets", "connected", "fields", "records"],
        [
            [
                r["code"],
                r["name"],
                r["datasets"],
                r["connected"],
                f"{r['fields']:,}",
                f"{r['records']:,}",
            ]
            for r in st.per_department
        ],
    )


def _dataset_row(ds: Any) -> dict[str, Any]:
    return {
        "code": ds.code,
        "name": ds.name,
        "department": ds.department.code,
        "department_name": ds.department.name,
        "share_type": ds.share_type,
        "open_type": ds.open_type,
        "update_cycle": ds.update_cycle,
        "themes": ds.themes,
        "tags": ds.tags,
        "connected": ds.connected,
        "version": ds.current_version,
        "rows": ds.row_count,
    }


@command(catalog_app, "list")
def catalog_list(
    department: Annotated[str | None, typer.Option()] = None, as_json: JsonOpt = False
) -> None:
    with open_hub().db.session() as s:
        rows = [_dataset_row(ds) for ds in service.list_datasets(s, department)]
    if as_json:
        return print_json(rows)
    table(
        "catalog",
        ["code", "name", "department", "share", "open", "version", "rows"],
        [
            [
                r["code"],
                r["name"],
                r["department_name"],
                ShareType(r["share_type"]).zh,
                OpenType(r["open_type"]).zh,
                r["version"],
                f"{r['rows']:,}",
            ]
            for r in rows
        ],
    )


@command(catalog_app, "show")
def catalog_show(code: str, as_json: JsonOpt = False) -> None:
    """A dataset's full catalog record with its fields."""
    with open_hub().db.session() as s:
        ds = service.get_dataset(s, code)
        record = {
            **_dataset_row(ds),
            "summary": ds.summary,
            "format": ds.format,
            "classification": ds.classification,
            "share_condition": ds.share_condition,
            "open_condition": ds.open_condition,
            "legal_basis": ds.legal_basis,
            "publish_date": ds.publish_date,
            "key_fields": ds.key_fields,
            "fields": [
                {
                    "name": f.name,
                    "title": f.title,
                    "type": f.data_type,
                    "semantic_type": f.semantic_type,
                    "grade": f.grade,
                    "grade_override": f.grade_override,
                    "present": f.present,
                    "description": f.description,
                    "profile": f.profile,
                }
                for f in ds.fields
            ],
        }
    if as_json:
        return print_json(record)
    for key in (
        "code",
        "name",
        "department_name",
        "summary",
        "share_type",
        "open_type",
        "update_cycle",
        "format",
        "publish_date",
        "version",
        "rows",
    ):
        out.print(f"[bold]{key}[/]: {record[key]}")
    table(
        "fields (信息项)",
        ["name", "title", "type", "semantic", "grade", "nulls", "distinct"],
        [
            [
                f["name"],
                f["title"],
                DataType(f["type"]).zh,
                f["semantic_type"],
                f["grade"] + ("*" if f["grade_override"] else ""),
                f"{f['profile'].get('null_rate', 0):.1%}" if f["profile"] else "",
                f["profile"].get("distinct", ""),
            ]
            for f in record["fields"]
            if f["present"]
        ],
    )


@command(catalog_app, "search")
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
    with open_hub().db.session() as s:
        res = search(
            s,
            query,
            department=department,
            theme=theme,
            share_type=ShareType.parse(share_type).value if share_type else None,
            open_type=OpenType.parse(open_type).value if open_type else None,
            format=format,
            limit=limit,
            offset=offset,
        )
    items = [jsonable(i) for i in res.items]
    if as_json:
        return print_json({"total": res.total, "items": items, "facets": res.facets})
    out.print(f"{res.total} match(es)")
    table(
        "results",
        ["code", "name", "department", "score"],
        [[i["code"], i["name"], i["department_name"], f"{i['score']:.3f}"] for i in items],
    )
    for facet, counts in res.facets.items():
        out.print(f"[bold]{facet}[/]: " + ", ".join(f"{k} ({n})" for k, n in counts))
