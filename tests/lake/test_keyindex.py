"""The key index on its own: rows by key, in the place order a scan finds them."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cityhub.lake import keyindex
from cityhub.lake.keyindex import FILE, ROW, KeyIndex


@pytest.fixture
def index(tmp_path: Path) -> KeyIndex:
    """Two files whose keys repeat within and across them, in no order."""
    files = []
    parts: list[list[str | None]] = [["b", "a", "c", "a", None], ["a", "c", "b", "a"]]
    for i, keys in enumerate(parts):
        path = tmp_path / f"part-{i}.parquet"
        pq.write_table(pa.table({"k": keys, "n": [10 * i + j for j in range(len(keys))]}), path)
        files.append(str(path))
    built = keyindex.build(duckdb.connect(), files, "k", tmp_path / "k.arrow", batch_rows=2)
    return KeyIndex(built, "k")


def places(rows: pa.Table) -> list[tuple[int, int]]:
    """Each row's (file number, row number)."""
    return [
        (0 if f.endswith("part-0.parquet") else 1, r)
        for f, r in zip(rows.column(FILE).to_pylist(), rows.column(ROW).to_pylist(), strict=True)
    ]


def test_the_rows_of_one_key_come_in_place_order(index: KeyIndex) -> None:
    rows = index.find(["a"])
    assert places(rows) == [(0, 1), (0, 3), (1, 0), (1, 3)]
    assert rows.column("n").to_pylist() == [1, 3, 10, 13]


def test_the_rows_of_several_keys_come_in_place_order_not_key_order(index: KeyIndex) -> None:
    rows = index.find(["c", "b", "c"])
    assert places(rows) == [(0, 0), (0, 2), (1, 1), (1, 2)]
    assert rows.column("k").to_pylist() == ["b", "c", "c", "b"]


def test_a_key_not_there_and_the_missing_key_find_nothing(index: KeyIndex) -> None:
    assert index.find(["z"]).num_rows == 0
    assert index.find([]).num_rows == 0
    assert index.find(["z"]).schema == index.table.schema


def test_filter_values_take_the_keys_type_or_none() -> None:
    assert keyindex.same_type("330402199001011234", pa.string()) == "330402199001011234"
    assert keyindex.same_type("42", pa.int64()) == 42
    assert keyindex.same_type("4x2", pa.int64()) is None
    assert keyindex.same_type(7, pa.string()) == "7"


@pytest.mark.parametrize("every", [1, 2, 7, 512])
def test_every_key_is_found_whatever_the_sampling(tmp_path: Path, every: int) -> None:
    """The index searches a sample of its keys first, then one stretch of the column: each key
    (the first, the last, one repeated across a stretch's edge) finds all its rows, and keys
    between, before and after the stored ones find none."""
    keys = [f"k{i // 3:03d}" for i in range(0, 300, 2)] + [None, None]  # k000 twice, k001 once…
    path = tmp_path / "part-0.parquet"
    pq.write_table(pa.table({"k": keys}), path)
    built = keyindex.build(duckdb.connect(), [str(path)], "k", tmp_path / "k.arrow", batch_rows=16)
    index = KeyIndex(built, "k", sample_every=every)
    for key in sorted({k for k in keys if k is not None}):
        rows = index.find([key])
        assert rows.column(ROW).to_pylist() == [i for i, k in enumerate(keys) if k == key], key
    for absent in ["a", "k000x", "k0505", "z"]:
        assert index.find([absent]).num_rows == 0
