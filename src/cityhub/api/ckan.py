"""CKAN's Action API (STANDARDS.md §9) at /api/3/action/{name} and /api/action/{name} (the path
ckanapi's RemoteCKAN posts to), so CKAN clients and harvesters read the catalog unchanged.

Read actions only: status_show, package_list, package_search, package_show, organization_list,
organization_show, resource_show, datastore_search, datastore_search_sql, help_show. GET takes
the query string, POST a JSON body or a form, as CKAN does. Every read goes through the access
door; a dataset the caller may not see is "Not found" like one that does not exist. Errors keep
CKAN's envelope here, not problem+json. How the catalog maps onto CKAN is in `ckan_shapes`.
"""

from __future__ import annotations

import hmac
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any
from urllib.parse import parse_qsl, quote

import pydantic
import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cityhub import __version__
from cityhub.access import Caller, Column, TableView, operator, policy, public
from cityhub.api import ckan_shapes as shapes
from cityhub.api.ckan_shapes import CkanError, invalid, search_query
from cityhub.api.deps import Services, authenticate, bearer, services_of
from cityhub.api.sql import run_sql
from cityhub.catalog import service
from cityhub.catalog.models import Dataset, Department
from cityhub.catalog.search import search as catalog_search
from cityhub.catalog.vocab import DataType, OpenType, ShareType
from cityhub.errors import (
    CityhubError,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from cityhub.query.offset import offset_rows
from cityhub.query.spec import Filter

router = APIRouter(tags=["ckan"])

MAX_ROWS = 1000  # package_search rows (CKAN's ckan.search.rows_max); more asked: this many
MAX_RECORDS = 32_000  # datastore_search limit (ckan.datastore.search.rows_max)
_EVERYTHING = 2**31 - 1


# -- envelope and errors -------------------------------------------------------------------------


def _translate(exc: Exception) -> CkanError:
    if isinstance(exc, CkanError):
        return exc
    if isinstance(exc, pydantic.ValidationError | RequestValidationError):
        fields: dict[str, list[str]] = {}
        for e in exc.errors():
            fields.setdefault(str(e["loc"][0]) if e["loc"] else "request", []).append(e["msg"])
        message = "; ".join(f"{k}: {', '.join(v)}" for k, v in fields.items())
        return CkanError("Validation Error", 409, message, **fields)
    assert isinstance(exc, CityhubError)
    if exc.status == 404:
        return CkanError("Not Found Error", 404, f"Not found: {exc.message}")
    if exc.status in (401, 403):
        return CkanError("Authorization Error", 403, f"Access denied: {exc.message}")
    if exc.status < 500:
        return CkanError("Validation Error", 409, exc.message)
    return CkanError("Internal Server Error", exc.status, exc.message)


def _answer(help_url: str, status: int, **body: Any) -> JSONResponse:
    return JSONResponse(jsonable_encoder({"help": help_url, **body}), status_code=status)


def _failure(help_url: str, exc: CkanError) -> JSONResponse:
    error = {"__type": exc.kind, "message": exc.message, **exc.fields}
    return _answer(help_url, exc.status, success=False, error=error)


def _bad_request(help_url: str, message: str) -> JSONResponse:
    # CKAN itself sends only the message, as a JSON string; the envelope carries the same text.
    return _failure(help_url, CkanError("Bad Request", 400, f"Bad request - {message}"))


# -- request → caller, parameters ----------------------------------------------------------------


def _caller(request: Request, svc: Services) -> Caller:
    """CKAN clients send the raw token in Authorization (ckanapi also as X-CKAN-API-Key);
    "Bearer <token>" works too. No token: the public; a wrong one: refused, as CKAN does."""
    address = request.client.host if request.client else None
    token = bearer(request)
    if not token:
        return public(address)
    expected = svc.hub.settings.operator_token
    secret = expected.get_secret_value() if expected is not None else None
    if secret and hmac.compare_digest(token.encode(), secret.encode()):
        return operator(address=address)
    try:
        return authenticate(request, svc, token, address)
    except Unauthorized:
        raise CkanError(
            "Authorization Error",
            403,
            "Access denied: the token is not valid (unknown, expired or revoked); leave "
            "Authorization out to read open data",
        ) from None


def _mixed(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """A repeated key becomes a list, as CKAN reads query strings and forms."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key not in out:
            out[key] = value
        else:
            out[key] = [*out[key], value] if isinstance(out[key], list) else [out[key], value]
    return out


async def _params(request: Request) -> dict[str, Any]:
    data: Any = {}
    if request.method == "POST":
        body = await request.body()
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/x-www-form-urlencoded":
            data = _mixed(parse_qsl(body.decode(), keep_blank_values=True))
            # CKAN also takes a form whose only key is the parameters' JSON.
            if len(data) == 1 and next(iter(data.values())) in ("", "1"):
                data = json.loads(next(iter(data)))
        elif kind == "multipart/form-data":
            raise ValueError("multipart bodies are for uploads; send the parameters as JSON")
        elif body.strip():
            data = json.loads(body)
    if not data and request.query_params:
        data = _mixed(request.query_params.multi_items())
    if not isinstance(data, dict):
        raise ValueError(f"Request data JSON decoded to {data!r} but it needs to be a dictionary")
    data.pop("callback", None)  # JSONP is not served
    return data


# -- the actions ---------------------------------------------------------------------------------


@dataclass
class Ctx:
    svc: Services
    who: Caller
    db: Session
    request: Request


def _dataset(ctx: Ctx, key: str, kind: str = "dataset") -> Dataset:
    """The dataset a package or resource id or name (any case) stands for, through the door."""
    code = ctx.db.scalar(
        ctx.svc.door.datasets(ctx.who)
        .with_only_columns(Dataset.code)
        .where(sa.func.lower(Dataset.code) == key.lower())
    )
    if code is None:
        raise NotFound(f"no {kind} {key!r}")
    return ctx.svc.door.dataset(ctx.db, ctx.who, code)


def _visible_counts(ctx: Ctx) -> dict[int, int]:
    visible = ctx.svc.door.datasets(ctx.who).subquery()
    query = sa.select(visible.c.department_id, sa.func.count()).group_by(visible.c.department_id)
    return {dept_id: int(n) for dept_id, n in ctx.db.execute(query).all()}


def status_show(ctx: Ctx, raw: dict[str, Any]) -> dict[str, Any]:
    """The site: its title, URL and the CKAN version whose API it speaks."""
    return {
        "site_title": "cityhub",
        "site_url": ctx.svc.base_url,
        "site_description": "城市大数据中心 · a city's big data center",
        "ckan_version": "2.10.0",
        "cityhub_version": __version__,
        "locale_default": "zh_Hans_CN",
        "error_emails_to": None,
        "extensions": ["datastore"],
    }


def package_list(ctx: Ctx, raw: dict[str, Any]) -> list[str]:
    """Names of the packages you may see, in order; limit and offset page them."""
    p = shapes.PagingParams.model_validate(raw)
    query = ctx.svc.door.datasets(ctx.who).with_only_columns(Dataset.code).order_by(Dataset.code)
    codes = ctx.db.scalars(query.limit(p.limit).offset(p.offset)).all()
    return [shapes.name_of(c) for c in codes]


def package_show(ctx: Ctx, raw: dict[str, Any]) -> dict[str, Any]:
    """One package by id or name."""
    ds = _dataset(ctx, shapes.ById.model_validate(raw).id)
    return shapes.package(ds, ctx.svc.base_url)


def resource_show(ctx: Ctx, raw: dict[str, Any]) -> dict[str, Any]:
    """One resource by id (its dataset's code)."""
    ds = _dataset(ctx, shapes.ById.model_validate(raw).id, "resource")
    return shapes.resource(ds, ctx.svc.base_url)


_ORG_SORTS = ("name", "title", "package_count")


def organization_list(ctx: Ctx, raw: dict[str, Any]) -> list[Any]:
    """Organization names, or whole organizations with all_fields; sort ("name|title|
    package_count asc|desc"), organizations (names) to pick some, limit, offset."""
    p = shapes.OrgList.model_validate(raw)
    field, _, direction = p.sort.strip().partition(" ")
    direction = direction.strip().lower() or "asc"
    if field not in _ORG_SORTS or direction not in ("asc", "desc"):
        raise invalid("sort", f"sort by {', '.join(_ORG_SORTS)} then asc or desc")
    counts = _visible_counts(ctx)
    wanted = {o.lower() for o in p.organizations}
    orgs = [
        shapes.organization(d, counts.get(d.id, 0))
        for d in service.list_departments(ctx.db)
        if not wanted or d.code.lower() in wanted
    ]
    orgs.sort(key=lambda o: o[field], reverse=direction == "desc")
    orgs = orgs[p.offset :] if p.limit is None else orgs[p.offset : p.offset + p.limit]
    return orgs if p.all_fields else [o["name"] for o in orgs]


def organization_show(ctx: Ctx, raw: dict[str, Any]) -> dict[str, Any]:
    """One organization by id or name; include_datasets adds the packages you may see."""
    p = shapes.OrgShow.model_validate(raw)
    dept = ctx.db.scalar(
        sa.select(Department).where(sa.func.lower(Department.code) == p.id.lower())
    )
    if dept is None:
        raise NotFound(f"no organization {p.id!r}")
    out = shapes.organization(dept, _visible_counts(ctx).get(dept.id, 0))
    if p.include_datasets:
        found = ctx.db.scalars(
            ctx.svc.door.datasets(ctx.who)
            .where(Dataset.department_id == dept.id)
            .order_by(Dataset.code)
            .limit(MAX_ROWS)
        )
        out["packages"] = [shapes.package(ds, ctx.svc.base_url) for ds in found]
    return out


def _fq_condition(ctx: Ctx, field: str, value: str) -> sa.ColumnElement[bool]:
    try:
        match field:
            case "organization" | "owner_org":
                depts = sa.select(Department.id).where(
                    sa.func.lower(Department.code) == value.lower()
                )
                return Dataset.department_id.in_(depts)
            case "tags":  # themes and tags are JSON lists: matched here, portably
                tagged = ctx.svc.door.datasets(ctx.who).with_only_columns(
                    Dataset.id, Dataset.themes, Dataset.tags
                )
                rows = ctx.db.execute(tagged).all()
                return Dataset.id.in_([i for i, th, tg in rows if value in (th or []) + (tg or [])])
            case "share_type":
                return Dataset.share_type == ShareType.parse(value).value
            case "open_type":
                return Dataset.open_type == OpenType.parse(value).value
            case "format":
                return Dataset.format == value
    except InvalidInput as exc:
        raise search_query(f"fq {field}:{value}: {exc.message}") from None
    return sa.func.lower(Dataset.code) == value.lower()  # name, id


def package_search(ctx: Ctx, raw: dict[str, Any]) -> dict[str, Any]:
    """Search the packages you may see: q (Chinese full text), fq (field:value terms on
    organization, tags, share_type, open_type, format, name), rows (≤ 1000), start, sort
    (score, name, title_string, metadata_modified, metadata_created; asc or desc),
    facet.field (organization, tags, share_type, open_type, format, license_id), facet.limit."""
    p = shapes.PackageSearch.model_validate(raw)
    rows, keys = min(p.rows, MAX_ROWS), shapes.search_sort(p.sort)
    unknown = [f for f in p.facet_field if f not in shapes.FACETS]
    if unknown:
        raise search_query(f"no facet {', '.join(unknown)}; facet on {', '.join(shapes.FACETS)}")
    where = [c for c in [policy.dataset_filter(ctx.who)] if c is not None]
    for negated, field, value in shapes.fq_terms(p.fq):
        condition = _fq_condition(ctx, field, value)
        where.append(sa.not_(condition) if negated else condition)
    # The catalog search orders by score then name; any other order, and the tags facet, need
    # every match (a catalog holds thousands of datasets, not millions).
    native = not keys or keys[0] == ("score", True)
    whole = not native or "tags" in p.facet_field
    found = catalog_search(
        ctx.db,
        p.q or None,
        where=sa.and_(*where) if where else None,
        limit=_EVERYTHING if whole else rows,
        offset=0 if whole else p.start,
    )
    ids = [h.dataset_id for h in found.items]
    loaded = ctx.db.scalars(ctx.svc.door.datasets(ctx.who).where(Dataset.id.in_(ids)))
    by_id = {ds.id: ds for ds in loaded}
    hits = found.items
    for field, desc in reversed([] if native else keys):  # stable sorts, last key first
        keyed = [(shapes.sort_value(h.score, by_id[h.dataset_id], field), h) for h in hits]
        hits = [h for _, h in sorted(keyed, key=itemgetter(0), reverse=desc)]
    page = hits[p.start : p.start + rows] if whole else hits
    facets: dict[str, list[tuple[str, str, int]]] = {}
    for facet in p.facet_field:
        if facet == "tags":
            counted = Counter(t for h in hits for t in shapes.tags(by_id[h.dataset_id]))
            facets[facet] = [(t, t, n) for t, n in counted.items()]
        elif facet == "organization":
            names = dict(ctx.db.execute(sa.select(Department.code, Department.name)).all())
            facets[facet] = [
                (shapes.name_of(c), names.get(c, c), n) for c, n in found.facets["department"]
            ]
        elif facet == "license_id":
            facets[facet] = []  # no licenses are recorded yet
        else:
            facets[facet] = [(v, shapes.label(facet, v), n) for v, n in found.facets[facet]]
    return {
        "count": found.total,
        "sort": p.sort or "score desc, name asc",
        "results": [shapes.package(by_id[h.dataset_id], ctx.svc.base_url) for h in page],
        **shapes.search_facets(facets, p.facet_limit),
    }


def _column(view: TableView, key: str, param: str) -> Column:
    try:
        return view.column(key)  # withheld fields are as unknown as missing ones
    except NotFound:
        raise invalid(param, f'field "{key}" not in table') from None


def _filters(view: TableView, p: shapes.DatastoreSearch) -> list[Filter]:
    out = []
    for key, value in p.filters.items():
        name = _column(view, key, "filters").name
        if isinstance(value, dict):
            raise invalid("filters", f'field "{key}": give a value or a list of values')
        if isinstance(value, list):
            if not value:
                raise invalid("filters", f'field "{key}": the list of values is empty')
            out.append(Filter(field=name, op="in", value=value))
        else:
            out.append(Filter(field=name, op="isnull" if value is None else "eq", value=value))
    for key, text in p.q.items() if isinstance(p.q, dict) else []:
        c = _column(view, key, "q")
        if DataType(c.data_type) is not DataType.STRING:
            raise invalid("q", f'field "{key}" is {c.data_type}; full text works on text fields')
        out.append(Filter(field=c.name, op="contains", value=text))
    return out


def _sort_keys(view: TableView, sort: list[str]) -> list[str]:
    """CKAN's "f desc" (a name may be double-quoted) as the query specs' "-f"."""
    keys = []
    for part in sort:
        m = re.fullmatch(r'\s*("[^"]+"|\S+)(?:\s+(asc|desc))?\s*', part, re.IGNORECASE)
        if m is None:
            raise invalid("sort", f"{part!r}: expected a field, then asc or desc")
        name = _column(view, m.group(1).strip('"'), "sort").name
        keys.append(("-" if (m.group(2) or "").lower() == "desc" else "") + name)
    return keys


def datastore_search(ctx: Ctx, raw: dict[str, Any]) -> dict[str, Any]:
    """Records of a resource: filters (field → value or list), q (text in any text field, or
    field → text), fields, sort ("f desc, g"), limit (≤ 32000), offset, include_total."""
    p = shapes.DatastoreSearch.model_validate(raw)
    view = ctx.svc.door.table(ctx.db, ctx.who, _dataset(ctx, p.resource_id, "resource").code)
    select = [_column(view, f, "fields").name for f in p.fields] or None
    filters, sort, limit = _filters(view, p), _sort_keys(view, p.sort), min(p.limit, MAX_RECORDS)
    try:
        page = offset_rows(
            ctx.svc.engine,
            view,
            select=select,
            filters=filters,
            text=p.q if isinstance(p.q, str) else None,
            sort=sort,
            limit=limit,
            offset=p.offset,
            include_total=p.include_total,
        )
    except InvalidInput as exc:  # a filter value that does not fit its field
        raise invalid("filters", exc.message) from None
    what = json.dumps(raw, ensure_ascii=False, default=str)
    ctx.svc.door.record_read(ctx.who, view, len(page.rows), f"ckan datastore_search {what}")
    out: dict[str, Any] = {
        "resource_id": view.code,
        "fields": [
            {"id": c.name, "type": shapes.field_type(c.data_type), "info": {"label": c.title}}
            for c in page.fields
        ],
        "records": page.rows,
        "limit": limit,
        "offset": p.offset,
        "include_total": p.include_total,
        "records_format": "objects",
        "_links": shapes.links(ctx.request.url.path, raw, limit, p.offset),
    }
    out.update({k: v for k, v in (("filters", p.filters), ("q", p.q), ("sort", p.sort)) if v})
    if page.total is not None:
        out.update(total=page.total, total_was_estimated=False)
    return out


def datastore_search_sql(ctx: Ctx, raw: dict[str, Any]) -> dict[str, Any]:
    """One read-only SELECT; tables are resource ids (dataset codes), quoted: "GA-001"."""
    p = shapes.Sql.model_validate(raw)
    try:
        answer = run_sql(ctx.svc, ctx.who, ctx.db, p.sql, None)
    except (Forbidden, ServiceUnavailable):
        raise  # not a mistake in the SQL: no grant, or the audit cannot be written
    except CityhubError as exc:  # refused, unknown table, does not parse, timed out
        raise invalid("sql", exc.message) from None
    out: dict[str, Any] = {
        "sql": p.sql,
        "records": answer.rows,
        "fields": [{"id": c["name"], "type": shapes.arrow_type(c["type"])} for c in answer.columns],
    }
    if answer.truncated:
        out["records_truncated"] = True
    return out


def help_show(ctx: Ctx, raw: dict[str, Any]) -> str:
    """What an action does and takes (name=...)."""
    name = str(raw.get("name", ""))
    if name not in ACTIONS:
        raise NotFound(f"no action {name!r}; actions: {', '.join(ACTIONS)}")
    return (ACTIONS[name].__doc__ or "").strip()


Action = Callable[[Ctx, dict[str, Any]], Any]
ACTIONS: dict[str, Action] = {
    a.__name__: a
    for a in (
        status_show,
        package_list,
        package_search,
        package_show,
        organization_list,
        organization_show,
        resource_show,
        datastore_search,
        datastore_search_sql,
        help_show,
    )
}


# -- the route -----------------------------------------------------------------------------------


def _run(action: Action, svc: Services, request: Request, raw: dict[str, Any]) -> Any:
    who = _caller(request, svc)
    with svc.hub.db.session() as db:
        return jsonable_encoder(action(Ctx(svc, who, db, request), raw))


@router.get(
    "/api/3/action/{name}", summary="CKAN Action API (read actions), parameters in the query"
)
@router.post("/api/3/action/{name}", summary="CKAN Action API (read actions), parameters as JSON")
@router.api_route("/api/action/{name}", methods=["GET", "POST"], include_in_schema=False)
async def action(name: str, request: Request) -> JSONResponse:
    """CKAN's envelope for every answer, errors included; the actions run in a worker thread
    (they block on the database and the engine)."""
    svc = services_of(request)
    help_url = f"{svc.base_url}/api/3/action/help_show?name={quote(name, safe='')}"
    act = ACTIONS.get(name)
    if act is None:
        return _bad_request(help_url, f"Action name not known: {name}")
    try:
        raw = await _params(request)
    except ValueError as exc:
        return _bad_request(help_url, f"JSON Error: {exc}")
    try:
        result = await run_in_threadpool(_run, act, svc, request, raw)
    except (CkanError, CityhubError, pydantic.ValidationError, RequestValidationError) as exc:
        return _failure(help_url, _translate(exc))
    return _answer(help_url, 200, success=True, result=result)
