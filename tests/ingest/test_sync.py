"""End to end: files into versioned datasets, the catalog kept in step (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from cityhub.catalog import service
from cityhub.catalog.db import sqlite_file
from cityhub.errors import RejectRatioExceeded, SchemaDrift, SourceError
from cityhub.hub import Hub
from cityhub.ingest import SyncOptions, csvfile, decode, history, rollback_dataset, sync_file
from cityhub.ingest import sync as sync_module

from .helpers import PEOPLE, register, write_csv


def fields_of(hub: Hub, code: str = "DS1") -> dict[str, dict]:
    with hub.db.session() as s:
        ds = service.get_dataset(s, code)
        return {
            f.title: {
                "name": f.name,
                "type": f.data_type,
                "semantic": f.semantic_type,
                "grade": f.grade,
                "present": f.present,
                "profile": f.profile,
            }
            for f in ds.fields
        }


def test_csv_types_names_profile_and_stats(hub: Hub, tmp_path: Path) -> None:
    register(hub)
    result = sync_file(hub, "DS1", write_csv(tmp_path / "people.csv", PEOPLE))
    assert (result.status, result.version, result.rows_written, result.rows_rejected) == (
        "succeeded",
        0,
        3,
        0,
    )
    assert result.source_hash and result.source_hash.startswith("sha256:")
    # Where the time went, step by step (the steps lie within the sync).
    assert set(result.phases) == {"prepare", "plan", "write", "catalog", "rejects", "hash"}
    assert all(s >= 0 for s in result.phases.values())
    assert sum(result.phases.values()) <= result.seconds
    f = fields_of(hub)
    assert [
        f[t]["type"]
        for t in (
            "身份证号码",
            "姓名",
            "出生日期",
            "手机号码",
            "邮编",
            "月收入",
            "是否党员",
            "登记时间",
        )
    ] == ["string", "string", "date", "string", "string", "decimal", "boolean", "timestamp"]
    assert f["身份证号码"]["name"] == "shen_fen_zheng_hao_ma"
    assert f["身份证号码"]["semantic"] == "id_card" and f["身份证号码"]["grade"] == "L3"
    assert f["手机号码"]["semantic"] == "mobile"
    assert f["月收入"]["profile"]["max"] == 12000
    rows = hub.lake.read("DS1").to_pylist()
    assert rows[2]["you_bian"] == "014100"  # leading zero kept
    assert rows[2]["chu_sheng_ri_qi"] == dt.date(2002, 3, 3)
    assert rows[0]["shi_fou_dang_yuan"] is True
    with hub.db.session() as s:
        st = service.stats(s)
    assert (
        st.departments_connected,
        st.departments_cataloged,
        st.datasets,
        st.fields,
        st.records,
    ) == (1, 1, 1, 9, 3)


def test_gbk_file_equals_its_utf8_twin(hub: Hub, tmp_path: Path) -> None:
    register(hub, "U8")
    register(hub, "GB")
    sync_file(hub, "U8", write_csv(tmp_path / "u.csv", PEOPLE))
    r = sync_file(hub, "GB", write_csv(tmp_path / "g.csv", PEOPLE, "gbk"))
    assert any("gb18030" in n for n in r.notes)
    assert hub.lake.read("GB").to_pylist() == hub.lake.read("U8").to_pylist()


def test_bad_rows_are_kept_with_reasons(hub: Hub, tmp_path: Path) -> None:
    register(hub)
    body = "".join(f"{i},name{i},{i * 10}\n" for i in range(1, 301))
    text = (
        "编号,名称,数量\n"
        + body
        + '301,"ragged",1,extra\n'  # line 302: too many columns
        + "302,bad number,12x\n"
    )  # line 303: does not fit integer
    result = sync_file(
        hub, "DS1", write_csv(tmp_path / "m.csv", text), SyncOptions(max_reject_ratio=0.05)
    )
    assert (result.rows_written, result.rows_rejected, result.rows_read) == (300, 2, 302)
    rejects = sorted(hub.lake.rejects("DS1").to_pylist(), key=lambda r: r["line"])
    assert [(r["line"], r["column"]) for r in rejects] == [(302, None), (303, "数量")]
    assert "too many columns" in rejects[0]["reason"]
    assert rejects[1]["reason"] == "数量: expected integer, found '12x'"


def test_too_many_rejects_fail_and_keep_last_good_version(hub: Hub, tmp_path: Path) -> None:
    register(hub)
    sync_file(hub, "DS1", write_csv(tmp_path / "good.csv", "a,b\n1,2\n3,4\n"))
    bad = "a,b\n" + "".join(f"{i},{i}\n" for i in range(300)) + "x,1\ny,2\n1,2,3\n"
    with pytest.raises(RejectRatioExceeded, match="3 of 303 rows rejected"):
        sync_file(
            hub, "DS1", write_csv(tmp_path / "bad.csv", bad), SyncOptions(max_reject_ratio=0.005)
        )
    assert hub.lake.version("DS1") == 0
    assert hub.lake.read("DS1").to_pylist() == [{"a": 1, "b": 2}, {"a": 3, "b": 4}]
    with hub.db.session() as s:
        runs = service.sync_runs(s, "DS1")
        assert [r.status for r in runs] == ["failed", "succeeded"]
        assert "above the limit" in (runs[0].message or "")
        assert service.get_dataset(s, "DS1").row_count == 2
    assert hub.lake.rejects("DS1", runs[0].id).num_rows == 3  # kept for inspection


def test_versions_modes_history_time_travel_rollback(hub: Hub, tmp_path: Path) -> None:
    register(hub, key=["代码"])
    sync_file(hub, "DS1", write_csv(tmp_path / "v0.csv", "代码,值\nA01,1\nA02,2\n"))
    sync_file(
        hub, "DS1", write_csv(tmp_path / "v1.csv", "代码,值\nA03,3\n"), SyncOptions(mode="append")
    )
    sync_file(
        hub,
        "DS1",
        write_csv(tmp_path / "v2.csv", "代码,值\nA01,10\nA04,4\n"),
        SyncOptions(mode="upsert"),
    )
    current = sorted(hub.lake.read("DS1").to_pylist(), key=lambda r: r["dai_ma"])
    assert current == [
        {"dai_ma": "A01", "zhi": 10},
        {"dai_ma": "A02", "zhi": 2},
        {"dai_ma": "A03", "zhi": 3},
        {"dai_ma": "A04", "zhi": 4},
    ]
    assert hub.lake.read("DS1", version=0).num_rows == 2
    hist = history(hub, "DS1")
    assert [(h.version, h.rows) for h in hist] == [(2, 4), (1, 3), (0, 2)]
    assert hist[2].source is not None and hist[2].source.endswith("v0.csv")
    assert hist[0].operator == "tester" and (hist[0].source_hash or "").startswith("sha256:")
    new = rollback_dataset(hub, "DS1", 0)
    assert new == 3
    assert sorted(r["dai_ma"] for r in hub.lake.read("DS1").to_pylist()) == ["A01", "A02"]
    with hub.db.session() as s:
        ds = service.get_dataset(s, "DS1")
        assert (ds.current_version, ds.row_count) == (3, 2)


def test_schema_drift(hub: Hub, tmp_path: Path) -> None:
    register(hub)
    sync_file(hub, "DS1", write_csv(tmp_path / "a.csv", "代码,数量\nA,1\n"))
    # Added: evolves the table, no flag needed.
    r = sync_file(hub, "DS1", write_csv(tmp_path / "b.csv", "代码,数量,备注\nB,2,x\n"))
    assert r.changes == ["field '备注' added (string)"]
    # Retyped: breaking.
    with pytest.raises(SchemaDrift, match="changed type from integer to string"):
        sync_file(hub, "DS1", write_csv(tmp_path / "c.csv", "代码,数量,备注\nC,many,y\n"))
    # Renamed (same place, same type): breaking, accepted with the flag.
    with pytest.raises(SchemaDrift, match="'备注' renamed to '说明'"):
        sync_file(hub, "DS1", write_csv(tmp_path / "d.csv", "代码,数量,说明\nD,4,z\n"))
    assert hub.lake.version("DS1") == 1
    r = sync_file(
        hub,
        "DS1",
        write_csv(tmp_path / "d.csv", "代码,数量,说明\nD,4,z\n"),
        SyncOptions(allow_breaking=True),
    )
    assert r.version == 2
    f = fields_of(hub)
    assert f["说明"]["present"] and not f["备注"]["present"]
    with hub.db.session() as s:
        kinds = [(c.kind, c.field) for c in service.schema_changes(s, "DS1")]
    assert kinds == [("added", "备注"), ("renamed", "说明")]


def test_grade_override_survives_later_syncs(hub: Hub, tmp_path: Path) -> None:
    register(hub)
    path = write_csv(tmp_path / "p.csv", PEOPLE)
    sync_file(hub, "DS1", path)
    with hub.db.session() as s:
        service.set_field(s, "DS1", "月收入", grade="L4")
    sync_file(hub, "DS1", path)
    assert fields_of(hub)["月收入"]["grade"] == "L4"
    assert fields_of(hub)["姓名"]["grade"] == "L3"


def test_header_problems_and_empty_file(hub: Hub, tmp_path: Path) -> None:
    register(hub)
    with pytest.raises(SourceError, match="empty"):
        sync_file(hub, "DS1", write_csv(tmp_path / "e.csv", ""))
    r = sync_file(hub, "DS1", write_csv(tmp_path / "h.csv", "名称,名称,\n甲,乙,丙\n"))
    assert r.rows_written == 1
    assert any("'名称' repeats in column 2" in n for n in r.notes)
    assert any("header of column 3 is empty" in n for n in r.notes)
    assert set(fields_of(hub)) == {"名称", "名称_2", "column_3"}


def test_quoted_newlines_tsv_and_semicolons(hub: Hub, tmp_path: Path) -> None:
    register(hub, "T1")
    register(hub, "T2")
    sync_file(hub, "T1", write_csv(tmp_path / "q.tsv", '地址\t备注\n"南湖区\n东栅街道"\t好\n'))
    assert hub.lake.read("T1").to_pylist() == [{"di_zhi": "南湖区\n东栅街道", "bei_zhu": "好"}]
    sync_file(hub, "T2", write_csv(tmp_path / "s.csv", "a;b\n1;2\n"))
    assert hub.lake.read("T2").to_pylist() == [{"a": 1, "b": 2}]


def test_undecodable_bytes_are_rejected_by_line(hub: Hub, tmp_path: Path) -> None:
    register(hub, "U8")
    register(hub, "GB")
    lines = [f"{i},企业{i}\n" for i in range(1, 400)]
    rows = "".join(lines)
    utf8 = tmp_path / "u.csv"
    utf8.write_bytes(("编号,名称\n" + rows).encode() + b"400,\xff\xfe\n")
    r = sync_file(hub, "U8", utf8)
    assert (r.rows_written, r.rows_rejected) == (399, 1)
    [rej] = hub.lake.rejects("U8").to_pylist()
    assert (rej["line"], rej["column"]) == (401, "名称")
    assert "invalid encoding" in rej["reason"]
    gbk = tmp_path / "g.csv"
    body = [f"{i},企业{i},{i}\n" for i in range(1, 400)]
    body[18] = "19,企业19,十九\n"  # line 21 once the header and the bad line stand before it
    gbk.write_bytes(
        ("编号,名称,数量\n" + "".join(body[:4])).encode("gbk")
        + b"bad,\x81\x20,1\n"
        + "".join(body[4:]).encode("gbk")
    )
    r = sync_file(hub, "GB", gbk, SyncOptions(max_reject_ratio=0.05))
    assert (r.rows_written, r.rows_rejected) == (398, 2)
    found = sorted(hub.lake.rejects("GB").to_pylist(), key=lambda x: x["line"])
    assert [(x["line"], x["column"]) for x in found] == [(6, None), (21, "数量")]
    assert "not valid gb18030" in found[0]["reason"]
    assert found[1]["reason"] == "数量: expected integer, found '十九'"


def test_rollback_restores_the_fields_of_that_version(hub: Hub, tmp_path: Path) -> None:
    register(hub)
    sync_file(hub, "DS1", write_csv(tmp_path / "a.csv", "代码,数量\nA,1\n"))
    sync_file(
        hub,
        "DS1",
        write_csv(tmp_path / "b.csv", "代码,数量,备注\nB,很多,x\n"),
        SyncOptions(allow_breaking=True),
    )
    assert fields_of(hub)["数量"]["type"] == "string"
    rollback_dataset(hub, "DS1", 0)
    f = fields_of(hub)
    assert (f["数量"]["type"], f["备注"]["present"]) == ("integer", False)
    assert hub.lake.read("DS1").to_pylist() == [{"dai_ma": "A", "shu_liang": 1}]


def test_bad_quoting_is_rejected_with_its_line(hub: Hub, tmp_path: Path) -> None:
    register(hub)
    body = "".join(f"{i},名称{i}\n" for i in range(1, 201))
    text = "编号,名称\n" + body + '201,"unterminated\n' + "202,ok\n"
    r = sync_file(
        hub, "DS1", write_csv(tmp_path / "q.csv", text), SyncOptions(max_reject_ratio=0.05)
    )
    assert r.rows_written == 200 and r.rows_rejected >= 1
    [rej] = hub.lake.rejects("DS1").to_pylist()
    assert rej["line"] == 202 and "unterminated quote" in rej["reason"].lower()
    assert rej["raw"].startswith('201,"unterminated')


@pytest.mark.parametrize("in_memory", [True, False], ids=["memory", "disk"])
def test_gbk_scanned_in_parts_while_it_decodes(
    hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_memory: bool
) -> None:
    """Tiny blocks and parts: quoted fields with newlines must never be cut, and a reject in a
    late part still names its line in the source file; parts held in memory or on disk."""
    monkeypatch.setattr(decode, "BLOCK_BYTES", 1 << 10)
    monkeypatch.setattr(decode, "PART_BYTES", 1 << 12)
    monkeypatch.setattr(decode, "memory_for_parts", lambda part_bytes: in_memory)
    made: list[decode.Transcoding] = []

    class Spy(decode.Transcoding):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(csvfile, "Transcoding", Spy)
    register(hub, "GB")
    register(hub, "U8")
    rows = [
        f'{i},企业{i},{i},"第一行\n第二行{i}"\n'
        if i < 1000 and i % 40 == 0
        else f"{i},企业{i},{i},\n"
        for i in range(1, 3001)
    ]
    rows[2199] = "2200,企业2200,二千二百,\n"  # a misfit for the integer column
    rows[2399] = "2400,企业2400,2400,,extra\n"  # ragged
    good = "编号,名称,数量,备注\n" + "".join(rows)
    raw = good.encode("gbk").replace("企业2600,".encode("gbk"), b"\x81\x20,")  # does not decode
    source = tmp_path / "g.csv"
    source.write_bytes(raw)
    r = sync_file(hub, "GB", source, SyncOptions(max_reject_ratio=0.01))
    assert made[0].in_memory is in_memory
    assert len(made[0].files) > 10 and made[0].held == 0
    assert made[0].most_held <= decode.PARTS_AHEAD
    assert list(hub.lake.staging().iterdir()) == []
    physical = {
        int(line.split(",")[0]): n
        for n, line in enumerate(good.split("\n"), 1)
        if line[:1].isdigit()
    }
    found = sorted((x["line"], x["column"]) for x in hub.lake.rejects("GB").to_pylist())
    assert found == [(physical[2200], "数量"), (physical[2400], None), (physical[2600], None)]
    assert r.rows_written == 2997
    twin = "".join(x for i, x in enumerate(rows, 1) if i not in (2200, 2400, 2600))
    sync_file(hub, "U8", write_csv(tmp_path / "u.csv", "编号,名称,数量,备注\n" + twin))

    def by_number(code: str) -> list[dict[str, Any]]:  # the writer may reorder small batches
        return sorted(hub.lake.read(code).to_pylist(), key=lambda x: int(x["bian_hao"]))

    assert by_number("GB") == by_number("U8")


def test_a_failed_parted_sync_stops_decoding_and_leaves_no_parts(
    hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(decode, "BLOCK_BYTES", 1 << 10)
    monkeypatch.setattr(decode, "PART_BYTES", 1 << 12)
    register(hub, "GB")
    # Misfits past the sample, in later parts: 3% of rows, above the 1% limit.
    rows = "".join(f"{i},企业{i},{i if i < 6000 or i % 25 else 'x'}\n" for i in range(1, 20001))
    source = write_csv(tmp_path / "g.csv", "编号,名称,数量\n" + rows, "gbk")
    with pytest.raises(RejectRatioExceeded):
        sync_file(hub, "GB", source)
    assert not hub.lake.exists("GB")
    # A breaking change found before the scan: the transcoding is stopped, its parts removed.
    sync_file(hub, "GB", write_csv(tmp_path / "u.csv", "编号,名称,数量\n1,企业1,1\n"))
    with pytest.raises(SchemaDrift):
        text = "".join(f"{i},企业{i},很多\n" for i in range(1, 60001))
        sync_file(hub, "GB", write_csv(tmp_path / "t.csv", "编号,名称,数量\n" + text, "gbk"))
    assert list(hub.lake.staging().iterdir()) == []
    assert hub.lake.read("GB").num_rows == 1


def test_the_catalog_is_free_for_other_writers_while_a_sync_profiles(
    sqlite_hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Profiling reads the new version's files, which takes a while for a large table: the
    sync must not hold SQLite's write lock meanwhile, or every server's audit append (and so
    every read) would wait for it."""
    register(sqlite_hub)
    path = sqlite_file(sqlite_hub.db.url)
    assert path is not None
    seen: list[str] = []
    real = sync_module.profile_files

    def profiling(*args: Any, **kwargs: Any) -> Any:
        other = sqlite3.connect(path, timeout=0.2, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # what an audit append asks for first
            other.execute("ROLLBACK")
            seen.append("free")
        except sqlite3.OperationalError as exc:
            seen.append(str(exc))
        finally:
            other.close()
        return real(*args, **kwargs)

    monkeypatch.setattr(sync_module, "profile_files", profiling)
    result = sync_file(sqlite_hub, "DS1", write_csv(tmp_path / "people.csv", PEOPLE))
    assert result.status == "succeeded" and seen == ["free"]
    assert list(fields_of(sqlite_hub))[:2] == ["身份证号码", "姓名"]
