"""Column profiling: counts, ranges, frequent values, examples, semantic type and grade.

Two statements per dataset, whatever its width and size:

1. one aggregate pass computing, for every column at once, the non-null count,
   ``approx_count_distinct`` (HyperLogLog), min and max;
2. one reservoir sample (``USING SAMPLE reservoir(N ROWS) REPEATABLE (42)``, deterministic)
   fetched as Arrow; frequent values, examples and semantic types come from it with Arrow
   kernels.

Frequent-value counts are exact when the sample holds every row (``top_exact``); otherwise
they are the sample's counts scaled to the full row count, an estimate, and values seen only
once in the sample are left out.

`profile_files` profiles a large table stored as Parquet without a pass over its data: rows,
nulls, min and max come from the files' footers (exact, written by the writer), and the sample
is taken from row groups spread across the files; the distinct count is then estimated from the
sample (``distinct_sampled``). This keeps profiling a small fraction of a sync.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cityhub.catalog.semantic import default_grade, detect_semantic
from cityhub.catalog.vocab import DataType

MAX_TEXT = 256  # longer strings are cut in profiles: they are for display, not for lookup
SAMPLE_SEED = 42
SEMANTIC_VALUES = 2_000  # plenty to recognise an ID number or an address; checksums cost
_OPAQUE = frozenset({DataType.JSON.value, DataType.GEOMETRY.value})  # no min/max/top/semantics


def quote_ident(name: str) -> str:
    """A DuckDB identifier for any column name (Chinese, spaces, quotes)."""
    return '"' + name.replace('"', '""') + '"'


def json_safe(value: Any) -> Any:
    """A value json.dumps accepts and a person can read: ISO dates, no NaN, short text."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return None
        if value == value.to_integral_value():
            return int(value)
        # Floats would round long amounts; keep those exact as text.
        return float(value) if len(value.as_tuple().digits) <= 15 else str(value)
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return json_safe(value.hex())
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return json_safe(str(value))


def _aggregate_sql(relation: str, columns: list[tuple[str, str, str]]) -> str:
    exprs = ["count(*) AS n"]
    for i, (name, _title, dtype) in enumerate(columns):
        q = quote_ident(name)
        exprs += [f"count({q}) AS c{i}_nn", f"approx_count_distinct({q}) AS c{i}_nd"]
        if dtype in _OPAQUE:
            exprs += [f"NULL AS c{i}_min", f"NULL AS c{i}_max"]
        else:
            exprs += [f"min({q}) AS c{i}_min", f"max({q}) AS c{i}_max"]
    return f"SELECT {', '.join(exprs)} FROM {relation}"


def _sample_sql(relation: str, columns: list[tuple[str, str, str]], sample_rows: int) -> str:
    exprs = []
    for i, (name, _title, dtype) in enumerate(columns):
        q = quote_ident(name)
        exprs.append(f"CAST({q} AS VARCHAR) AS c{i}" if dtype in _OPAQUE else f"{q} AS c{i}")
    return (
        f"SELECT {', '.join(exprs)} FROM {relation} "
        f"USING SAMPLE reservoir({sample_rows} ROWS) REPEATABLE ({SAMPLE_SEED})"
    )


_UNSUPPORTED = (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError)


def _value_counts(values: pa.Array) -> pa.StructArray | None:
    """The distinct values, in order of first appearance, with their counts; None for values
    that cannot be hashed (nested). One hash pass serves top values, examples and distinct."""
    try:
        return pc.value_counts(values)
    except _UNSUPPORTED:
        return None


def _top_values(counts: pa.StructArray | None, k: int, scale: float) -> list[dict[str, Any]]:
    """The k most frequent non-null values, ties broken by value for stable output.

    From a partial sample (scale > 1) a value seen once says nothing about its frequency, so
    only values seen at least twice are reported, with counts scaled to the whole relation.
    """
    if k <= 0 or counts is None or len(counts) == 0:
        return []
    table = pa.table({"v": counts.field("values"), "n": counts.field("counts")})
    if scale > 1:  # before sorting: in an identifier's column that leaves next to nothing
        table = table.filter(pc.greater_equal(table["n"], 2))
    try:
        order = pc.sort_indices(table, sort_keys=[("n", "descending"), ("v", "ascending")])
    except _UNSUPPORTED:
        return []  # unsortable values
    top = table.take(order[:k]).to_pylist()
    return [{"value": json_safe(r["v"]), "count": round(r["n"] * scale)} for r in top]


def _examples(values: pa.Array, counts: pa.StructArray | None, k: int) -> list[Any]:
    """The first k distinct values (the first k values when they cannot be told apart)."""
    if k <= 0 or len(values) == 0:
        return []
    distinct = values if counts is None else counts.field("values")
    return [json_safe(v) for v in distinct[:k].to_pylist()]


def _profile(
    columns: list[tuple[str, str, str]],
    sample: pa.Table,
    rows: int,
    counts: Sequence[tuple[int, int | None, Any, Any]],
    top_k: int,
    samples: int,
) -> dict[str, dict[str, Any]]:
    """Assemble profiles from per-column (non-null count, distinct or None, min, max) and a
    sample; a None distinct is estimated from the sample."""
    taken = sample.num_rows
    exact = taken >= rows
    scale = 1.0 if exact or taken == 0 else rows / taken
    profiles: dict[str, dict[str, Any]] = {}
    for i, (name, title, dtype) in enumerate(columns):
        values = sample.column(i).combine_chunks().drop_null()
        if pa.types.is_dictionary(values.type):
            values = values.dictionary_decode()
        hint_text = f"{title} {name}"
        semantic = (
            None if dtype in _OPAQUE else detect_semantic(hint_text, values[:SEMANTIC_VALUES])
        )
        non_null, distinct, low, high = counts[i]
        nulls = rows - non_null
        value_counts = _value_counts(values) if len(values) else None
        sampled = distinct is None  # estimated from the sample
        if distinct is None:
            distinct = _estimate_distinct(len(values), value_counts, non_null)
        profiles[name] = {
            "rows": rows,
            "nulls": nulls,
            "null_rate": nulls / rows if rows else 0.0,
            "distinct": distinct,
            "distinct_sampled": sampled,
            "min": json_safe(None if dtype in _OPAQUE else low),
            "max": json_safe(None if dtype in _OPAQUE else high),
            "top": [] if dtype in _OPAQUE else _top_values(value_counts, top_k, scale),
            "top_exact": exact,
            "samples": _examples(values, value_counts, samples),
            "sample_rows": taken,
            "semantic_type": semantic,
            "grade": default_grade(semantic, hint_text),
        }
    return profiles


def estimate_distinct(values: pa.Array, total: int) -> int:
    """Distinct values among `total` non-null ones, from a sample of them: exact when the sample
    is all of them; all distinct when every sampled value is; else the GEE estimator
    (sqrt(total/n) × singletons + the values seen more than once), kept within bounds."""
    return _estimate_distinct(len(values), _value_counts(values) if len(values) else None, total)


def _estimate_distinct(n: int, value_counts: pa.StructArray | None, total: int) -> int:
    """estimate_distinct from the sample's `n` values counted by value (None: not hashable)."""
    if n == 0:
        return 0
    if value_counts is None:
        return min(n, total)
    counts = value_counts.field("counts")
    seen = len(counts)
    if n >= total:
        return seen
    singletons = int(pc.sum(pc.equal(counts, 1)).as_py() or 0)
    if singletons == n:
        return total
    guess = math.sqrt(total / n) * singletons + (seen - singletons)
    return int(min(max(guess, seen), total))


def _footer_stats(
    files: list[pq.ParquetFile], names: list[str]
) -> tuple[int, list[tuple[int, Any, Any]]]:
    """Rows, and per column (non-null count, min, max), from the Parquet footers alone."""
    rows = 0
    nulls = dict.fromkeys(names, 0)
    low: dict[str, Any] = dict.fromkeys(names)
    high: dict[str, Any] = dict.fromkeys(names)
    for pf in files:
        meta = pf.metadata
        rows += meta.num_rows
        index = {meta.schema.column(j).name: j for j in range(meta.num_columns)}
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for name in names:
                if name not in index:  # written before the column existed: all null there
                    nulls[name] += group.num_rows
                    continue
                st = group.column(index[name]).statistics
                if st is None:
                    continue
                nulls[name] += st.null_count or 0
                if st.has_min_max:
                    low[name] = st.min if low[name] is None else min(low[name], st.min)
                    high[name] = st.max if high[name] is None else max(high[name], st.max)
    return rows, [(rows - nulls[n], low[n], high[n]) for n in names]


def _spread_sample(
    files: list[pq.ParquetFile], names: list[str], sample_rows: int, groups: int = 8
) -> pa.Table:
    """The first rows of up to `groups` row groups spread evenly over the files."""
    where = [(pf, g) for pf in files for g in range(pf.metadata.num_row_groups)]
    step = max(1, len(where) // groups)
    picked = where[::step][:groups]
    per = max(1, math.ceil(sample_rows / max(1, len(picked))))
    parts = []
    for pf, g in picked:
        present = [n for n in names if n in pf.schema_arrow.names]
        batch = next(pf.iter_batches(batch_size=per, row_groups=[g], columns=present), None)
        if batch is not None:
            parts.append(pa.Table.from_batches([batch]))
    return pa.concat_tables(parts, promote_options="permissive") if parts else pa.table({})


def profile_files(
    con: duckdb.DuckDBPyConnection,
    files: list[str],
    columns: list[tuple[str, str, str]],
    sample_rows: int = 20000,
    top_k: int = 5,
    samples: int = 5,
) -> dict[str, dict[str, Any]]:
    """Profile a table stored as the Parquet `files` (see the module notes). Tables no larger
    than the sample are profiled exactly, with `profile_columns`."""
    if not columns:
        return {}
    names = [name for name, _, _ in columns]
    opened = [pq.ParquetFile(f) for f in files]  # each footer is read once
    try:
        rows, stats = _footer_stats(opened, names)
        if rows <= sample_rows and files:
            listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            relation = f"read_parquet([{listed}], union_by_name = true)"
            return profile_columns(con, relation, columns, sample_rows, top_k, samples)
        sample = _spread_sample(opened, names, sample_rows)
    finally:
        for pf in opened:
            pf.close()
    for name in names:  # columns absent from the sampled files are null there
        if name not in sample.column_names:
            sample = sample.append_column(name, pa.nulls(sample.num_rows))
    sample = sample.select(names)
    counts = [(nn, None, low, high) for nn, low, high in stats]
    return _profile(columns, sample, rows, counts, top_k, samples)


def profile_columns(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    columns: list[tuple[str, str, str]],
    sample_rows: int = 20000,
    top_k: int = 5,
    samples: int = 5,
) -> dict[str, dict[str, Any]]:
    """Profile `columns` of `relation` in one aggregate pass plus one sampling query.

    `relation` is trusted SQL that DuckDB can put after FROM (a table or view name,
    ``read_parquet([...])``); `columns` are (column name, human title, DataType value).
    Returns, per column name, a JSON-serializable dict: rows, nulls, null_rate, distinct,
    min, max, top [{value, count}], top_exact, samples, sample_rows, semantic_type, grade.
    """
    if not columns:
        return {}
    if sample_rows < 1:
        raise ValueError("sample_rows must be positive")
    agg = con.sql(_aggregate_sql(relation, columns)).to_arrow_table().to_pylist()[0]
    sample = con.sql(_sample_sql(relation, columns, sample_rows)).to_arrow_table()
    counts = [
        (int(agg[f"c{i}_nn"]), int(agg[f"c{i}_nd"] or 0), agg[f"c{i}_min"], agg[f"c{i}_max"])
        for i in range(len(columns))
    ]
    return _profile(columns, sample, int(agg["n"]), counts, top_k, samples)
