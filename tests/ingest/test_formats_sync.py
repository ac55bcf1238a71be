"""Every delivered format through the whole sync: types, places of rejects, notes, catalog."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq

from cityhub.catalog import service
from cityhub.hub import Hub
from cityhub.ingest import SyncOptions, apply_catalog, load_manifest, sync_file

from .helpers import register

EXAMPLE = Path(__file__).parents[2] / "examples" / "jiaxing" / "city.toml"


def workbook(path: Path) -> Path:
    wb = openpyxl.Workbook()
    for name, start in (("南湖区", 1), ("秀洲区", 1001)):
        ws = wb.create_sheet(name)
        ws.append([f"2024年{name}企业名录"])
        ws.append(["企业信息", None, "经营情况", None])
        ws.merge_cells("A2:B2")
        ws.merge_cells("C2:D2")
        ws.append(["名称", "成立日期", "营业收入", "从业人数"])
        for i in range(start, start + 300):  # enough values to tolerate one misfit
            ws.append([f"企业{i}", dt.date(2010, 1, i % 28 + 1), i * 1.5, i])
        if name == "秀洲区":
            ws.append(["企业bad", dt.date(2011, 1, 1), 9.0, "很多"])
        ws.append(["合计", None, 999.0, 999])
    del wb["Sheet"]
    wb.save(path)
    return path


def test_excel_sheets_merged_header_totals_and_row_rejects(hub: Hub, tmp_path: Path) -> None:
    register(hub)
    result = sync_file(hub, "DS1", workbook(tmp_path / "e.xlsx"), SyncOptions(max_reject_ratio=0.5))
    assert (result.rows_written, result.rows_rejected, result.rows_skipped) == (600, 1, 2)
    assert any("合计" in n for n in result.notes)
    rows = {r["qi_ye_xin_xi_ming_cheng"]: r for r in hub.lake.read("DS1").to_pylist()}
    assert rows["企业1"] == {
        "qi_ye_xin_xi_ming_cheng": "企业1",
        "qi_ye_xin_xi_cheng_li_ri_qi": dt.date(2010, 1, 2),
        "jing_ying_qing_kuang_ying_ye_shou_ru": 1.5,
        "jing_ying_qing_kuang_cong_ye_ren_shu": 1,
    }
    [rej] = hub.lake.rejects("DS1").to_pylist()
    assert (rej["sheet"], rej["line"], rej["column"]) == ("秀洲区", 304, "经营情况_从业人数")
    assert rej["reason"] == "经营情况_从业人数: expected integer, found '很多'"


def test_ndjson_geojson_and_parquet(hub: Hub, tmp_path: Path) -> None:
    for code in ("J", "G", "P"):
        register(hub, code)
    nd = tmp_path / "t.ndjson"
    lines = [
        json.dumps(
            {"编号": f"{i:04d}", "时间": "2024-05-01 08:00:00", "处置": {"单位": "市住建局"}},
            ensure_ascii=False,
        )
        for i in range(1, 50)
    ]
    lines.insert(9, "{not json")
    nd.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = sync_file(hub, "J", nd, SyncOptions(max_reject_ratio=0.05))
    assert (r.rows_written, r.rows_rejected) == (49, 1)
    assert hub.lake.rejects("J").to_pylist()[0]["line"] == 10
    first = min(hub.lake.read("J").to_pylist(), key=lambda r: r["bian_hao"])
    assert first == {
        "bian_hao": "0001",
        "shi_jian": dt.datetime(2024, 5, 1, 8, 0),
        "chu_zhi_dan_wei": "市住建局",
    }

    geo = tmp_path / "f.geojson"
    geo.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [120.75, 30.77]},
                        "properties": {"名称": "嘉兴火车站"},
                    },
                    {
                        "type": "Feature",
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [
                                [[120.7, 30.7], [120.8, 30.7], [120.8, 30.8], [120.7, 30.7]]
                            ],
                        },
                        "properties": {"名称": "南湖"},
                    },
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    sync_file(hub, "G", geo)
    shapes = {r["ming_cheng"]: r["geometry"] for r in hub.lake.read("G").to_pylist()}
    assert shapes["嘉兴火车站"] == "POINT (120.75 30.77)"
    assert shapes["南湖"].startswith("POLYGON ((120.7 30.7")
    with hub.db.session() as s:
        types = {f.title: f.data_type for f in service.get_dataset(s, "G").fields}
    assert types["longitude"] == "decimal"
    register(hub, "GW")
    sync_file(hub, "GW", geo, SyncOptions(geometry="wkb"))
    wkb = {r["ming_cheng"]: r["geometry"] for r in hub.lake.read("GW").to_pylist()}
    assert wkb["嘉兴火车站"][:5] == b"\x01\x01\x00\x00\x00"  # little-endian ISO point
    with hub.db.session() as s:
        types = {f.title: f.data_type for f in service.get_dataset(s, "GW").fields}
    assert types["geometry"] == "geometry"

    pq.write_table(
        pa.table(
            {
                "code": ["a", "b"],
                "n": pa.array([1, 2], pa.int32()),
                "d": pa.array([dt.date(2024, 1, 1), None]),
            }
        ),
        tmp_path / "p.parquet",
    )
    sync_file(hub, "P", tmp_path / "p.parquet")
    assert sorted(hub.lake.read("P").to_pylist(), key=lambda r: r["code"])[1] == {
        "code": "b",
        "n": 2,
        "d": None,
    }
    with hub.db.session() as s:
        types = {f.title: f.data_type for f in service.get_dataset(s, "P").fields}
    assert types == {"code": "string", "n": "integer", "d": "date"}


def test_the_example_city_loads_cleanly(hub: Hub) -> None:
    manifest = load_manifest(EXAMPLE)
    apply_catalog(hub, manifest)
    for spec in manifest.sources:
        for path in spec.paths:
            result = sync_file(hub, spec.dataset, path, spec.options)
            assert result.rows_rejected == 0, (path, result.notes)
    with hub.db.session() as s:
        st = service.stats(s)
        people = {f.title: f for f in service.get_dataset(s, "330400-GA-0001").fields}
        firms = {f.title: f for f in service.get_dataset(s, "330400-JXJ-0001").fields}
    assert (st.departments_connected, st.departments_cataloged, st.datasets) == (4, 5, 5)
    assert st.records == 200 + 40 + 300 + 6
    assert people["公民身份号码"].semantic_type == "id_card"
    assert people["出生日期"].data_type == "date"
    assert people["联系电话"].semantic_type == "mobile"
    assert people["户籍地址"].semantic_type == "address"
    assert firms["企业信息_统一社会信用代码"].semantic_type == "credit_code"


def test_a_misfit_in_parquet_text_is_placed_by_its_record(hub: Hub, tmp_path: Path) -> None:
    register(hub)
    counts = [str(i) for i in range(1, 301)] + ["三百零一"]
    pq.write_table(pa.table({"数量": counts}), tmp_path / "t.parquet")
    r = sync_file(hub, "DS1", tmp_path / "t.parquet", SyncOptions(max_reject_ratio=0.05))
    assert (r.rows_written, r.rows_rejected) == (300, 1)
    [rej] = hub.lake.rejects("DS1").to_pylist()
    assert (rej["line"], rej["column"]) == (301, "数量")
