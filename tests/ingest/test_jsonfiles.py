"""JSON, NDJSON, GeoJSON and Parquet readers: columns, types, rejects and errors."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cityhub.errors import SourceError
from cityhub.ingest import jsonfiles
from cityhub.ingest.geojson import read_geojson
from cityhub.ingest.jsonfiles import read_json
from cityhub.ingest.parquet import read_parquet
from cityhub.ingest.source import PLACE_COLUMN, Reject, SourceTable

NDJSON_LINES = [
    '{"id": 1, "name": "张三", "addr": {"city": "嘉兴", "zip": "314000"}, "tags": ["a", "b"],'
    ' "born": "1990-01-01", "code": 7}',
    "",
    '{"id": 2, "name": "李四", "addr": {"city": "杭州"}, "score": 1, "ok": true}',
    '{"id": 3, "name": ',
    "[1, 2]",
    '{"id": 4, "score": 2.5, "addr": null, "ok": false}',
    '{"id": 5, "code": "A-7", "name": "王五", "late": {"x": 1}}',
]


def table_rows(table: SourceTable) -> list[dict[str, object]]:
    return table.reader().read_all().to_pylist()


@pytest.mark.parametrize(("batch_rows", "slow"), [(2, False), (65536, False), (2, True)])
def test_ndjson_flatten_types_and_rejects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_rows: int, slow: bool
) -> None:
    """Small blocks put keys and type changes in later blocks; the schema still covers them.
    pyarrow's route and the line-by-line route (forced with `slow`) give the same table."""
    if slow:

        def refuse(*args: object) -> None:
            raise jsonfiles._Slow

        monkeypatch.setattr(jsonfiles, "_arrow_block", refuse)
    path = tmp_path / "people.json"  # NDJSON told by content, whatever the name says
    path.write_text("\n".join(NDJSON_LINES) + "\n", encoding="utf-8")
    table = read_json(path, batch_rows=batch_rows)
    assert table.columns == [
        "id",
        "name",
        "addr.city",
        "addr.zip",
        "tags",
        "born",
        "code",
        "score",
        "ok",
        "late.x",
    ]
    assert table.schema == pa.schema(
        [
            ("id", pa.int64()),
            ("name", pa.string()),
            ("addr.city", pa.string()),
            ("addr.zip", pa.string()),
            ("tags", pa.string()),
            ("born", pa.string()),
            ("code", pa.string()),
            ("score", pa.float64()),
            ("ok", pa.bool_()),
            ("late.x", pa.int64()),
            (PLACE_COLUMN, pa.int64()),
        ]
    )
    none = dict.fromkeys(table.columns)
    assert table_rows(table) == [
        none
        | {
            "id": 1,
            "name": "张三",
            "addr.city": "嘉兴",
            "addr.zip": "314000",
            "tags": '["a","b"]',
            "born": "1990-01-01",
            "code": "7",
            PLACE_COLUMN: 1,
        },
        none
        | {"id": 2, "name": "李四", "addr.city": "杭州", "score": 1.0, "ok": True, PLACE_COLUMN: 3},
        none | {"id": 4, "score": 2.5, "ok": False, PLACE_COLUMN: 6},
        none | {"id": 5, "code": "A-7", "name": "王五", "late.x": 1, PLACE_COLUMN: 7},
    ]
    assert table.rejects == [
        Reject(
            file=str(path),
            line=4,
            reason="malformed JSON: Expecting value at column 18",
            raw='{"id": 3, "name":',
        ),
        Reject(file=str(path), line=5, reason="expected a JSON object, found list", raw="[1, 2]"),
    ]


def test_ndjson_nested_as_json_text(tmp_path: Path) -> None:
    path = tmp_path / "people.ndjson"
    path.write_text("\n".join(NDJSON_LINES), encoding="utf-8")
    table = read_json(path, nested="json")
    assert table.columns == ["id", "name", "addr", "tags", "born", "code", "score", "ok", "late"]
    rows = table_rows(table)
    assert [r["addr"] for r in rows] == [
        '{"city":"嘉兴","zip":"314000"}',
        '{"city":"杭州"}',
        None,
        None,
    ]
    assert [r["late"] for r in rows] == [None, None, None, '{"x":1}']
    assert len(table.rejects) == 2


def test_ndjson_blocks_bounded_by_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks end at BLOCK_BYTES of text however many lines `batch_rows` allows (memory stays
    bounded with long records); the table and the rejects' line numbers do not change."""
    path = tmp_path / "people.ndjson"
    path.write_text("\n".join(NDJSON_LINES * 20) + "\n", encoding="utf-8")
    whole = read_json(path, batch_rows=65536)
    expected = (whole.schema, table_rows(whole), whole.rejects)
    monkeypatch.setattr(jsonfiles, "BLOCK_BYTES", 300)
    table = read_json(path, batch_rows=65536)
    batches = list(table.batches)
    assert len(batches) > 10
    assert max(b.num_rows for b in batches) <= 4
    assert (table.schema, pa.Table.from_batches(batches).to_pylist(), table.rejects) == expected
    assert [r.line for r in table.rejects][-2:] == [7 * 19 + 4, 7 * 19 + 5]


def test_ndjson_block_parsed_once_per_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Strings pyarrow takes for timestamps cost no second parse in the first pass (it only
    learns kinds there) and still come out as the text of the file."""
    path = tmp_path / "calls.ndjson"
    path.write_text(
        '{"at": "2017-07-08 15:18:38", "who": {"since": "2017-07-08"}}\n'
        '{"at": "2017-07-09 09:00:00", "who": {"since": "2018-01-01"}}\n'
    )
    parses: list[object] = []
    real = jsonfiles.pj.read_json

    def counting(source: object, **kwargs: object) -> pa.Table:
        parses.append(source)
        return real(source, **kwargs)

    monkeypatch.setattr(jsonfiles.pj, "read_json", counting)
    table = read_json(path)
    assert table.schema.types[:2] == [pa.string(), pa.string()]
    assert [(r["at"], r["who.since"]) for r in table_rows(table)] == [
        ("2017-07-08 15:18:38", "2017-07-08"),
        ("2017-07-09 09:00:00", "2018-01-01"),
    ]
    assert len(parses) == 2


def test_ndjson_exact_big_integers(tmp_path: Path) -> None:
    """pyarrow reads integers past int64 as doubles; they must come back digit for digit."""
    path = tmp_path / "ids.ndjson"
    path.write_text('{"n": 12345678901234567890, "m": 9007199254740993}\n{"n": 1, "m": 2}\n')
    table = read_json(path)
    assert table.schema.field("n").type == pa.string()
    assert table.schema.field("m").type == pa.int64()
    assert [(r["n"], r["m"]) for r in table_rows(table)] == [
        ("12345678901234567890", 9007199254740993),
        ("1", 2),
    ]


def test_json_array_document(tmp_path: Path) -> None:
    path = tmp_path / "list.ndjson"  # an array, whatever the name says
    path.write_text(
        json.dumps(
            [
                {"统一社会信用代码": "91330400MA29XXXX1K", "注册资本": 100, "在业": True},
                {
                    "统一社会信用代码": "91330400MA29XXXX2K",
                    "注册资本": 50.5,
                    "地址": {"区": "南湖"},
                },
                "not a record",
            ],
            ensure_ascii=False,
            indent=2,
        ),
        encoding="utf-8",
    )
    table = read_json(path)
    assert table.columns == ["统一社会信用代码", "注册资本", "在业", "地址.区"]
    assert table.schema.types == [pa.string(), pa.float64(), pa.bool_(), pa.string()]
    assert table_rows(table) == [
        {
            "统一社会信用代码": "91330400MA29XXXX1K",
            "注册资本": 100.0,
            "在业": True,
            "地址.区": None,
        },
        {
            "统一社会信用代码": "91330400MA29XXXX2K",
            "注册资本": 50.5,
            "在业": None,
            "地址.区": "南湖",
        },
    ]
    assert table.rejects == [
        Reject(
            file=str(path), reason="element 3 of the list is not an object", raw='"not a record"'
        )
    ]


def test_object_wrapped_array(tmp_path: Path) -> None:
    path = tmp_path / "api.json"
    path.write_text(
        '{"code": 0, "msg": "ok", "result": {"total": 2, "records": '
        '[{"a": 1, "b": [1, 2]}, {"a": 2, "c": "x"}]}}',
        encoding="utf-8",
    )
    table = read_json(path)
    assert table.columns == ["a", "b", "c"]
    assert table_rows(table) == [{"a": 1, "b": "[1,2]", "c": None}, {"a": 2, "b": None, "c": "x"}]
    path.write_text('{"code": 0, "data": []}')
    assert read_json(path).columns == []


def test_ambiguous_wrapper_and_malformed_array(tmp_path: Path) -> None:
    path = tmp_path / "two.json"
    path.write_text('{"data": [{"a": 1}],\n "errors": [{"e": 1}]}')
    with pytest.raises(SourceError) as err:
        read_json(path)
    assert str(err.value) == (
        f"{path}: more than one list of records; "
        "expected a single list of objects; found data, errors"
    )
    bad = tmp_path / "bad.json"
    bad.write_text('[\n  {"a": 1},\n  {"a": 2,, "b": 3}\n]\n')
    with pytest.raises(SourceError) as err:
        read_json(bad)
    assert str(err.value) == (
        f"{bad}, line 3, column 11: malformed JSON (Expecting property name enclosed in double "
        "quotes); expected property name enclosed in double quotes; found ', \"b\": 3}\\n]\\n'"
    )
    with pytest.raises(SourceError, match="unknown way to keep nested objects"):
        read_json(bad, nested="explode")


def point(lon: float, lat: float) -> dict[str, object]:
    return {"type": "Point", "coordinates": [lon, lat]}


def feature(geometry: object, fid: object = None, **props: object) -> dict[str, object]:
    f: dict[str, object] = {"type": "Feature", "properties": props, "geometry": geometry}
    if fid is not None:
        f["id"] = fid
    return f


SQUARE = [[[120, 30], [121, 30], [121, 31], [120, 31], [120, 30]]]


def write_geojson(path: Path) -> Path:
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    feature(point(120.755, 30.746), 1, name="南湖", info={"level": 5}),
                    feature({"type": "Polygon", "coordinates": SQUARE}, 2, name="片区"),
                    feature(
                        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}, 3, name="坏"
                    ),
                    feature(None, 4, name="无位置"),
                    feature(
                        {
                            "type": "MultiLineString",
                            "coordinates": [[[0, 0], [1, 1.5]], [[2, 2], [3, 3]]],
                        },
                        5,
                        name="线",
                    ),
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return path


def test_geojson_wkt(tmp_path: Path) -> None:
    path = write_geojson(tmp_path / "places.geojson")
    table = read_geojson(path)
    assert table.columns == ["name", "info.level", "id", "geometry", "longitude", "latitude"]
    assert [tuple(r.values()) for r in table_rows(table)] == [
        ("南湖", 5, 1, "POINT (120.755 30.746)", 120.755, 30.746),
        ("片区", None, 2, "POLYGON ((120 30, 121 30, 121 31, 120 31, 120 30))", None, None),
        ("无位置", None, 4, None, None, None),
        ("线", None, 5, "MULTILINESTRING ((0 0, 1 1.5), (2 2, 3 3))", None, None),
    ]
    assert table.rejects == [
        Reject(
            file=str(path),
            column="geometry",
            reason="feature 3 (index 2): invalid geometry: Polygon: a ring needs at least 4 "
            "positions, the last equal to the first; found 3",
            raw='{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}',
        )
    ]


def test_geojson_wkb_and_other_shapes(tmp_path: Path) -> None:
    path = tmp_path / "one.geojson"
    path.write_text(json.dumps(feature(point(1, 2), longitude=9, latitude=8)))
    table = read_geojson(path, geometry="wkb")
    assert table.columns == ["longitude", "latitude", "geometry"]  # no second lon/lat
    (row,) = table_rows(table)
    assert row["geometry"] == bytes.fromhex("0101000000000000000000f03f0000000000000040")
    collection = {
        "type": "GeometryCollection",
        "geometries": [
            {"type": "Point", "coordinates": [1, 2, 3]},
            {"type": "LineString", "coordinates": [[1, 2, 3], [4, 5, 6]]},
        ],
    }
    shapes = [
        ({"type": "MultiPoint", "coordinates": [[0, 0], [1, 1]]}, "MULTIPOINT ((0 0), (1 1))"),
        (
            {"type": "MultiPolygon", "coordinates": [SQUARE, SQUARE]},
            "MULTIPOLYGON (((120 30, 121 30, 121 31, 120 31, 120 30)), "
            "((120 30, 121 30, 121 31, 120 31, 120 30)))",
        ),
        (collection, "GEOMETRYCOLLECTION Z (POINT Z (1 2 3), LINESTRING Z (1 2 3, 4 5 6))"),
        ({"type": "LineString", "coordinates": []}, "LINESTRING EMPTY"),
    ]
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": [feature(g) for g, _ in shapes]})
    )
    assert [r["geometry"] for r in table_rows(read_geojson(path))] == [w for _, w in shapes]
    wkb = [r["geometry"] for r in table_rows(read_geojson(path, geometry="wkb"))]
    ring = struct.pack("<I", 5) + b"".join(struct.pack("<2d", *p) for p in SQUARE[0])
    polygon = struct.pack("<BII", 1, 3, 1) + ring
    assert wkb[1] == struct.pack("<BII", 1, 6, 2) + polygon + polygon
    assert wkb[2] == (
        struct.pack("<BII", 1, 1007, 2)
        + struct.pack("<BI3d", 1, 1001, 1, 2, 3)
        + struct.pack("<BII6d", 1, 1002, 2, 1, 2, 3, 4, 5, 6)
    )


def test_geojson_not_features(tmp_path: Path) -> None:
    path = tmp_path / "g.geojson"
    path.write_text(json.dumps(point(1, 2)))
    with pytest.raises(SourceError) as err:
        read_geojson(path)
    assert str(err.value) == (
        f"{path}: not GeoJSON features; expected a FeatureCollection or a Feature; found 'Point'"
    )


def test_parquet_streams_with_types(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    data = pa.table(
        {
            "id": pa.array(range(5), pa.int64()),
            "name": list("abcde"),
            "day": pa.array([19000 + i for i in range(5)], pa.date32()),
        }
    )
    pq.write_table(data, path, row_group_size=2)
    table = read_parquet(path, batch_rows=2)
    assert table.columns == ["id", "name", "day"]
    assert table.schema == data.schema
    batches = list(table.batches)
    assert [b.num_rows for b in batches] == [2, 2, 1]
    assert pa.Table.from_batches(batches).equals(data)


def test_parquet_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(SourceError, match="cannot read as Parquet"):
        read_parquet(path)
    good = tmp_path / "g.parquet"
    pq.write_table(pa.table({"s": [f"value {i}" for i in range(2000)]}), good)
    raw = bytearray(good.read_bytes())
    raw[100:400] = b"\xab" * 300  # inside the first data page
    good.write_bytes(bytes(raw))
    table = read_parquet(good)
    with pytest.raises(SourceError, match="corrupt Parquet data"):
        list(table.batches)
