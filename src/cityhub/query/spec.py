"""What a caller may ask of a dataset's rows: typed query specs, and their query-string form.

Query strings (GET) and JSON bodies (POST) produce the same specs:
`select=a,b`, `filter=field:op:value` (repeatable; `in` takes comma-separated values, `isnull`
takes true/false), `sort=-a,b` (minus: descending), `group_by=field` or `group_by=field:day`,
`metric=count` / `metric=sum:field`.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, Field

from cityhub.errors import InvalidInput

Op = Literal["eq", "ne", "lt", "lte", "gt", "gte", "in", "like", "contains", "startswith", "isnull"]
OPS: tuple[str, ...] = get_args(Op)
Bucket = Literal["hour", "day", "month"]
MetricFn = Literal["count", "count_distinct", "sum", "avg", "min", "max"]
MAX_PAGE = 10_000


class Filter(BaseModel):
    field: str
    op: Op = "eq"
    value: Any = None


class RowsQuery(BaseModel):
    select: list[str] | None = None  # default: every field the caller may read
    filters: list[Filter] = Field(default_factory=list)
    sort: list[str] = Field(default_factory=list)  # "-field" sorts descending
    limit: int = Field(100, ge=1, le=MAX_PAGE)
    cursor: str | None = None  # from the previous page's `next_cursor`
    version: int | None = None
    include_total: bool = False


class Group(BaseModel):
    field: str
    bucket: Bucket | None = None  # timestamps and dates: truncate to this unit


class Metric(BaseModel):
    fn: MetricFn
    field: str | None = None  # none for count(*)

    @property
    def label(self) -> str:
        return self.fn if self.field is None else f"{self.fn}_{self.field}"


class AggregateQuery(BaseModel):
    group_by: list[Group] = Field(default_factory=list)
    metrics: list[Metric] = Field(default_factory=lambda: [Metric(fn="count")])
    filters: list[Filter] = Field(default_factory=list)
    sort: list[str] = Field(default_factory=list)  # group fields or metric labels
    limit: int = Field(1000, ge=1, le=MAX_PAGE)
    version: int | None = None


def split_list(values: list[str] | None) -> list[str]:
    """`a,b` and repeated parameters alike, blanks dropped."""
    return [v.strip() for raw in values or [] for v in raw.split(",") if v.strip()]


def parse_filter(text: str) -> Filter:
    field, sep, rest = text.partition(":")
    op, sep2, value = rest.partition(":")
    if not sep or not field:
        raise InvalidInput(
            f"filter {text!r}: expected field:op:value, e.g. xing_bie:eq:男 or nian_ling:gte:18",
            filter=text,
        )
    if op not in OPS:
        raise InvalidInput(f"filter {text!r}: unknown operator {op!r}; use one of {', '.join(OPS)}")
    if not sep2 and op != "isnull":
        raise InvalidInput(f"filter {text!r}: operator {op!r} needs a value (field:{op}:value)")
    parsed: Any = value
    if op == "in":
        parsed = [v for v in value.split(",")]
    elif op == "isnull":
        parsed = value.lower() not in {"false", "0", "no", "否"}
    return Filter(field=field, op=op, value=parsed)


def parse_group(text: str) -> Group:
    field, _, bucket = text.partition(":")
    if bucket and bucket not in ("hour", "day", "month"):
        raise InvalidInput(f"group_by {text!r}: bucket must be hour, day or month")
    return Group(field=field, bucket=bucket or None)


def parse_metric(text: str) -> Metric:
    fn, _, field = text.partition(":")
    if fn not in get_args(MetricFn):
        raise InvalidInput(
            f"metric {text!r}: use count, count_distinct:f, sum:f, avg:f, min:f or max:f"
        )
    if fn != "count" and not field:
        raise InvalidInput(f"metric {text!r}: {fn} needs a field ({fn}:field)")
    return Metric(fn=fn, field=field or None)
