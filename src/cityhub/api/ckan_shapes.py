"""The catalog as CKAN sees it: the shapes of organizations, packages and resources, of the
actions' parameters and errors, and of package_search's Solr syntax (sort, fq, facets).

The mapping, kept stable because clients store these names:
- department ↔ organization: id = the department code (330400-GA), name = the code lowercased
  (330400-ga; CKAN names are lowercase), title = the department's name.
- dataset ↔ package: id = the dataset code, name = the code lowercased, title = 资源名称,
  notes = 资源摘要, tags = themes then tags, extras = the catalog attributes CKAN has no
  field for (share/open types, update cycle, classification, ...), as stable codes.
- the dataset's current lake table ↔ its one resource: id = the dataset code (so
  datastore_search_sql names tables by resource id, as CKAN does), url = the CSV export,
  datastore_active = the dataset has data. A cataloged-only dataset keeps its resource, inactive.
Lookups by id or name are case-insensitive, so either form works.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field

from cityhub.catalog.dcat import Links
from cityhub.catalog.models import Dataset, Department
from cityhub.catalog.vocab import DataType, OpenType, ShareType, UpdateCycle

# CKAN's datastore reports PostgreSQL type names.
_FIELD_TYPES = {
    DataType.INTEGER.value: "int8",
    DataType.DECIMAL.value: "float8",
    DataType.DATE.value: "date",
    DataType.TIMESTAMP.value: "timestamp",
    DataType.BOOLEAN.value: "bool",
    DataType.JSON.value: "json",
}
_LABELLED = {"share_type": ShareType, "open_type": OpenType, "update_cycle": UpdateCycle}


def name_of(code: str) -> str:
    return code.lower()


def field_type(data_type: str) -> str:
    return _FIELD_TYPES.get(data_type, "text")


def arrow_type(arrow: str) -> str:
    """A SQL answer's Arrow type (int64, double, string, timestamp[us], ...) as CKAN names it."""
    for prefix, name in (
        ("int", "int8"),
        ("uint", "int8"),
        ("double", "float8"),
        ("float", "float8"),
        ("decimal", "numeric"),
        ("bool", "bool"),
        ("date", "date"),
        ("timestamp", "timestamp"),
    ):
        if arrow.startswith(prefix):
            return name
    return "text"


def label(facet: str, value: str) -> str:
    """A facet value's display name: the Chinese label of a vocabulary code."""
    vocab = _LABELLED.get(facet)
    if vocab is None:
        return value
    try:
        return str(vocab(value).zh)
    except ValueError:
        return value


def _when(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def organization(d: Department, package_count: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": d.code,
        "name": name_of(d.code),
        "title": d.name,
        "display_name": d.name,
        "title_en": d.name_en,
        "description": d.description or "",
        "type": "organization",
        "is_organization": True,
        "state": "active",
        "approval_status": "approved",
        "image_url": "",
        "created": _when(d.created_at),
        "extras": [{"key": "kind", "value": d.kind}],
    }
    if package_count is not None:
        out["package_count"] = package_count
    return out


def tags(ds: Dataset) -> list[str]:
    return list(dict.fromkeys([*(ds.themes or []), *(ds.tags or [])]))


def _extras(ds: Dataset) -> list[dict[str, str]]:
    values = {
        "identifier": ds.code,
        "title_en": ds.name_en,
        "notes_en": ds.summary_en,
        "classification": ds.classification,
        "format": ds.format,
        "share_type": ds.share_type,
        "share_condition": ds.share_condition,
        "share_method": ds.share_method,
        "open_type": ds.open_type,
        "open_condition": ds.open_condition,
        "legal_basis": ds.legal_basis,
        "data_level": ds.data_level,
        "update_cycle": ds.update_cycle,
        "publish_date": _when(ds.publish_date),
        "related_codes": ",".join(ds.related_codes or []) or None,
        "themes": ",".join(ds.themes or []) or None,
        "row_count": str(ds.row_count) if ds.connected else None,
    }
    return [{"key": k, "value": v} for k, v in values.items() if v]


def resource(ds: Dataset, base_url: str) -> dict[str, Any]:
    links = Links(base_url)  # the same URLs the DCAT distribution gives
    return {
        "id": ds.code,
        "package_id": ds.code,
        "name": ds.name,
        "description": ds.summary or "",
        "format": "CSV",
        "mimetype": "text/csv",
        "url": str(links.export_csv(ds.code)) if ds.connected else "",
        "api_url": str(links.rows(ds.code)) if ds.connected else None,
        "datastore_active": ds.connected,
        "position": 0,
        "state": "active",
        "created": _when(ds.created_at),
        "last_modified": _when(ds.last_sync_at),
        "metadata_modified": _when(ds.updated_at),
        "version": ds.current_version,
    }


def package(ds: Dataset, base_url: str) -> dict[str, Any]:
    names = tags(ds)
    return {
        "id": ds.code,
        "name": name_of(ds.code),
        "title": ds.name,
        "notes": ds.summary or "",
        "type": "dataset",
        "state": "active",
        "private": False,
        "isopen": ds.open_type == OpenType.UNCONDITIONAL.value,
        "license_id": None,
        "license_title": None,
        "url": f"{base_url}/api/v1/datasets/{quote(ds.code, safe='')}",
        "version": None,
        "author": None,
        "author_email": None,
        "maintainer": ds.department.name,
        "maintainer_email": None,
        "metadata_created": _when(ds.created_at),
        "metadata_modified": _when(ds.updated_at),
        "owner_org": ds.department.code,
        "organization": organization(ds.department),
        "tags": [
            {"name": t, "display_name": t, "state": "active", "vocabulary_id": None} for t in names
        ],
        "num_tags": len(names),
        "groups": [],
        "extras": _extras(ds),
        "resources": [resource(ds, base_url)],
        "num_resources": 1,
        "relationships_as_object": [],
        "relationships_as_subject": [],
    }


# -- errors --------------------------------------------------------------------------------------


class CkanError(Exception):
    """An error as CKAN answers it: its __type, HTTP status, message and, for validation
    errors, field → messages."""

    def __init__(self, kind: str, status: int, message: str, **fields: list[str]) -> None:
        super().__init__(message)
        self.kind, self.status, self.message, self.fields = kind, status, message, fields


def invalid(field: str, message: str) -> CkanError:
    return CkanError("Validation Error", 409, f"{field}: {message}", **{field: [message]})


def search_query(message: str) -> CkanError:
    return CkanError("Search Query Error", 400, f"Search Query is invalid: {message}")


# -- parameters ----------------------------------------------------------------------------------


def _json(value: Any) -> Any:
    """CKAN's convert_to_json_if_string: GET carries lists and objects as JSON text."""
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
    return value


def _strings(value: Any) -> Any:
    value = _json(value)
    return [s.strip() for s in value.split(",") if s.strip()] if isinstance(value, str) else value


Strings = Annotated[list[str], BeforeValidator(_strings)]


class Params(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class PagingParams(Params):
    limit: int | None = Field(None, ge=0)
    offset: int = Field(0, ge=0)


class ById(Params):
    id: str = Field(min_length=1)


class OrgList(PagingParams):
    all_fields: bool = False
    sort: str = "name asc"
    organizations: Strings = Field(default_factory=list)


class OrgShow(ById):
    include_datasets: bool = False


class PackageSearch(Params):
    q: str = ""
    fq: str = ""
    rows: int = Field(10, ge=0)
    start: int = Field(0, ge=0)
    sort: str = ""
    facet_field: Strings = Field(default_factory=list, alias="facet.field")
    facet_limit: int = Field(50, alias="facet.limit")


class DatastoreSearch(Params):
    resource_id: str = Field(min_length=1, validation_alias=AliasChoices("resource_id", "id"))
    filters: Annotated[dict[str, Any], BeforeValidator(_json)] = Field(default_factory=dict)
    q: Annotated[str | dict[str, str], BeforeValidator(_json)] = ""
    fields: Strings = Field(default_factory=list)
    sort: Strings = Field(default_factory=list)
    limit: int = Field(100, ge=0)
    offset: int = Field(0, ge=0)
    include_total: bool = True
    records_format: Literal["objects"] = "objects"


class Sql(Params):
    sql: str = Field(min_length=1)


# -- package_search's Solr syntax and datastore_search's links ------------------------------------

SORTS = ("score", "name", "title_string", "metadata_modified", "metadata_created")
FACETS = ("organization", "tags", "share_type", "open_type", "format", "license_id")
FQ_FIELDS = ("organization", "owner_org", "tags", "share_type", "open_type", "format", "name")
_FQ_TERM = re.compile(r'\s*([+-]?)([\w.]+):("(?:[^"\\]|\\.)*"|[^\s"]+)\s*')


def search_sort(text: str) -> list[tuple[str, bool]]:
    """A Solr sort ("metadata_modified desc, name asc") as (field, descending) pairs."""
    keys = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        field, *rest = part.split()
        direction = rest[0].lower() if rest else "asc"
        if field not in SORTS or direction not in ("asc", "desc") or len(rest) > 1:
            raise search_query(
                f"cannot sort by {part!r}; sort by {', '.join(SORTS)} followed by asc or desc"
            )
        keys.append((field, direction == "desc"))
    return keys


def sort_value(score: float, ds: Dataset, field: str) -> Any:
    match field:
        case "score":
            return score
        case "name":
            return name_of(ds.code)
        case "title_string":
            return ds.name
        case "metadata_created":
            return ds.created_at
    return ds.updated_at


def fq_terms(text: str) -> list[tuple[bool, str, str]]:
    """Solr filter terms `field:value` or `field:"a value"` ("-" negates) as (negated, field,
    value); all of them must hold."""
    terms = []
    pos, text = 0, text.strip()
    while pos < len(text):
        m = _FQ_TERM.match(text, pos)
        if m is None:
            raise search_query(f'fq {text[pos:]!r}: expected field:value or field:"value"')
        sign, field, value = m.groups()
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        if field not in FQ_FIELDS and field != "id":
            raise search_query(f"fq: cannot filter on {field!r}; use {', '.join(FQ_FIELDS)}")
        terms.append((sign == "-", field, value))
        pos = m.end()
    return terms


def search_facets(facets: dict[str, list[tuple[str, str, int]]], limit: int) -> dict[str, Any]:
    """(name, display name, count) per facet as CKAN's `facets` and `search_facets`, most
    frequent first, at most `limit` each (-1: all)."""
    ranked = {}
    for facet, items in facets.items():
        items = sorted(items, key=lambda i: (-i[2], i[0]))
        ranked[facet] = items[:limit] if limit >= 0 else items
    return {
        "facets": {f: {name: n for name, _, n in items} for f, items in ranked.items()},
        "search_facets": {
            f: {
                "title": f,
                "items": [{"name": a, "display_name": b, "count": n} for a, b, n in items],
            }
            for f, items in ranked.items()
        },
    }


def links(path: str, raw: dict[str, Any], limit: int, offset: int) -> dict[str, str]:
    """start, next (and prev) as CKAN gives them: `path` with the request's parameters and the
    offset moved. Built from the parameters, so POSTed searches get them too."""
    args = {
        k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
        for k, v in raw.items()
        if k != "offset"
    }
    out = {
        "start": f"{path}?{urlencode(args)}",
        "next": f"{path}?{urlencode({**args, 'offset': offset + limit})}",
    }
    if offset > 0:
        out["prev"] = f"{path}?{urlencode({**args, 'offset': max(0, offset - limit)})}"
    return out
