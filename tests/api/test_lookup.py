"""Lookups by key through the key index, and the door's memory of catalog records."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from fastapi.testclient import TestClient

from cityhub.catalog import service
from cityhub.hub import Hub
from cityhub.lake import keyindex

from .conftest import as_operator, person_id


def rows(client: TestClient, **params: Any) -> dict[str, Any]:
    r = client.get("/api/v1/datasets/GA-001/rows", params=params, headers=as_operator())
    assert r.status_code == 200, r.json()
    return r.json()


def test_key_lookups_answer_as_a_scan_does(served: tuple[Hub, TestClient]) -> None:
    hub, client = served
    lookups = client.app.state.services.lookups  # type: ignore[attr-defined]
    field = "shen_fen_zheng_hao_ma"
    asks: list[dict[str, object]] = [
        {"filter": f"{field}:eq:{person_id(7)}"},
        {"filter": f"{field}:in:{person_id(3)},{person_id(200)},{person_id(3)},nobody"},
        {"filter": [f"{field}:in:{person_id(3)},{person_id(4)}", "xing_bie:eq:男"]},
        {"filter": f"{field}:eq:330402000000000000"},
        {"filter": f"{field}:in:{person_id(1)},{person_id(2)}", "sort": "-yue_shou_ru"},
    ]
    scanned = [rows(client, **a, include_total=True) for a in asks]
    assert lookups.wait(30)  # the server queued the index at start
    path = keyindex.index_path(hub.settings.lake_path, "GA-001", 0, field)
    assert path.is_file()
    indexed = [rows(client, **a, include_total=True) for a in asks]
    assert indexed == scanned
    assert [len(s["rows"]) for s in scanned] == [1, 2, 1, 0, 2]
    assert scanned[0]["rows"][0]["yue_shou_ru"] == 1070
    assert scanned[4]["rows"][0]["yue_shou_ru"] == 1020


def test_an_index_belongs_to_its_version(served: tuple[Hub, TestClient], tmp_path) -> None:
    hub, client = served
    lookups = client.app.state.services.lookups  # type: ignore[attr-defined]
    assert lookups.wait(30)
    from cityhub.ingest import sync_file

    from .conftest import PEOPLE

    fewer = tmp_path / "fewer.csv"
    fewer.write_text("".join(PEOPLE.splitlines(keepends=True)[:6]), encoding="utf-8")
    sync_file(hub, "GA-001", fewer)
    gone = rows(client, filter=f"shen_fen_zheng_hao_ma:eq:{person_id(100)}")
    then = rows(client, filter=f"shen_fen_zheng_hao_ma:eq:{person_id(100)}", version=0)
    assert gone["rows"] == [] and len(then["rows"]) == 1
    assert lookups.wait(30)
    assert rows(client, filter=f"shen_fen_zheng_hao_ma:eq:{person_id(100)}")["rows"] == []
    assert rows(client, filter=f"shen_fen_zheng_hao_ma:eq:{person_id(4)}")["version"] == 1


def test_a_grade_change_reaches_readers_at_once(served: tuple[Hub, TestClient]) -> None:
    hub, client = served
    before = client.get("/api/v1/datasets/GA-001/rows", params={"limit": 1}).json()
    assert "xing_bie" in before["rows"][0]
    with hub.db.session() as s:
        service.set_field(s, "GA-001", "性别", grade="L4")
    after = client.get("/api/v1/datasets/GA-001/rows", params={"limit": 1}).json()
    assert "xing_bie" not in after["rows"][0]
    r = client.get("/api/v1/datasets/GA-001/rows", params={"filter": "xing_bie:eq:男"})
    assert r.status_code == 404


def test_pages_of_a_key_lookup_follow_the_rows_place(served: tuple[Hub, TestClient]) -> None:
    """Answered by the index alone (one key filter, no sort), pages come in the same order and
    with the same cursors as a scan's."""
    _, client = served
    lookups = client.app.state.services.lookups  # type: ignore[attr-defined]
    ask = {"filter": f"shen_fen_zheng_hao_ma:in:{person_id(9)},{person_id(2)},{person_id(5)}"}

    def pages() -> list[tuple[list[Any], str | None]]:
        out, cursor = [], None
        while True:
            page = rows(client, **ask, limit=1, **({"cursor": cursor} if cursor else {}))
            out.append((page["rows"], page["next_cursor"]))
            cursor = page["next_cursor"]
            if cursor is None:
                return out

    scanned = pages()
    assert lookups.wait(30)
    assert pages() == scanned and len(scanned) == 3
    assert [r[0][0]["yue_shou_ru"] for r in scanned] == [1020, 1050, 1090]


def test_a_lookup_by_index_answers_as_a_scan_does_to_the_byte(
    served: tuple[Hub, TestClient], tmp_path
) -> None:
    """The index's own page (one key filter, no sort) selects fields by name or title, gives
    decimals as the engine's pages do (whole amounts of a column with cents stay floats) and
    pages by the same cursors: the same answers, byte for byte, as the engine's scan."""
    hub, client = served
    from cityhub.ingest import sync_file

    with hub.db.session() as s:
        service.upsert_dataset(
            s, "SW-001", "330400-SCJG", name="水费账单", key_fields=["户号"], open_type="无条件开放"
        )
    bills = tmp_path / "bills.parquet"  # as a billing system exports them: amounts as decimals
    pq.write_table(
        pa.table(
            {
                "户号": [f"H{i % 7:03d}" for i in range(60)],
                "月份": [f"2017-{1 + i % 12:02d}" for i in range(60)],
                "金额": pa.array(
                    [Decimal(i * 25).scaleb(-2) for i in range(60)], pa.decimal128(10, 2)
                ),
                "户数": pa.array([Decimal(1 + i % 3) for i in range(60)], pa.decimal128(5, 0)),
            }
        ),
        bills,
    )
    sync_file(hub, "SW-001", bills)
    lookups = client.app.state.services.lookups  # type: ignore[attr-defined]

    def ask(**params: Any) -> list[str]:
        pages: list[str] = []
        cursor: str | None = None
        while True:
            more: dict[str, str] = {"cursor": cursor} if cursor else {}
            r = client.get(
                "/api/v1/datasets/SW-001/rows",
                params={"filter": "hu_hao:eq:H003", **params, **more},
                headers=as_operator(),
            )
            assert r.status_code == 200, r.json()
            pages.append(r.text)
            cursor = r.json()["next_cursor"]
            if cursor is None:
                return pages

    asks: list[dict[str, Any]] = [
        {"limit": 4, "include_total": True},
        {"select": "金额,yue_fen", "limit": 5},
    ]
    scanned = [ask(**a) for a in asks]
    assert lookups.wait(30)
    assert keyindex.index_path(hub.settings.lake_path, "SW-001", 0, "hu_hao").is_file()
    assert pa.types.is_decimal(hub.lake.schema("SW-001").field("jin_e").type)
    indexed = [ask(**a) for a in asks]
    assert indexed == scanned
    assert [len(pages) for pages in scanned] == [3, 2]
    first = json.loads(scanned[0][0])
    assert first["total"] == 9
    assert [(r["jin_e"], r["hu_shu"]) for r in first["rows"]] == [
        (0.75, 1),
        (2.5, 2),
        (4.25, 3),
        (6.0, 1),
    ]
    assert '"jin_e":6.0,' in scanned[0][0] and '"hu_shu":1}' in scanned[0][0]
    assert [f["name"] for f in json.loads(scanned[1][0])["fields"]] == ["jin_e", "yue_fen"]


def test_the_door_decides_once_for_full_readers_until_the_record_changes(
    served: tuple[Hub, TestClient], tmp_path
) -> None:
    """The center's staff and the dataset's own department read every field: the door decides
    that once per record and basis, and decides again when the record changes (a field added
    by a sync is read at once)."""
    hub, client = served
    from cityhub.access import Caller, Role, Scope, operator
    from cityhub.catalog.models import Department
    from cityhub.ingest import sync_file

    from .conftest import PEOPLE

    door = client.app.state.services.door  # type: ignore[attr-defined]
    with hub.db.session() as s:
        ga = s.scalars(sa.select(Department).where(Department.code == "330400-GA")).one()
        own = Caller(
            "ga.member",
            frozenset({Role.MEMBER}),
            frozenset({Scope.READ}),
            department="330400-GA",
            department_id=ga.id,
        )

    def view(who: Caller) -> tuple[str, list[str]]:
        with hub.db.reading() as s:
            v = door.table(s, who, "GA-001")
        return v.basis, [c.name for c in v.columns]

    staff, dept = view(operator()), view(own)
    assert staff[0] == "center staff" and dept[0] == "own department"
    assert staff[1] == dept[1] and "shen_fen_zheng_hao_ma" in staff[1]  # L4, read in full
    decided = {key: allowed for key, (_, allowed) in door._in_full.items()}
    assert len(decided) == 2  # one for each basis
    assert view(operator()) == staff and view(own) == dept
    # the very decisions made before, not equal ones made again
    assert all(door._in_full[key][1] is allowed for key, allowed in decided.items())
    wider = tmp_path / "wider.csv"
    lines = PEOPLE.splitlines()
    wider.write_text(
        "\n".join([lines[0] + ",户籍地址"] + [f"{line},嘉兴市南湖区" for line in lines[1:]]) + "\n",
        encoding="utf-8",
    )
    sync_file(hub, "GA-001", wider)
    assert view(operator()) == ("center staff", [*staff[1], "hu_ji_di_zhi"])
    assert view(own) == ("own department", [*dept[1], "hu_ji_di_zhi"])
