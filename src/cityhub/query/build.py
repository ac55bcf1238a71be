"""Query specs to SQL over a `TableView`, as sqlglot ASTs (never by pasting user text into SQL).

Rows come in a stable order: the requested sort keys, then the row's place in the version's files
(file, row number). Paging is by keyset on that order: the cursor carries the last row's keys, so
page 1,000 costs what page 1 costs.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import replace
from typing import Any

from sqlglot import exp

from cityhub.access import Column, TableView
from cityhub.catalog.vocab import DataType
from cityhub.errors import InvalidInput
from cityhub.query.masking import mask_expr
from cityhub.query.spec import AggregateQuery, Filter, RowsQuery

# A row's place in its version (file, row number): the tiebreak of every order. DuckDB names the
# row number column itself.
FILE, ROW = "__file", "file_row_number"
_SQL_TYPES = {
    DataType.INTEGER: "BIGINT",
    DataType.DECIMAL: "DOUBLE",
    DataType.DATE: "DATE",
    DataType.TIMESTAMP: "TIMESTAMP",
    DataType.BOOLEAN: "BOOLEAN",
}
_COMPARE = {"eq": exp.EQ, "ne": exp.NEQ, "lt": exp.LT, "lte": exp.LTE, "gt": exp.GT, "gte": exp.GTE}
_TRUE = {"true", "1", "yes", "y", "t", "是"}
_FALSE = {"false", "0", "no", "n", "f", "否"}


def ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def col(name: str) -> exp.Column:
    return exp.column(ident(name))


def _scan(files: list[str], place: bool) -> exp.Expr:
    """read_parquet over a version's files; `place` adds each row's file and row number.

    The files are listed by name, so the order DuckDB scans them in (it keeps insertion order)
    is the rows' place order: a read without sort keys needs no ORDER BY."""
    args: list[exp.Expr] = [
        exp.Array(expressions=[exp.Literal.string(f) for f in sorted(files)]),
        exp.EQ(this=exp.var("union_by_name"), expression=exp.true()),
    ]
    if place:
        args += [
            exp.EQ(this=exp.var("filename"), expression=exp.Literal.string(FILE)),
            exp.EQ(this=exp.var("file_row_number"), expression=exp.true()),
        ]
    return exp.Anonymous(this="read_parquet", expressions=args)


def relation(view: TableView, place: bool = False, over: str | None = None) -> exp.Expr:
    """What every query of `view` reads FROM: the version's files (or `over`, a registered table
    of candidate rows from a key index) as the caller may see them. Unless the view is plain,
    that is a subquery which masks each masked column and keeps only the rows the grant's row
    filter allows, so everything the caller's query does (filter, sort, group, min/max, any
    function) sees masked values of allowed rows and nothing else."""
    base = (
        exp.Table(this=ident(over))
        if over is not None
        else exp.Table(this=_scan(view.files, place))
    )
    if view.plain:
        return base
    outputs: list[exp.Expr] = []
    for c in view.columns:
        if c.mask is None:
            outputs.append(col(c.name))
        else:
            masked = mask_expr(c.mask, col(c.name), view.pseudonym_context)
            outputs.append(exp.alias_(masked, ident(c.name)))
    if place:
        outputs += [col(FILE), col(ROW)]
    inner = exp.select(*outputs).from_(base)
    if view.row_filter:
        raw = replace(view, columns=list(view.raw), row_filter=())
        allowed = [condition(raw, Filter.model_validate(dict(f))) for f in view.row_filter]
        inner = inner.where(exp.and_(*allowed))
    return exp.Subquery(this=inner, alias=exp.TableAlias(this=ident("v")))


def view_select(view: TableView) -> exp.Select:
    """The caller's view of a version as a SELECT: exactly the columns it may read, masked, of
    the rows it may read. User SQL names datasets only through this."""
    return exp.select(*[col(c.name) for c in view.columns]).from_(relation(view))


def typed(column: Column, value: Any) -> exp.Expr:
    """A literal of the column's type, or a clear 400 saying what was expected."""
    kind = DataType(column.data_type)
    if value is None:
        return exp.null()
    text = str(value).strip()
    try:
        match kind:
            case DataType.INTEGER:
                return exp.Literal.number(int(text))
            case DataType.DECIMAL:
                return exp.Literal.number(float(text))
            case DataType.BOOLEAN:
                if text.lower() not in _TRUE | _FALSE:
                    raise ValueError(text)
                return exp.true() if text.lower() in _TRUE else exp.false()
            case DataType.DATE:
                dt.date.fromisoformat(text)
                return exp.cast(exp.Literal.string(text), "DATE")
            case DataType.TIMESTAMP:
                dt.datetime.fromisoformat(text)
                return exp.cast(exp.Literal.string(text), "TIMESTAMP")
    except ValueError:
        raise InvalidInput(
            f"field {column.name!r}: expected {kind.value} ({kind.zh}), found {text!r}",
            field=column.name,
        ) from None
    return exp.Literal.string(text)


def condition(view: TableView, f: Filter) -> exp.Expr:
    c = view.column(f.field)
    ref = col(c.name)
    text_ops = {"like", "contains", "startswith"}
    if f.op in text_ops and DataType(c.data_type) is not DataType.STRING:
        raise InvalidInput(f"filter on {c.name!r}: {f.op} works on text fields only")
    match f.op:
        case "isnull":
            null = exp.Is(this=ref, expression=exp.null())
            return null if f.value in (True, None) else exp.Not(this=null)
        case "in":
            values = f.value if isinstance(f.value, list) else [f.value]
            if not values:
                raise InvalidInput(f"filter on {c.name!r}: in needs at least one value")
            return exp.In(this=ref, expressions=[typed(c, v) for v in values])
        case "like":
            return exp.Like(this=ref, expression=exp.Literal.string(str(f.value)))
        case "contains":
            return exp.func("contains", ref, exp.Literal.string(str(f.value)))
        case "startswith":
            return exp.func("starts_with", ref, exp.Literal.string(str(f.value)))
    return _COMPARE[f.op](this=ref, expression=typed(c, f.value))


def _where(view: TableView, filters: list[Filter]) -> exp.Expr | None:
    parts = [condition(view, f) for f in filters]
    return exp.and_(*parts) if parts else None


def _sort_keys(view: TableView, sort: list[str]) -> list[tuple[str, bool]]:
    """(column, descending) for each sort key, by machine name."""
    keys = []
    for key in sort:
        desc = key.startswith("-")
        keys.append((view.column(key.lstrip("-+")).name, desc))
    return keys


# -- cursors ---------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def encode_cursor(version: int, sort: list[tuple[str, bool]], last: dict[str, Any]) -> str:
    payload = {"v": version, "s": sort, "k": [_plain(last[n]) for n, _ in sort]}
    payload["p"] = [last[FILE], last[ROW]]
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        if not {"v", "s", "k", "p"} <= payload.keys():
            raise ValueError
        return dict(payload)
    except ValueError:
        raise InvalidInput(
            "cursor: not a cursor this server gave; pass `next_cursor` from the previous page"
        ) from None


def rows_sql(
    view: TableView,
    q: RowsQuery,
    cursor: dict[str, Any] | None,
    candidates: str | None = None,
) -> tuple[exp.Select, list[tuple[str, bool]]]:
    """The page's SELECT (one row more than asked, to know whether another page follows).

    `candidates` names a registered table holding the only rows that can match (from a key
    index, with their places); the query over it is otherwise the same."""
    keys = _sort_keys(view, q.sort)
    names = selected(view, q.select)
    if cursor is not None and cursor["s"] != [list(k) for k in keys]:
        raise InvalidInput("cursor: it was made for another sort order; start again without it")
    # Without sort keys the order is the rows' place (see `_scan`): no ORDER BY then, so a page
    # stops the scan once it is full instead of ranking the whole version, and the files before
    # the cursor's are not even opened.
    natural = not keys and candidates is None
    if natural:
        files = [f for f in view.files if cursor is None or f >= cursor["p"][0]]
        table = relation(replace(view, files=files), place=True)
    else:
        table = relation(view, place=True, over=candidates)
    select = exp.select(*[col(n) for n in names], col(FILE), col(ROW), copy=False).from_(
        table, copy=False
    )
    where = _where(view, q.filters)
    if cursor is not None:
        file, row = cursor["p"]
        after = _keyset(view, keys, cursor["k"], file, row)
        where = after if where is None else exp.and_(where, after, copy=False)
    if where is not None:
        select = select.where(where, copy=False)
    if not natural:
        select = select.order_by(*_order(keys), copy=False)
    return select.limit(q.limit + 1, copy=False), keys


def selected(view: TableView, select: list[str] | None) -> list[str]:
    """Machine names of the selected fields (by name or title), or of every readable one."""
    return [view.column(s).name for s in select] if select else [c.name for c in view.columns]


def _order(keys: list[tuple[str, bool]]) -> list[exp.Ordered]:
    """The order of every read of rows: the sort keys (nulls last), then the row's place."""
    order = [exp.Ordered(this=col(n), desc=d, nulls_first=False) for n, d in keys]
    return [*order, exp.Ordered(this=col(FILE)), exp.Ordered(this=col(ROW))]


def select_sql(
    view: TableView,
    select: list[str] | None,
    filters: list[Filter],
    sort: list[str],
    limit: int | None = None,
) -> exp.Select:
    """Every matching row (up to `limit`) in the order `rows_sql` pages them, without paging and
    without the place columns: the SELECT of a download."""
    keys = _sort_keys(view, sort)
    names = selected(view, select)
    if keys:
        select_ = exp.select(*[col(n) for n in names]).from_(relation(view, place=True))
        select_ = select_.order_by(*_order(keys))
    else:
        # No sort key: no ORDER BY either (the scan is in place order, see `source`), so
        # millions of rows stream as they are scanned instead of waiting for a full sort.
        select_ = exp.select(*[col(n) for n in names]).from_(relation(view))
    where = _where(view, filters)
    if where is not None:
        select_ = select_.where(where)
    return select_ if limit is None else select_.limit(limit)


def _keyset(
    view: TableView, keys: list[tuple[str, bool]], values: list[Any], file: str, row: int
) -> exp.Expr:
    place = exp.or_(
        exp.GT(this=col(FILE), expression=exp.Literal.string(file)),
        exp.and_(
            exp.EQ(this=col(FILE), expression=exp.Literal.string(file)),
            exp.GT(this=col(ROW), expression=exp.Literal.number(int(row))),
        ),
    )
    options: list[exp.Expr] = []
    ties: list[exp.Expr] = []
    for (name, desc), v in zip(keys, values, strict=True):
        c = view.column(name)
        ref = col(c.name)
        if v is None:  # nulls sort last: only more nulls can follow
            ties.append(exp.Is(this=ref, expression=exp.null()))
            continue
        bound = typed(c, v)
        beyond = (exp.LT if desc else exp.GT)(this=ref, expression=bound)
        options.append(exp.and_(*ties, exp.or_(beyond, exp.Is(this=ref, expression=exp.null()))))
        ties.append(exp.EQ(this=ref, expression=bound))
    return exp.or_(*options, exp.and_(*ties, place)) if options or ties else place


def _metric(fn: str, ref: exp.Expr) -> exp.Expr:
    match fn:
        case "count":
            return exp.Count(this=ref)
        case "count_distinct":
            return exp.Count(this=exp.Distinct(expressions=[ref]))
        case "sum":
            return exp.Sum(this=ref)
        case "avg":
            return exp.Avg(this=ref)
        case "min":
            return exp.Min(this=ref)
    return exp.Max(this=ref)


def count_sql(view: TableView, filters: list[Filter], candidates: str | None = None) -> exp.Select:
    select = exp.select(exp.Count(this=exp.Star())).from_(relation(view, over=candidates))
    where = _where(view, filters)
    return select.where(where) if where is not None else select


def aggregate_sql(view: TableView, q: AggregateQuery) -> exp.Select:
    groups: list[tuple[str, exp.Expr]] = []
    for g in q.group_by:
        c = view.column(g.field)
        expr: exp.Expr = col(c.name)
        if g.bucket is not None:
            if DataType(c.data_type) not in (DataType.DATE, DataType.TIMESTAMP):
                raise InvalidInput(
                    f"group_by {c.name}:{g.bucket}: buckets need a date or time field"
                )
            expr = exp.func("date_trunc", exp.Literal.string(g.bucket), expr)
            groups.append((f"{c.name}_{g.bucket}", expr))
        else:
            groups.append((c.name, expr))
    metrics: list[tuple[str, exp.Expr]] = []
    for m in q.metrics:
        if m.field is None:
            if m.fn != "count":
                raise InvalidInput(f"metric {m.fn} needs a field")
            metrics.append(("count", exp.Count(this=exp.Star())))
            continue
        c = view.column(m.field)
        numeric = DataType(c.data_type) in (DataType.INTEGER, DataType.DECIMAL)
        if m.fn in ("sum", "avg") and not numeric:
            raise InvalidInput(
                f"metric {m.fn}:{c.name}: needs a numeric field, {c.name} is {c.data_type}"
            )
        fn = _metric(m.fn, col(c.name))
        metrics.append((f"{m.fn}_{c.name}", fn))
    labels = [name for name, _ in groups + metrics]
    select = exp.select(*[exp.alias_(e, ident(n)) for n, e in groups + metrics]).from_(
        relation(view)
    )
    where = _where(view, q.filters)
    if where is not None:
        select = select.where(where)
    if groups:
        select = select.group_by(*[e for _, e in groups])
    order = []
    for key in q.sort or [n for n, _ in groups]:
        name = key.lstrip("-+")
        if name not in labels:
            raise InvalidInput(
                f"sort {key!r}: sort by a group field or a metric ({', '.join(labels)})"
            )
        order.append(exp.Ordered(this=col(name), desc=key.startswith("-"), nulls_first=False))
    if order:
        select = select.order_by(*order)
    return select.limit(q.limit)
