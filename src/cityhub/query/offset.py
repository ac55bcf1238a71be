"""Pages of rows by offset (`LIMIT n OFFSET m`), for clients that page that way (CKAN's
datastore_search). The native API pages by keyset (`rows`), which stays cheap however deep the
page; an offset page costs a scan up to it, so prefer `rows` for bulk reads.

The order is the one every read of rows has (build.select_sql): the sort keys, then the row's
place in the version's files, so consecutive offsets cover every row exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from cityhub.access import Column, TableView
from cityhub.catalog.vocab import DataType
from cityhub.query.build import col, count_sql, select_sql
from cityhub.query.run import Engine, plain
from cityhub.query.spec import Filter


@dataclass
class OffsetPage:
    version: int
    fields: list[Column]
    rows: list[dict[str, Any]]
    total: int | None


def text_match(view: TableView, text: str | None) -> exp.Expr | None:
    """Every whitespace-separated term of `text` contained in some text field of the view (a
    plain substring match: no ranking, no tokenizing). None when there is nothing to match."""
    terms = (text or "").split()
    if not terms:
        return None
    texts = [c for c in view.columns if DataType(c.data_type) is DataType.STRING]
    if not texts:
        return exp.false()
    return exp.and_(
        *[
            exp.or_(*[exp.func("contains", col(c.name), exp.Literal.string(t)) for c in texts])
            for t in terms
        ]
    )


def offset_rows(
    engine: Engine,
    view: TableView,
    *,
    select: list[str] | None = None,
    filters: list[Filter] | None = None,
    text: str | None = None,
    sort: list[str] | None = None,
    limit: int = 100,
    offset: int = 0,
    include_total: bool = False,
) -> OffsetPage:
    """`limit` rows after the first `offset` of those matching `filters` and `text`, in `sort`
    order ("-field" descending) then by place; `total` counts every match when asked."""
    filters = filters or []
    match = text_match(view, text)
    query = select_sql(view, select, filters, sort or [], limit).offset(offset)
    if match is not None:
        query = query.where(match)
    table = plain(engine.table(query.sql(dialect="duckdb")))
    total = None
    if include_total:
        count = count_sql(view, filters)
        if match is not None:
            count = count.where(match)
        total = int(engine.table(count.sql(dialect="duckdb")).column(0)[0].as_py())
    fields = [view.column(n) for n in table.schema.names]
    return OffsetPage(view.version, fields, table.to_pylist(), total)
