"""Column types inferred from a sample, as DuckDB expressions that convert the whole stream.

The sample is profiled in one SQL statement (no Python per value); the chosen conversions then run
inside the engine over every row. A value that does not fit its column's type is flagged with a
reason so the row goes to the rejects store instead of vanishing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from cityhub.catalog.vocab import DataType

#: Written instead of a value by departments; empty for typed columns, kept text for strings.
NULL_TOKENS = ("", "-", "--", "—", "/", "NULL", "null", "None", "N/A", "n/a", "NA", "#N/A", "不详")
TRUE_WORDS = ("是", "true", "t", "y", "yes")
FALSE_WORDS = ("否", "false", "f", "n", "no")

# Shapes checked before parsing, so lenient parsers never accept junk. (regex, strptime format)
DATE_FORMATS = [
    (r"\d{4}-\d{1,2}-\d{1,2}", "%Y-%m-%d"),
    (r"\d{4}/\d{1,2}/\d{1,2}", "%Y/%m/%d"),
    (r"\d{4}\.\d{1,2}\.\d{1,2}", "%Y.%m.%d"),
    (r"\d{4}年\d{1,2}月\d{1,2}日", "%Y年%m月%d日"),
    (r"(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])", "%Y%m%d"),
]
TIMESTAMP_FORMATS = [
    (r"\d{4}-\d{1,2}-\d{1,2}[ T]\d{1,2}:\d{2}:\d{2}", "%Y-%m-%d %H:%M:%S"),
    (r"\d{4}-\d{1,2}-\d{1,2}T\d{1,2}:\d{2}:\d{2}", "%Y-%m-%dT%H:%M:%S"),
    (r"\d{4}-\d{1,2}-\d{1,2}[ T]\d{1,2}:\d{2}:\d{2}\.\d{1,6}", "%Y-%m-%d %H:%M:%S.%f"),
    (r"\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2}", "%Y-%m-%d %H:%M"),
    (r"\d{4}/\d{1,2}/\d{1,2} \d{1,2}:\d{2}:\d{2}", "%Y/%m/%d %H:%M:%S"),
    (r"\d{4}/\d{1,2}/\d{1,2} \d{1,2}:\d{2}", "%Y/%m/%d %H:%M"),
    (r"\d{4}年\d{1,2}月\d{1,2}日 ?\d{1,2}:\d{2}:\d{2}", "%Y年%m月%d日 %H:%M:%S"),
    (r"\d{4}年\d{1,2}月\d{1,2}日\d{1,2}时\d{1,2}分\d{1,2}秒", "%Y年%m月%d日%H时%M分%S秒"),
    (r"(19|20)\d{12}", "%Y%m%d%H%M%S"),
]
INT_RE = r"[+-]?(\d{1,18}|\d{1,3}(,\d{3}){1,5})"
DEC_RE = r"[+-]?(\d+|\d{1,3}(,\d{3})+)?\.\d+([eE][+-]?\d+)?|[+-]?\d+[eE][+-]?\d+"
EXCEL_SERIAL_RE = r"[1-9]\d{3,4}(\.0+)?"  # 1000..99999 days after 1899-12-30
# Titles of columns whose digits are an identifier, never a quantity: they stay strings.
CODE_HINT = re.compile(
    r"编码|代码|编号|号码|证号|标识码|户号|电话|手机|邮编|邮政|身份证|证件|账号|帐号|卡号|工号|学号|"
    r"车牌|号牌|"
    r"\b(id|code|no|phone|tel|mobile|zip|postcode)\b|_id$|_code$|_no$",
    re.IGNORECASE,
)
DATE_HINT = re.compile(r"日期|时间|年月|date|time|day", re.IGNORECASE)
#: At least this many non-null sample values, of which this share fit, for a type to be chosen
#: despite a few misfits (those rows are then rejected, with their reasons).
MIN_VALUES_FOR_TOLERANCE, MIN_FIT_SHARE = 200, 0.995
#: A column keeps the type it already has while most sample values fit it: the misfits are then
#: rejected (and the reject limit decides), rather than the whole column silently retyped.
KEEP_EXISTING_SHARE = 0.5


@dataclass(frozen=True)
class ColumnPlan:
    """How one source column becomes one stored field."""

    title: str  # the source's own name
    name: str  # machine name in the lake
    data_type: DataType
    expr: str  # DuckDB expression over the source column giving the stored value
    expected: str | None  # what a value must look like, for text converted to a type
    native: str | None = None  # engine type the CSV reader parses the column as itself

    @property
    def checked(self) -> bool:
        """Converted here, so misfits are flagged by our SQL (else by the reader, or none)."""
        return self.expected is not None and self.native is None


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(literal(v) for v in values)


def _clean(col: str) -> str:
    return f"(CASE WHEN trim({col}) IN ({_in(NULL_TOKENS)}) THEN NULL ELSE trim({col}) END)"


def _fmt_list(fmts: list[str]) -> str:
    return "[" + ", ".join(literal(f) for f in fmts) + "]"


def _conversion(dtype: DataType, col: str, fmts: list[str]) -> str:
    c = _clean(col)
    match dtype:
        case DataType.INTEGER:
            return f"TRY_CAST(replace({c}, ',', '') AS BIGINT)"
        case DataType.DECIMAL:
            return f"TRY_CAST(replace({c}, ',', '') AS DOUBLE)"
        case DataType.BOOLEAN:
            return (
                f"(CASE WHEN lower({c}) IN ({_in(TRUE_WORDS)}) THEN true "
                f"WHEN lower({c}) IN ({_in(FALSE_WORDS)}) THEN false END)"
            )
        case DataType.DATE if fmts == ["excel"]:
            return f"(DATE '1899-12-30' + TRY_CAST(TRY_CAST({c} AS DOUBLE) AS INTEGER))"
        case DataType.DATE:
            return f"CAST(try_strptime({c}, {_fmt_list(fmts)}) AS DATE)"
        case DataType.TIMESTAMP:
            return f"try_strptime({c}, {_fmt_list(fmts)})"
    return col


#: Formats the CSV reader parses natively exactly as our conversion would.
_NATIVE = {
    DataType.INTEGER: ("BIGINT", None),
    DataType.DECIMAL: ("DOUBLE", None),
    DataType.DATE: ("DATE", {"%Y-%m-%d"}),
    DataType.TIMESTAMP: (
        "TIMESTAMP",
        {"%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"},
    ),
}


def typed_plan(
    title: str, name: str, dtype: DataType, fmts: list[str] | None = None, native: bool = False
) -> ColumnPlan:
    """`native`: the values are plain enough (no null words, no thousands separators) for the CSV
    reader to parse them itself, which is much faster; a misfit is then the reader's reject."""
    col = quote(title)
    if dtype is DataType.STRING:
        return ColumnPlan(title, name, dtype, col, None)
    expected = "excel serial date" if fmts == ["excel"] else dtype.value
    if fmts and fmts != ["excel"]:
        expected += " (" + " or ".join(fmts).replace("%", "") + ")"
    engine_type, formats = _NATIVE.get(dtype, (None, None))
    if native and engine_type and (formats is None or set(fmts or []) <= formats):
        return ColumnPlan(title, name, dtype, col, expected, engine_type)
    return ColumnPlan(title, name, dtype, _conversion(dtype, col, fmts or []), expected)


def arrow_data_type(t: pa.DataType) -> DataType | None:
    """The logical type of an already typed source column; None for text (to be inferred)."""
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        return None
    if pa.types.is_boolean(t):
        return DataType.BOOLEAN
    if pa.types.is_integer(t):
        return DataType.INTEGER
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return DataType.DECIMAL
    if pa.types.is_date(t):
        return DataType.DATE
    if pa.types.is_timestamp(t):
        return DataType.TIMESTAMP
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return DataType.GEOMETRY
    if pa.types.is_nested(t):
        return DataType.JSON
    return DataType.STRING


def _source_typed_plan(title: str, name: str, dtype: DataType) -> ColumnPlan:
    col = quote(title)
    expr = f"CAST(to_json({col}) AS VARCHAR)" if dtype is DataType.JSON else col
    return ColumnPlan(title, name, dtype, expr, None)


# Cheap shapes that decide which exact checks a column is worth (most text columns need none).
_DAY = r"[0-9]{4}[-/.年][0-9]{1,2}[-/.月][0-9]{1,2}日?"
_ROUGH = {
    "numish": r"[+-]?[0-9][0-9,.eE+-]*",
    "dateish": rf"{_DAY}|(19|20)[0-9]{{6}}",
    "tsish": rf"{_DAY}[ T].*|(19|20)[0-9]{{12}}",
}
_TS_CHARS = r"[0-9\-/.: T年月日时分秒]"
#: For each rough shape, a looser one that every value fitting one of its exact shapes fits: the
#: exact checks (several regexes, strptime) run only on values that pass it.
_MAY_FIT = {
    "numish": r"[+-]?[0-9.][0-9.,]*([eE][+-]?[0-9]+)?",
    "dateish": r"[0-9]{4}[-/.年][0-9\-/.年月日]*|[0-9]{8}",
    "tsish": rf"{_TS_CHARS}*[:时]{_TS_CHARS}*|(19|20)[0-9]{{12}}",
}


def _rough_checks(v: str, r: str) -> list[tuple[str, str]]:
    """(key, condition) pairs counted for every column; `v` is the cleaned value, `r` the raw."""
    return [
        ("n", f"{v} IS NOT NULL"),
        # Written-out nulls (-, 无, NULL ...) and thousands separators need our conversion.
        ("tokens", f"{v} IS NULL AND trim({r}) <> ''"),
        ("comma", f"contains({v}, ',')"),
        ("bool", f"lower({v}) IN ({_in(TRUE_WORDS + FALSE_WORDS)})"),
    ] + [(key, f"regexp_full_match({v}, {literal(shape)})") for key, shape in _ROUGH.items()]


def _exact_checks(v: str) -> dict[str, list[tuple[str, str]]]:
    """(key, condition) pairs that tell the types apart, by the rough shape that makes them worth
    counting in a column."""

    def formats(kind: str, shapes: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [
            (
                f"{kind}{i}",
                # CASE, not AND: strptime, the costly part, runs only where the shape fits.
                f"CASE WHEN regexp_full_match({v}, {literal(shape)}) "
                f"THEN try_strptime({v}, {literal(fmt)}) IS NOT NULL ELSE false END",
            )
            for i, (shape, fmt) in enumerate(shapes)
        ]

    return {
        "numish": [
            ("int", f"regexp_full_match({v}, {literal(INT_RE)})"),
            (
                "dec",
                f"regexp_full_match({v}, {literal(DEC_RE)}) "
                f"OR regexp_full_match({v}, {literal(INT_RE)})",
            ),
            ("lead0", f"regexp_full_match({v}, '[+-]?0[0-9]+')"),
            ("long", f"regexp_full_match({v}, '[0-9]{{16,}}')"),
            ("mobile", f"regexp_full_match({v}, '1[3-9][0-9]{{9}}')"),
            ("excel", f"regexp_full_match({v}, {literal(EXCEL_SERIAL_RE)})"),
        ],
        "dateish": formats("date", DATE_FORMATS),
        "tsish": formats("ts", TIMESTAMP_FORMATS),
    }


def _distinct_values_sql(view: str, titles: list[str]) -> str:
    """The sample's distinct (column index, raw value, occurrences) triples, nulls included:
    a value is then checked once however often it occurs, whichever column it is in."""
    indexes = ", ".join(str(i) for i in range(len(titles)))
    values = ", ".join(f"CAST({quote(t)} AS VARCHAR)" for t in titles)
    return (
        "SELECT col, r, count(*) AS k FROM "
        f"(SELECT unnest([{indexes}]) AS col, unnest([{values}]) AS r FROM {view}) GROUP BY col, r"
    )


def _sample_stats(
    con: duckdb.DuckDBPyConnection, view: str, titles: list[str]
) -> dict[str, dict[str, int]]:
    """For each text column, how many sample values fit each candidate shape, in one statement.

    Rough shapes are counted for every column; the exact shapes of a rough one count only in a
    column where that rough shape fits at least KEEP_EXISTING_SHARE of the values (the others
    count as zero), and are checked only on values that may fit them (_MAY_FIT)."""
    if not titles:
        return {}
    rough, exact = _rough_checks("v", "r"), _exact_checks("v")
    aggs = [f"sum(k) FILTER ({cond})" for _, cond in rough]
    aggs += [
        f"sum(k) FILTER (CASE WHEN may_{kind} THEN {cond} ELSE false END)"
        for kind, checks in exact.items()
        for _, cond in checks
    ]
    may_fit = ", ".join(
        f"regexp_full_match(v, {literal(shape)}) AS may_{kind}" for kind, shape in _MAY_FIT.items()
    )
    rows = con.sql(
        f"SELECT col, {', '.join(aggs)} FROM (SELECT *, {may_fit} FROM "
        f"(SELECT col, r, k, {_clean('r')} AS v FROM ({_distinct_values_sql(view, titles)}))) "
        "GROUP BY col"
    ).fetchall()
    keys = [key for key, _ in rough] + [key for checks in exact.values() for key, _ in checks]
    counted = {
        int(col): dict(zip(keys, (int(c or 0) for c in counts), strict=True))
        for col, *counts in rows
    }
    stats = {}
    for i, title in enumerate(titles):
        s = counted.get(i) or dict.fromkeys(keys, 0)
        for kind, checks in exact.items():
            if not (s["n"] > 0 and s[kind] / s["n"] >= KEEP_EXISTING_SHARE):
                s.update(dict.fromkeys((key for key, _ in checks), 0))
        stats[title] = s
    return stats


def _fits(count: int, n: int) -> bool:
    return n > 0 and (count == n or (n >= MIN_VALUES_FOR_TOLERANCE and count / n >= MIN_FIT_SHARE))


def _formats(s: dict[str, int], kind: str, formats: list[tuple[str, str]]) -> tuple[int, list[str]]:
    used = [(s[f"{kind}{i}"], fmt) for i, (_, fmt) in enumerate(formats) if s[f"{kind}{i}"]]
    # A value fits at most one shape here except the ISO pair; the sum is what fits any of them.
    return sum(c for c, _ in used), [fmt for _, fmt in used]


def _candidates(title: str, s: dict[str, int]) -> list[tuple[DataType, list[str], int]]:
    """Types in order of preference, each with its formats and how many values fit it."""
    n = s["n"]
    code_like = (
        s["lead0"] > 0
        or s["long"] > 0
        or bool(CODE_HINT.search(title))
        or (n > 0 and s["mobile"] / n >= 0.9)
    )
    found: list[tuple[DataType, list[str], int]] = [(DataType.BOOLEAN, [], s["bool"])]
    date_count, date_fmts = _formats(s, "date", DATE_FORMATS)
    ts_count, ts_fmts = _formats(s, "ts", TIMESTAMP_FORMATS)
    found.append((DataType.DATE, date_fmts, date_count))
    found.append((DataType.TIMESTAMP, ts_fmts, ts_count))
    if DATE_HINT.search(title) and s["excel"] == n:
        found.append((DataType.DATE, ["excel"], s["excel"]))
    if not code_like:
        found += [(DataType.INTEGER, [], s["int"]), (DataType.DECIMAL, [], s["dec"])]
    return found


def choose_type(
    title: str, s: dict[str, int], existing: DataType | None
) -> tuple[DataType, list[str]]:
    n = s["n"]
    options = _candidates(title, s)
    if existing is DataType.STRING:
        return DataType.STRING, []
    if existing is not None:
        for dtype, fmts, count in options:
            if dtype is existing and n and count / n >= KEEP_EXISTING_SHARE:
                return dtype, fmts
    for dtype, fmts, count in options:
        if _fits(count, n):
            return dtype, fmts
    return DataType.STRING, []


def plan_columns(
    con: duckdb.DuckDBPyConnection,
    sample_view: str,
    schema: pa.Schema,
    names: dict[str, str],
    existing: dict[str, DataType],
    native: bool = False,
) -> list[ColumnPlan]:
    """Plans for every source column of `schema` (titles as names), from the sample in
    `sample_view`. `existing` holds the types the dataset already has, by title: a column keeps
    its type while the new values still fit it, so syncs do not flap between types. `native`:
    the source is a CSV file the engine's reader may type itself where that is exact."""
    text_titles = [f.name for f in schema if arrow_data_type(f.type) is None]
    stats = _sample_stats(con, sample_view, text_titles)
    plans = []
    for f in schema:
        source_type = arrow_data_type(f.type)
        if source_type is not None:
            plans.append(_source_typed_plan(f.name, names[f.name], source_type))
            continue
        st = stats[f.name]
        dtype, fmts = choose_type(f.name, st, existing.get(f.name))
        plain = native and st["tokens"] == 0 and st["comma"] == 0
        plans.append(typed_plan(f.name, names[f.name], dtype, fmts, native=plain))
    return plans


def select_sql(plans: list[ColumnPlan], source: str, keep: list[str]) -> str:
    """One pass converting every column, with `__bad`: the first misfit's reason, else NULL.

    Two levels, so each conversion runs once: the inner SELECT converts and keeps the raw text of
    converted columns beside; the outer one flags a value that is neither convertible nor a null
    token, building the reason text only for such rows (CASE evaluates THEN on those alone).
    """
    checked = [p for p in plans if p.checked]
    inner = [f"{p.expr} AS {quote(p.name)}" for p in plans]
    inner += [f"{quote(p.title)} AS {_raw(p)}" for p in checked]
    inner += [quote(k) for k in keep]
    outer = (
        [quote(p.name) for p in plans] + [f"{_bad(checked)} AS __bad"] + [quote(k) for k in keep]
    )
    return f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM {source})"


def _raw(p: ColumnPlan) -> str:
    return quote("__raw_" + p.name)


def _misfit(p: ColumnPlan) -> str:
    return f"({quote(p.name)} IS NULL AND trim({_raw(p)}) NOT IN ({_in(NULL_TOKENS)}))"


def _bad(checked: list[ColumnPlan]) -> str:
    if not checked:
        return "CAST(NULL AS VARCHAR)"
    reasons = [
        f"CASE WHEN {_misfit(p)} THEN "
        f"{literal(f'{p.title}: expected {p.expected}, found ' + chr(39))} || "
        f"substr({_raw(p)}, 1, 80) || {literal(chr(39))} END"
        for p in checked
    ]
    return (
        f"CASE WHEN {' OR '.join(_misfit(p) for p in checked)} "
        f"THEN coalesce({', '.join(reasons)}) END"
    )
