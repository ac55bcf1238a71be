"""The native API (/api/v1): statistics, the catalog, and the rows of datasets, all through the
access door."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from cityhub.access import Caller, TableView, policy
from cityhub.access.audit import AuditEntry
from cityhub.access.policy import Access, Treatment
from cityhub.api.answer import JSONRoute
from cityhub.api.deps import (
    FilterParam,
    SelectParam,
    Services,
    SortParam,
    caller,
    services,
    session,
)
from cityhub.catalog import service
from cityhub.catalog.models import Dataset, Department, FieldInfo
from cityhub.catalog.search import search as catalog_search
from cityhub.catalog.vocab import OpenType, ShareType, UpdateCycle
from cityhub.query import AggregateQuery, Page, RowsQuery, aggregate, exact_rows, rows
from cityhub.query.spec import parse_filter, parse_group, parse_metric, split_list

router = APIRouter(prefix="/api/v1", tags=["v1"], route_class=JSONRoute)
Svc = Annotated[Services, Depends(services)]
Who = Annotated[Caller, Depends(caller)]
Db = Annotated[Session, Depends(session)]


def _label(vocab: type, value: str | None) -> dict[str, str] | None:
    if value is None:
        return None
    try:
        member = vocab(value)
    except ValueError:
        return {"code": value}
    return {"code": value, "zh": member.zh, "en": member.en}


def _department(d: Department, visible: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"code": d.code, "name": d.name, "name_en": d.name_en, "kind": d.kind}
    if visible is not None:
        out["datasets"] = visible
    return out


# Profile entries that hold the column's values: shown only to callers who read it in clear.
_VALUES = ("min", "max", "top", "samples")


def _field(f: FieldInfo, treatment: Treatment | None = Treatment.CLEAR) -> dict[str, Any]:
    profile = f.profile
    if treatment is not Treatment.CLEAR:
        profile = {k: v for k, v in profile.items() if k not in _VALUES}
    return {
        "name": f.name,
        "title": f.title,
        "description": f.description,
        "data_type": f.data_type,
        "semantic_type": f.semantic_type,
        "grade": f.grade_override or f.grade,
        "access": treatment.value if treatment is not None else "none",
        "profile": profile,
    }


def _dataset(
    ds: Dataset,
    fields: list[FieldInfo] | None = None,
    allowed: Access | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "code": ds.code,
        "name": ds.name,
        "name_en": ds.name_en,
        "summary": ds.summary,
        "summary_en": ds.summary_en,
        "department": _department(ds.department),
        "classification": ds.classification,
        "format": ds.format,
        "share_type": _label(ShareType, ds.share_type),
        "share_condition": ds.share_condition,
        "share_method": ds.share_method,
        "open_type": _label(OpenType, ds.open_type),
        "open_condition": ds.open_condition,
        "legal_basis": ds.legal_basis,
        "update_cycle": _label(UpdateCycle, ds.update_cycle),
        "publish_date": ds.publish_date,
        "related_codes": ds.related_codes,
        "themes": ds.themes,
        "tags": ds.tags,
        "key_fields": ds.key_fields,
        "connected": ds.connected,
        "current_version": ds.current_version,
        "row_count": ds.row_count,
        "last_sync_at": ds.last_sync_at,
    }
    if fields is not None:
        treatments = allowed.fields if allowed is not None else {}
        out["fields"] = [_field(f, treatments.get(f.name)) for f in fields]
    return out


@router.get("/stats", summary="The center's headline figures (统计)")
def stats(svc: Svc, db: Db) -> dict[str, Any]:
    st = svc.answers.get(db, "stats", lambda: service.stats(db))
    return {
        "departments_connected": st.departments_connected,
        "departments_cataloged": st.departments_cataloged,
        "datasets": st.datasets,
        "fields": st.fields,
        "records": st.records,
    }


@router.get("/departments", summary="Departments, with the datasets you may see")
def departments(svc: Svc, who: Who, db: Db) -> dict[str, Any]:
    visible = svc.door.datasets(who).subquery()
    counts: dict[int, int] = dict(
        db.execute(
            sa.select(visible.c.department_id, sa.func.count()).group_by(visible.c.department_id)
        ).all()
    )
    items = [_department(d, counts.get(d.id, 0)) for d in service.list_departments(db)]
    return {"total": len(items), "items": items}


@router.get("/departments/{code}", summary="One department and its datasets you may see")
def department(code: str, svc: Svc, who: Who, db: Db) -> dict[str, Any]:
    dept = service.get_department(db, code)
    found = db.scalars(
        svc.door.datasets(who).where(Dataset.department_id == dept.id).order_by(Dataset.code)
    ).all()
    return {**_department(dept, len(found)), "items": [_dataset(d) for d in found]}


@router.get("/datasets", summary="Search the catalog (Chinese full text, facets, paging)")
def datasets(
    svc: Svc,
    who: Who,
    db: Db,
    q: str | None = None,
    department: str | None = None,
    theme: str | None = None,
    share_type: str | None = None,
    open_type: str | None = None,
    format: str | None = None,
    limit: Annotated[int, Query(ge=0, le=1000)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    facets = (department, theme, share_type, open_type, format)
    found = svc.answers.get(
        db,
        ("search", policy.visibility(who), q, facets, limit, offset),
        lambda: catalog_search(
            db,
            q,
            department=department,
            theme=theme,
            share_type=share_type,
            open_type=open_type,
            format=format,
            limit=limit,
            offset=offset,
            where=policy.dataset_filter(who),
        ),
    )
    return {
        "total": found.total,
        "limit": limit,
        "offset": offset,
        "terms": found.terms,
        "facets": {k: [{"value": v, "count": n} for v, n in vs] for k, vs in found.facets.items()},
        "items": [
            {
                "code": h.code,
                "name": h.name,
                "department": {"code": h.department_code, "name": h.department_name},
                "score": h.score,
                "snippet": h.snippet,
            }
            for h in found.items
        ],
    }


@router.get("/datasets/{code}", summary="One dataset's catalog record, fields and versions")
def dataset(code: str, svc: Svc, who: Who, db: Db) -> dict[str, Any]:
    ds = svc.door.dataset(db, who, code)
    allowed = svc.door.access(db, who, ds)
    out = _dataset(ds, policy.visible_fields(who, ds, allowed), allowed)
    out["access"] = (
        {"readable": True, "basis": allowed.basis, "grant": allowed.grant_id}
        if allowed is not None
        else {"readable": False, "basis": None, "grant": None}
    )
    out["versions"] = (
        [
            {"version": v.version, "time": v.time, "operation": v.operation, "sync_id": v.sync_id}
            for v in svc.hub.lake.history(code)
        ]
        if ds.connected
        else []
    )
    out["lookup"] = None
    if ds.connected and allowed is not None:
        view = svc.door.table(db, who, code)
        if view.key_field is not None:  # lookups by this field read its index once it is ready
            status = svc.lookups.status(view, view.key_field)
            out["lookup"] = {"field": view.key_field, "index": status}
    return out


def _view(svc: Services, who: Caller, db: Session, code: str, version: int | None) -> TableView:
    return svc.door.table(db, who, code, version)


def read_page(svc: Services, who: Caller, db: Session, code: str, q: RowsQuery) -> dict[str, Any]:
    view = _view(svc, who, db, code, q.version)
    return _page(svc, who, view, q, rows(svc.engine, view, q, svc.lookups))


def read_exact(
    svc: Services, who: Caller, db: Session, code: str, q: RowsQuery
) -> tuple[dict[str, Any], AuditEntry] | None:
    """`read_page`'s answer when a key index already open gives it alone, without the engine,
    and the audit entry to write before it is sent (`Door.record_on_loop`); None when there is
    more to do."""
    view = _view(svc, who, db, code, q.version)
    page = exact_rows(view, q, svc.lookups)
    if page is None:
        return None
    return _answer(view, page), svc.door.read_entry(who, view, len(page.rows), _what(q))


def _page(svc: Services, who: Caller, view: TableView, q: RowsQuery, page: Page) -> dict[str, Any]:
    """The page as answered, once its read is audited."""
    svc.door.record_read(who, view, len(page.rows), _what(q))
    return _answer(view, page)


def _what(q: RowsQuery) -> str:
    return f"rows {q.model_dump_json(exclude_none=True)}"


def _answer(view: TableView, page: Page) -> dict[str, Any]:
    return {
        "dataset": view.code,
        "version": page.version,
        "fields": [
            {"name": c.name, "title": c.title, "data_type": c.data_type} for c in page.fields
        ],
        "rows": page.rows,
        "next_cursor": page.next_cursor,
        "total": page.total,
    }


@router.get("/datasets/{code}/rows", summary="Rows: select, filter, sort, keyset paging")
def dataset_rows(
    code: str,
    svc: Svc,
    who: Who,
    db: Db,
    select: SelectParam = None,
    filter: FilterParam = None,
    sort: SortParam = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    cursor: str | None = None,
    version: Annotated[int | None, Query(ge=0)] = None,
    include_total: bool = False,
) -> dict[str, Any]:
    q = rows_query(select, filter, sort, limit, cursor, version, include_total)
    return read_page(svc, who, db, code, q)


def rows_query(
    select: list[str] | None,
    filter: list[str] | None,
    sort: list[str] | None,
    limit: int,
    cursor: str | None,
    version: int | None,
    include_total: bool,
) -> RowsQuery:
    """The rows query of a GET's parameters (here and on the fast path, api.fastpath)."""
    return RowsQuery(
        select=split_list(select) or None,
        filters=[parse_filter(f) for f in filter or []],
        sort=split_list(sort),
        limit=limit,
        cursor=cursor,
        version=version,
        include_total=include_total,
    )


@router.post("/datasets/{code}/query", summary="Rows, asked with a JSON body")
def dataset_query(code: str, q: RowsQuery, svc: Svc, who: Who, db: Db) -> dict[str, Any]:
    return read_page(svc, who, db, code, q)


def _aggregate(
    svc: Services, who: Caller, db: Session, code: str, q: AggregateQuery
) -> dict[str, Any]:
    view = _view(svc, who, db, code, q.version)
    result = aggregate(svc.engine, view, q)
    svc.door.record_read(
        who, view, len(result.rows), f"aggregate {q.model_dump_json(exclude_none=True)}"
    )
    return {
        "dataset": code,
        "version": result.version,
        "columns": result.columns,
        "rows": result.rows,
    }


@router.get(
    "/datasets/{code}/aggregate", summary="Group by fields or time buckets; count, sum, ..."
)
def dataset_aggregate(
    code: str,
    svc: Svc,
    who: Who,
    db: Db,
    group_by: Annotated[
        list[str] | None, Query(description="field or field:hour|day|month")
    ] = None,
    metric: Annotated[
        list[str] | None, Query(description="count, count_distinct:f, sum:f, avg:f, min:f, max:f")
    ] = None,
    filter: FilterParam = None,
    sort: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    version: Annotated[int | None, Query(ge=0)] = None,
) -> dict[str, Any]:
    q = AggregateQuery(
        group_by=[parse_group(g) for g in split_list(group_by)],
        metrics=[parse_metric(m) for m in split_list(metric)] or AggregateQuery().metrics,
        filters=[parse_filter(f) for f in filter or []],
        sort=split_list(sort),
        limit=limit,
        version=version,
    )
    return _aggregate(svc, who, db, code, q)


@router.post("/datasets/{code}/aggregate", summary="Aggregates, asked with a JSON body")
def dataset_aggregate_body(
    code: str, q: AggregateQuery, svc: Svc, who: Who, db: Db
) -> dict[str, Any]:
    return _aggregate(svc, who, db, code, q)
