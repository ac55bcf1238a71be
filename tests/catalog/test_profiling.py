"""Column profiling over Parquet files and views: exact figures on known data."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cityhub import identifiers as ids
from cityhub.catalog.profiling import json_safe, profile_columns, profile_files, quote_ident

PHONE = 'phone "手机"'  # a column name with a quote in it
NAMES = [
    "张伟",
    "王芳",
    "张伟",
    None,
    "李娜",
    "王芳",
    "张伟",
    "赵敏",
    None,
    "欧阳明月",
    "陈静",
    "周杰",
]
MOBILES = [f"13{i}0013800{i}" for i in range(10)] + ["13900139000", "13900139000"]
AMOUNTS = [
    decimal.Decimal(v) if v else None
    for v in [
        "12.50",
        "3.00",
        None,
        "99.99",
        "3.00",
        None,
        "0.01",
        "3.00",
        "45.10",
        "7.25",
        "8.00",
        None,
    ]
]
BORN = [dt.date(1950 + i, 1 + i % 12, 1 + i) for i in range(12)]
LNG = [120.70 + i / 100 for i in range(12)]
ADDR = [f"浙江省嘉兴市南湖区东栅街道禾兴路{i + 1}号" for i in range(12)]
DIAG = ["高血压", "糖尿病", "高血压", "无"] * 3
DOC = ['{"a": 1}'] * 6 + ['{"b": [1, 2]}'] * 6


def id_card(i: int) -> str:
    first17 = f"33040219{60 + i}0101{i:03d}"
    return first17 + ids.id_check_char(first17)


TABLE = pa.table(
    {
        "id": pa.array(range(1, 13), pa.int64()),
        "姓名": NAMES,
        PHONE: MOBILES,
        "amount": pa.array(AMOUNTS, pa.decimal128(12, 2)),
        "born": pa.array(BORN, pa.date32()),
        "lng": LNG,
        "addr": ADDR,
        "sfzh": [id_card(i) for i in range(12)],
        "diag": DIAG,
        "doc": DOC,
    }
)
COLUMNS = [
    ("id", "编号", "integer"),
    ("姓名", "姓名", "string"),
    (PHONE, "联系电话", "string"),
    ("amount", "金额", "decimal"),
    ("born", "出生日期", "date"),
    ("lng", "经度", "decimal"),
    ("addr", "住址", "string"),
    ("sfzh", "身份证号", "string"),
    ("diag", "诊断结果", "string"),
    ("doc", "扩展信息", "json"),
]


class CountingConnection:
    """Forwards to DuckDB and records every statement, to check the number of passes."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.statements: list[str] = []

    def sql(self, query: str) -> Any:
        self.statements.append(query)
        return self.con.sql(query)


@pytest.fixture(scope="module")
def parquet_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("profiling")
    first, second = root / "part-0.parquet", root / "part-1.parquet"
    pq.write_table(TABLE.slice(0, 5), first)
    pq.write_table(TABLE.slice(5), second)
    return [first, second]


@pytest.fixture(scope="module")
def profile(parquet_files: list[Path]) -> dict[str, dict[str, Any]]:
    con = duckdb.connect()
    files = ", ".join(f"'{p}'" for p in parquet_files)
    counting = CountingConnection(con)
    result = profile_columns(counting, f"read_parquet([{files}])", COLUMNS)  # type: ignore[arg-type]
    assert len(counting.statements) == 2  # one aggregate pass, one sample
    return result


def expected_top(values: list, k: int = 5) -> list[dict[str, Any]]:
    counts = Counter(v for v in values if v is not None)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:k]
    return [{"value": json_safe(v), "count": n} for v, n in ranked]


def test_one_profile_per_column_json_serializable(profile: dict[str, dict[str, Any]]) -> None:
    assert list(profile) == [name for name, _title, _type in COLUMNS]
    json.dumps(profile, ensure_ascii=False, allow_nan=False)
    for p in profile.values():
        assert p["rows"] == 12 and p["sample_rows"] == 12 and p["top_exact"] is True


def test_counts_and_ranges(profile: dict[str, dict[str, Any]]) -> None:
    names = profile["姓名"]
    assert (names["nulls"], names["null_rate"], names["distinct"]) == (2, 2 / 12, 7)
    assert (names["min"], names["max"]) == (min(n for n in NAMES if n), max(n for n in NAMES if n))
    amount = profile["amount"]
    assert (amount["nulls"], amount["distinct"], amount["min"], amount["max"]) == (
        3,
        7,
        0.01,
        99.99,
    )
    born = profile["born"]
    assert (born["nulls"], born["min"], born["max"]) == (0, "1950-01-01", "1961-12-12")
    ident = profile["id"]
    assert (ident["min"], ident["max"], ident["distinct"], ident["null_rate"]) == (1, 12, 12, 0.0)
    doc = profile["doc"]
    assert (doc["min"], doc["max"], doc["top"], doc["distinct"]) == (None, None, [], 2)


def test_top_values_and_samples(profile: dict[str, dict[str, Any]]) -> None:
    assert profile["姓名"]["top"] == expected_top(NAMES)
    assert profile["姓名"]["top"][0] == {"value": "张伟", "count": 3}
    assert profile[PHONE]["top"][0] == {"value": "13900139000", "count": 2}
    assert profile["amount"]["top"] == expected_top(AMOUNTS)
    assert profile["amount"]["top"][0] == {"value": 3.0, "count": 3}
    assert profile["born"]["top"][0]["value"] == "1950-01-01"
    for name, p in profile.items():
        present = {json_safe(v) for v in TABLE.column(name).to_pylist() if v is not None}
        assert len(p["samples"]) == min(5, len(present)), name
        assert len(set(map(json.dumps, p["samples"]))) == len(p["samples"]), name
        assert all(s in present for s in p["samples"]), name


def test_semantic_types_and_grades(profile: dict[str, dict[str, Any]]) -> None:
    found = {name: (p["semantic_type"], p["grade"]) for name, p in profile.items()}
    assert found == {
        "id": (None, "L1"),
        "姓名": ("person_name", "L3"),
        PHONE: ("mobile", "L3"),
        "amount": (None, "L1"),
        "born": ("date", "L1"),
        "lng": ("longitude", "L2"),
        "addr": ("address", "L3"),
        "sfzh": ("id_card", "L3"),
        "diag": (None, "L4"),
        "doc": (None, "L1"),
    }


def test_sampling_on_a_larger_view() -> None:
    con = duckdb.connect()
    con.sql(
        "CREATE TABLE big AS SELECT i AS id, "
        "CASE WHEN i % 10 < 5 THEN 'A' WHEN i % 10 < 8 THEN 'B' ELSE 'C' END AS grp "
        "FROM range(4000) t(i)"
    )
    columns = [("id", "编号", "integer"), ("grp", "分组", "string")]
    first = profile_columns(con, "big", columns, sample_rows=400, top_k=2)
    again = profile_columns(con, "big", columns, sample_rows=400, top_k=2)
    assert first == again  # REPEATABLE sampling: the same profile twice
    grp = first["grp"]
    assert (grp["rows"], grp["sample_rows"], grp["top_exact"]) == (4000, 400, False)
    assert grp["distinct"] == 3 and (grp["min"], grp["max"]) == ("A", "C")
    assert [t["value"] for t in grp["top"]] == ["A", "B"]
    assert abs(grp["top"][0]["count"] - 2000) < 400 and abs(grp["top"][1]["count"] - 1200) < 400
    # A unique column's sample shows each value once: nothing to call frequent.
    assert first["id"]["top"] == [] and len(first["id"]["samples"]) == 5
    assert (first["id"]["min"], first["id"]["max"]) == (0, 3999)


def test_empty_relation_and_no_columns() -> None:
    con = duckdb.connect()
    con.sql("CREATE TABLE empty (name VARCHAR, n INTEGER)")
    p = profile_columns(con, "empty", [("name", "姓名", "string"), ("n", "数量", "integer")])
    assert p["name"] == {
        "rows": 0,
        "nulls": 0,
        "null_rate": 0.0,
        "distinct": 0,
        "distinct_sampled": False,
        "min": None,
        "max": None,
        "top": [],
        "top_exact": True,
        "samples": [],
        "sample_rows": 0,
        "semantic_type": None,
        "grade": "L1",  # no values, no semantic type: re-graded when data arrives
    }
    assert profile_columns(con, "empty", []) == {}


def test_awkward_column_names() -> None:
    con = duckdb.connect()
    con.register("t", pa.table({'a"b': ["x", "y", "x"], "列 名": [1, 2, 3], "select": [1, 1, 1]}))
    columns = [('a"b', "A", "string"), ("列 名", "B", "integer"), ("select", "C", "integer")]
    p = profile_columns(con, "t", columns)
    assert p['a"b']["top"] == [{"value": "x", "count": 2}, {"value": "y", "count": 1}]
    assert (p["列 名"]["min"], p["列 名"]["max"]) == (1, 3)
    assert p["select"]["distinct"] == 1
    assert quote_ident('a"b') == '"a""b"'


def test_json_safe() -> None:
    assert json_safe(float("nan")) is None and json_safe(float("inf")) is None
    assert json_safe(decimal.Decimal("12.50")) == 12.5
    assert json_safe(decimal.Decimal("100")) == 100
    assert json_safe(decimal.Decimal("12345678901234567.89")) == "12345678901234567.89"
    assert json_safe(dt.datetime(2024, 5, 1, 8, 30)) == "2024-05-01T08:30:00"
    assert json_safe(dt.date(2024, 5, 1)) == "2024-05-01"
    assert json_safe(b"\x01\xff") == "01ff"
    assert json_safe({"k": [decimal.Decimal("1.5"), None]}) == {"k": [1.5, None]}
    assert len(json_safe("长" * 1000)) == 256


def test_profile_files_reads_footers_and_spreads_its_sample(tmp_path: Path) -> None:
    n = 50_000
    first = pa.table(
        {
            "id": pa.array([f"E{i:06d}" for i in range(n)]),
            "kind": pa.array(["甲", "乙", "丙", "丁"] * (n // 4)),
            "amount": pa.array([float(i) if i % 10 else None for i in range(n)]),
        }
    )
    second = pa.table(
        {
            "id": pa.array([f"F{i:06d}" for i in range(n)]),
            "kind": pa.array(["戊"] * n),
            "amount": pa.array([-1.0] * n),
        }
    )
    files = [str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")]
    pq.write_table(first, files[0], row_group_size=10_000)
    pq.write_table(second, files[1], row_group_size=10_000)
    cols = [("id", "编号", "string"), ("kind", "类别", "string"), ("amount", "金额", "decimal")]
    p = profile_files(duckdb.connect(), files, cols, sample_rows=4_000)
    assert (p["id"]["rows"], p["amount"]["nulls"]) == (2 * n, n // 10)
    assert (p["amount"]["min"], p["amount"]["max"]) == (-1.0, float(n - 1))
    assert (p["id"]["min"], p["id"]["max"]) == ("E000000", f"F{n - 1:06d}")
    assert p["id"]["distinct_sampled"] and p["id"]["distinct"] == 2 * n  # all unique
    assert p["kind"]["distinct"] == 5  # every value shows up in the spread sample
    assert {t["value"] for t in p["kind"]["top"]} >= {"戊", "甲"}  # both files were sampled
    assert p["id"]["sample_rows"] == 4_000


def test_profile_files_of_a_small_table_is_exact(tmp_path: Path) -> None:
    path = str(tmp_path / "s.parquet")
    pq.write_table(pa.table({"k": ["a", "b", "b"]}), path)
    con = duckdb.connect()
    cols = [("k", "类别", "string")]
    p = profile_files(con, [path], cols)
    assert p == profile_columns(con, f"read_parquet(['{path}'])", cols)
    assert (p["k"]["distinct"], p["k"]["distinct_sampled"], p["k"]["top_exact"]) == (2, False, True)
