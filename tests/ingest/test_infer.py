"""Type inference's sample statistics: one statement over distinct values, checked against the
plain per-row, per-column count it replaces."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cityhub.ingest import infer
from cityhub.ingest.infer import (
    _MAY_FIT,
    DATE_FORMATS,
    DEC_RE,
    EXCEL_SERIAL_RE,
    INT_RE,
    KEEP_EXISTING_SHARE,
    TIMESTAMP_FORMATS,
    _clean,
    _exact_checks,
    _rough_checks,
    _sample_stats,
    quote,
)

# Values near every shape's edges: formats, separators, null words, signs, exponents, Chinese.
TRICKY = [
    None,
    "",
    " ",
    "-",
    "--",
    "NULL",
    "n/a",
    "不详",
    "是",
    "否",
    "TRUE",
    "no",
    "Y",
    "0",
    "007",
    "12",
    "-3",
    "+4",
    "1,234",
    "12,345,678",
    "1,23",
    ".5",
    "5.",
    "-0.25",
    "1e5",
    "2E-3",
    "3.1e+02",
    "12345678901234567",
    "13912345678",
    "45000",
    "45000.00",
    "9999",
    "2024-05-01",
    "2024-5-1",
    "2024/05/01",
    "2024.05.01",
    "2024年5月1日",
    "20240501",
    "20241301",
    "2024-02-30",
    "2024-05-01 12:30:00",
    "2024-05-01T12:30:00",
    "2024-05-01 12:30:00.123",
    "2024-05-01 12:30",
    "2024/05/01 12:30:00",
    "2024/05/01 12:30",
    "2024年5月1日 12:30:00",
    "2024年5月1日12:30:00",
    "2024年5月1日12时30分00秒",
    "20240501123000",
    "2024-05-01 25:61:00",
    "嘉兴市南湖区",
    "A12",
    " 42 ",
    "１２",
]


def _reference(
    con: duckdb.DuckDBPyConnection, view: str, titles: list[str]
) -> dict[str, dict[str, int]]:
    """Every check counted row by row in each column; a family's exact checks count only where
    its rough shape fits at least KEEP_EXISTING_SHARE of the values."""
    out: dict[str, dict[str, int]] = {}
    for t in titles:
        inner = f"SELECT {_clean(quote(t))} AS v, {quote(t)} AS r FROM {view}"
        rough, exact = _rough_checks("v", "r"), _exact_checks("v")
        checks = rough + [c for family in exact.values() for c in family]
        row = con.sql(
            f"SELECT {', '.join(f'count_if({cond})' for _, cond in checks)} FROM ({inner})"
        ).fetchall()[0]
        s = {key: int(v or 0) for (key, _), v in zip(checks, row, strict=True)}  # NULL: no rows
        for kind, family in exact.items():
            if not (s["n"] > 0 and s[kind] / s["n"] >= KEEP_EXISTING_SHARE):
                s.update(dict.fromkeys((key for key, _ in family), 0))
        out[t] = s
    return out


def _stats_both(
    columns: dict[str, list[str | None]],
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    con = duckdb.connect()
    con.register("sample", pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()}))
    titles = list(columns)
    return _sample_stats(con, '"sample"', titles), _reference(con, '"sample"', titles)


def test_counts_match_the_row_by_row_reference() -> None:
    columns: dict[str, list[str | None]] = {
        "mixed": TRICKY * 3,
        "numbers": ["1", "2", "2", "3,000", "-4.5", None, "-", "7"] * 9,
        "dates": ["2024-05-01", "2024/5/2", "20240503", "2024年5月4日", "x"] * 12,
        "stamps": ["2024-05-01 12:30:00", "2024年5月1日12:30:00", "20240501123000"] * 20,
        "empty": [None] * 60,
        '引号"列': ["a'b", "1", "2"] * 20,
    }
    columns = {k: (v * 3)[:60] for k, v in columns.items()}
    ours, reference = _stats_both(columns)
    assert ours == reference


def test_no_rows_and_no_columns() -> None:
    ours, reference = _stats_both({"a": [], "b": []})
    assert ours == reference
    assert _sample_stats(duckdb.connect(), "x", []) == {}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(TRICKY), min_size=1, max_size=40), min_size=1, max_size=4))
def test_counts_match_on_random_columns(cols: list[list[str | None]]) -> None:
    width = max(len(c) for c in cols)
    columns = {f"c{i}": (c * width)[:width] for i, c in enumerate(cols)}
    ours, reference = _stats_both(columns)
    assert ours == reference


_EXACT_SHAPES = {
    "numish": [
        INT_RE,
        DEC_RE,
        r"[+-]?0[0-9]+",
        "[0-9]{16,}",
        "1[3-9][0-9]{9}",
        EXCEL_SERIAL_RE,
    ],
    "dateish": [shape for shape, _ in DATE_FORMATS],
    "tsish": [shape for shape, _ in TIMESTAMP_FORMATS],
}


@pytest.mark.parametrize(
    ("kind", "shape"), [(k, s) for k, shapes in _EXACT_SHAPES.items() for s in shapes]
)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_exact_shape_passes_its_may_fit_gate(
    kind: str, shape: str, data: st.DataObject
) -> None:
    """The gate skips the exact checks, so it must let through whatever they could accept."""
    pattern = shape.replace(r"\d", "[0-9]")  # RE2's \\d is ASCII; Python's is not
    value = data.draw(st.from_regex(f"^(?:{pattern})$", fullmatch=True))
    con = duckdb.connect()
    fits, passes = con.execute(
        "SELECT regexp_full_match($v, $shape), regexp_full_match($v, $gate)",
        {"v": value, "shape": shape, "gate": _MAY_FIT[kind]},
    ).fetchall()[0]
    assert not fits or passes, (value, shape)


def test_plan_columns_still_types_as_before() -> None:
    con = duckdb.connect()
    sample = pa.table(
        {
            "数量": ["1", "2", "3"] * 70,
            "金额": ["1.5", "2,000.25", "3"] * 70,
            "日期": ["2024-05-01", "2024-05-02", "2024-05-03"] * 70,
            "时间": ["2024-05-01 12:30:00", "2024/05/01 12:30"] * 105,
            "手机": ["13912345678"] * 210,
            "名称": ["嘉兴"] * 210,
        }
    )
    con.register("s", sample)
    names = {t: f"f{i}" for i, t in enumerate(sample.column_names)}
    plans = infer.plan_columns(con, '"s"', sample.schema, names, {}, native=True)
    assert [p.data_type.value for p in plans] == [
        "integer",
        "decimal",
        "date",
        "timestamp",
        "string",
        "string",
    ]
