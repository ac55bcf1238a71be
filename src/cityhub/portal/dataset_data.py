"""What the dataset page reads of a dataset's rows, always through the access door: the preview,
the quick chart, the map's points, and the dataset's usage figures from the audit log.

Each read is written to the audit log (`Door.record_read`) with a `what` that starts with
"portal" (the preview: one per page view) or "portal-chart" / "portal-map", so the usage figures
count page views once and never as API calls.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup
from sqlalchemy.orm import Session

from cityhub.access import Caller, TableView
from cityhub.access.door import Column
from cityhub.access.models import AuditRecord
from cityhub.access.policy import Access, Treatment
from cityhub.api.deps import Services
from cityhub.catalog.models import Dataset
from cityhub.catalog.vocab import DataType
from cityhub.errors import CityhubError, Forbidden, NotFound
from cityhub.portal.dataset_geo import coordinate, point_of
from cityhub.query import AggregateQuery, Filter, RowsQuery, aggregate, rows
from cityhub.query.spec import Metric, parse_group, parse_metric

Gettext = Callable[[str], str]
PREVIEW_ROWS = 20
CHART_GROUPS = 40  # bars of a chart by category: the largest groups
CHART_POINTS = 1000  # points of a chart over time
MAP_POINTS = 2000
DATES = (DataType.DATE.value, DataType.TIMESTAMP.value)
NUMBERS = (DataType.INTEGER.value, DataType.DECIMAL.value)
OPAQUE = (DataType.GEOMETRY.value, DataType.JSON.value)
GEOMETRY_NAMES = ("geometry", "geom", "the_geom", "shape", "几何", "空间信息")
LABEL_HINTS = ("名称", "名", "name", "title")


@dataclass(frozen=True)
class Reading:
    """The caller's view of one version, or why there is none: `refused` when the door says
    no (Forbidden), otherwise the data or the version is missing."""

    view: TableView | None
    problem: str | None = None
    refused: bool = False


def open_view(svc: Services, db: Session, who: Caller, code: str, version: int | None) -> Reading:
    try:
        return Reading(svc.door.table(db, who, code, version))
    except Forbidden as exc:
        return Reading(None, exc.message, refused=True)
    except NotFound as exc:  # the dataset is known (door.dataset passed): no data, no version
        return Reading(None, exc.message)


# -- values ---------------------------------------------------------------------------------
def plain(value: Any) -> Any:
    """A value as JSON has it: dates as ISO text, decimals as floats, bytes by their size."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"({len(bytes(value))} B)"
    return value


def embed(data: Any) -> Markup:
    """JSON for a `<script type="application/json">` element: never run, read by the page's
    scripts. `<`, `>` and `&` are escaped so no value can close the element."""
    text = json.dumps(data, ensure_ascii=False, default=plain, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


@dataclass(frozen=True)
class Cell:
    text: str
    numeric: bool = False
    empty: bool = False


def cell(value: Any, column: Column, _: Gettext, longest: int = 160) -> Cell:
    if value is None:
        return Cell("", empty=True)
    if isinstance(value, bool):
        return Cell(_("yes") if value else _("no"))
    if isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(plain(value))
    if len(text) > longest:
        text = text[: longest - 1] + "…"
    return Cell(text, numeric=column.data_type in NUMBERS and not column.masked)


# -- the preview ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Preview:
    columns: list[Column]
    rows: list[list[Cell]]
    raw: list[dict[str, Any]]  # the same rows as the engine gave them (for the API examples)
    version: int
    current: int


def preview(svc: Services, who: Caller, view: TableView, _: Gettext) -> Preview:
    q = RowsQuery(limit=PREVIEW_ROWS, version=view.version)
    page = rows(svc.engine, view, q, svc.lookups)
    svc.door.record_read(
        who, view, len(page.rows), f"portal preview {q.model_dump_json(exclude_none=True)}"
    )
    shown = [[cell(r.get(c.name), c, _) for c in page.fields] for r in page.rows]
    return Preview(page.fields, shown, page.rows, page.version, view.current_version)


# -- the quick chart ------------------------------------------------------------------------
@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class ChartForm:
    groups: list[Choice]
    metrics: list[Choice]
    by: str
    metric: str


def chart_form(view: TableView, by: str | None, metric: str | None, _: Gettext) -> ChartForm:
    """What the chart may group by (any readable field; dates by day or month too) and compute
    (a count, or sum/avg/min/max of a number read in clear)."""
    groups: list[Choice] = []
    for c in view.columns:
        if c.data_type in OPAQUE:  # shapes and documents make no categories
            continue
        groups.append(Choice(c.name, c.title))
        if c.data_type in DATES and not c.masked:
            groups.append(Choice(f"{c.name}:day", _("%(field)s, by day") % {"field": c.title}))
            groups.append(Choice(f"{c.name}:month", _("%(field)s, by month") % {"field": c.title}))
    metrics = [Choice("count", _("Number of records"))]
    for c in view.columns:
        if c.data_type in NUMBERS and not c.masked:
            for fn, label in (
                ("sum", _("Sum of %(field)s")),
                ("avg", _("Average of %(field)s")),
                ("min", _("Minimum of %(field)s")),
                ("max", _("Maximum of %(field)s")),
            ):
                metrics.append(Choice(f"{fn}:{c.name}", label % {"field": c.title}))
    return ChartForm(groups, metrics, by or "", metric or "count")


@dataclass(frozen=True)
class Chart:
    title: str
    x_title: str
    y_title: str
    line: bool  # over time: a line, else bars
    points: list[tuple[str, Any]]  # (group as shown, metric value)
    truncated: bool
    data: Markup  # the same, as JSON for static/plots.js


@dataclass(frozen=True)
class ChartOutcome:
    chart: Chart | None = None
    problem: str | None = None


def chart(svc: Services, who: Caller, view: TableView, form: ChartForm, _: Gettext) -> ChartOutcome:
    """The aggregate the form asks for, or why it cannot be drawn (a choice not offered)."""
    by = next((g for g in form.groups if g.value == form.by), None)
    how = next((m for m in form.metrics if m.value == form.metric), None)
    if by is None or how is None:
        return ChartOutcome(problem=_("Choose a field and a measure from the lists."))
    group = parse_group(by.value)
    metric: Metric = parse_metric(how.value)
    column = view.column(group.field)
    line = column.data_type in DATES and not column.masked
    label = f"{column.name}_{group.bucket}" if group.bucket else column.name
    q = AggregateQuery(
        group_by=[group],
        metrics=[metric],
        sort=[label] if line else [f"-{metric.label}", label],
        limit=CHART_POINTS if line else CHART_GROUPS + 1,
        version=view.version,
    )
    try:
        result = aggregate(svc.engine, view, q)
    except CityhubError as exc:
        return ChartOutcome(problem=exc.message)
    svc.door.record_read(
        who, view, len(result.rows), f"portal-chart {q.model_dump_json(exclude_none=True)}"
    )
    found = result.rows if line else result.rows[:CHART_GROUPS]
    empty = _("(empty)")
    points = [
        (_group_text(r.get(label), group.bucket, empty), plain(r.get(metric.label))) for r in found
    ]
    title = _("%(measure)s by %(field)s") % {"measure": how.label, "field": by.label}
    data = {
        "kind": "line" if line else "bar",
        "title": title,
        "x_title": by.label,
        "y_title": how.label,
        "x": [_group_axis(r.get(label), group.bucket, empty) for r in found],
        "y": [p[1] for p in points],
    }
    return ChartOutcome(
        Chart(title, by.label, how.label, line, points, len(result.rows) > len(found), embed(data))
    )


def _group_text(value: Any, bucket: str | None, empty: str) -> str:
    if value is None:
        return empty
    if bucket == "month" and isinstance(value, date):
        return value.strftime("%Y-%m")
    if bucket == "day" and isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    return str(plain(value))


def _group_axis(value: Any, bucket: str | None, empty: str) -> Any:
    """A group as Plotly's axis takes it: ISO text for dates (a date axis), text otherwise."""
    if value is None:
        return empty
    if bucket in ("day", "month") and isinstance(value, datetime):
        return value.date().isoformat()  # the engine truncates to a midnight timestamp
    return str(plain(value))


# -- the map --------------------------------------------------------------------------------
@dataclass(frozen=True)
class MapData:
    points: int
    limited: bool  # the map holds the first MAP_POINTS only
    x_title: str
    y_title: str
    data: Markup


def map_points(
    svc: Services, who: Caller, ds: Dataset, allowed: Access | None, view: TableView, _: Gettext
) -> MapData | None:
    """Up to MAP_POINTS points when the caller reads in clear a longitude and a latitude field,
    or a geometry field; None otherwise (the page then has no map)."""
    if allowed is None:
        return None
    clear = {
        c.name: c
        for c in view.columns
        if not c.masked and allowed.fields.get(c.name) is Treatment.CLEAR
    }
    by_semantic = {f.semantic_type: f.name for f in ds.fields if f.present and f.name in clear}
    lon, lat = by_semantic.get("longitude"), by_semantic.get("latitude")
    geometry = None
    if lon is None or lat is None:
        lon = lat = None
        geometry = next(
            (
                c.name
                for c in clear.values()
                if c.data_type == DataType.GEOMETRY.value
                or c.name.lower() in GEOMETRY_NAMES
                or c.title.lower() in GEOMETRY_NAMES
            ),
            None,
        )
        if geometry is None:
            return None
    used = {lon, lat, geometry}
    label = _label_column(c for c in view.columns if c.name not in used)
    wanted = [n for n in (lon, lat, geometry) if n is not None]
    q = RowsQuery(
        select=wanted + ([label.name] if label is not None else []),
        filters=[Filter(field=n, op="isnull", value=False) for n in wanted],
        limit=MAP_POINTS,
        version=view.version,
    )
    page = rows(svc.engine, view, q)
    svc.door.record_read(
        who, view, len(page.rows), f"portal-map {q.model_dump_json(exclude_none=True)}", q.select
    )
    xs: list[float] = []
    ys: list[float] = []
    texts: list[str] = []
    for r in page.rows:
        if geometry is not None:
            found = point_of(r.get(geometry))
            x, y = found if found is not None else (None, None)
        else:
            x, y = coordinate(r.get(lon or "")), coordinate(r.get(lat or ""))
        if x is None or y is None:
            continue
        xs.append(x)
        ys.append(y)
        texts.append(str(plain(r.get(label.name))) if label is not None else "")
    if not xs:
        return None
    x_title = clear[lon].title if lon else _("Longitude")
    y_title = clear[lat].title if lat else _("Latitude")
    data = {"lon": xs, "lat": ys, "text": texts, "x_title": x_title, "y_title": y_title}
    return MapData(len(xs), len(page.rows) >= MAP_POINTS, x_title, y_title, embed(data))


def _label_column(columns: Iterable[Column]) -> Column | None:
    """The field that names a point on hover: one titled like a name, else the first text."""
    texts = [c for c in columns if c.data_type == DataType.STRING.value]
    for hint in LABEL_HINTS:
        for c in texts:
            if hint in c.title.lower() or hint in c.name.lower():
                return c
    return texts[0] if texts else None


# -- usage ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Usage:
    views: int = 0
    downloads: int = 0
    api_calls: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


def usage(db: Session, code: str) -> Usage:
    """Reads of `code` in the audit log by kind (the first word of what each read was): the
    portal's own are views, exports downloads, everything else (rows, query, aggregate, sql,
    ckan) API calls. Counted by the database, not by loading records."""
    kind = AuditRecord.detail["kind"].as_string()
    counted = db.execute(
        sa.select(kind, sa.func.count())
        .where(AuditRecord.action == "read", AuditRecord.dataset == code)
        .group_by(kind)
    ).all()
    by_kind = {str(k or ""): int(n) for k, n in counted}
    # a page view reads its preview once ("portal"); its chart and map ("portal-…") are
    # part of the same view, not calls of their own
    views = by_kind.get("portal", 0)
    downloads = by_kind.get("export", 0)
    api = sum(n for k, n in by_kind.items() if not k.startswith("portal") and k != "export")
    return Usage(views, downloads, api, by_kind)
