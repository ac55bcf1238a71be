"""The native API through an HTTP client: catalog, rows, aggregates, paging, access, errors."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from cityhub.hub import Hub
from cityhub.ingest import SyncOptions, sync_file

from .conftest import PEOPLE, as_operator, person_id, person_name


def test_stats_and_departments(served: tuple[Hub, TestClient]) -> None:
    _, client = served
    st = client.get("/api/v1/stats").json()
    assert st == {
        "departments_connected": 2,
        "departments_cataloged": 2,
        "datasets": 3,
        "fields": 9,
        "records": 290,
    }
    public = {d["code"]: d["datasets"] for d in client.get("/api/v1/departments").json()["items"]}
    assert public == {"330400-GA": 1, "330400-SCJG": 0}
    full = client.get("/api/v1/departments", headers=as_operator()).json()["items"]
    assert {d["code"]: d["datasets"] for d in full} == {"330400-GA": 1, "330400-SCJG": 2}


def test_the_public_sees_open_data_only_and_no_sensitive_field(
    served: tuple[Hub, TestClient],
) -> None:
    _, client = served
    found = client.get("/api/v1/datasets").json()
    assert [d["code"] for d in found["items"]] == ["GA-001"] and found["total"] == 1
    assert client.get("/api/v1/datasets", params={"q": "市场主体"}).json()["total"] == 0
    for path in ("/api/v1/datasets/SC-001", "/api/v1/datasets/SC-001/rows", "/dataset/SC-001.ttl"):
        r = client.get(path)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"] == "no dataset 'SC-001'"  # as if it did not exist
    record = client.get("/api/v1/datasets/GA-001").json()
    titles = [f["title"] for f in record["fields"]]
    assert "身份证号码" not in titles and "姓名" not in titles and "性别" in titles
    rows = client.get("/api/v1/datasets/GA-001/rows", params={"limit": 5}).json()
    assert [f["title"] for f in rows["fields"]] == ["性别", "出生日期", "月收入", "登记时间"]
    assert all("shen_fen_zheng_hao_ma" not in r for r in rows["rows"])
    r = client.get("/api/v1/datasets/GA-001/rows", params={"select": "shen_fen_zheng_hao_ma"})
    assert r.status_code == 404 and "you may read" in r.json()["detail"]
    agg = client.get(
        "/api/v1/datasets/GA-001/aggregate", params={"metric": "count_distinct:xing_ming"}
    )
    assert agg.status_code == 404
    bad = client.get("/api/v1/datasets", headers={"Authorization": "Bearer wrong"})
    assert bad.status_code == 401


def test_the_operator_sees_everything(served: tuple[Hub, TestClient]) -> None:
    _, client = served
    found = client.get("/api/v1/datasets", headers=as_operator()).json()
    assert {d["code"] for d in found["items"]} == {"GA-001", "SC-001", "SC-002"}
    rows = client.get(
        "/api/v1/datasets/GA-001/rows",
        params={"select": "身份证号码,姓名", "limit": 1},
        headers=as_operator(),
    ).json()
    assert rows["rows"] == [{"shen_fen_zheng_hao_ma": person_id(0), "xing_ming": person_name(0)}]
    r = client.get("/api/v1/datasets/SC-002/rows", headers=as_operator())
    assert r.status_code == 404 and "no data yet" in r.json()["detail"]


def test_filters_sort_and_keyset_paging_cover_every_row_once(
    served: tuple[Hub, TestClient],
) -> None:
    _, client = served
    params = {
        "filter": ["xing_bie:eq:男", "yue_shou_ru:gte:1500"],
        "sort": "-yue_shou_ru",
        "limit": 17,
    }
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        page = client.get(
            "/api/v1/datasets/GA-001/rows",
            params={**params, **({"cursor": cursor} if cursor else {}), "include_total": True},
        ).json()
        seen += [r["yue_shou_ru"] for r in page["rows"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    expected = sorted(
        (1000 + i * 10 for i in range(250) if i % 2 and 1000 + i * 10 >= 1500), reverse=True
    )
    assert seen == expected and page["total"] == len(expected)
    assert pages == -(-len(expected) // 17)


def test_filter_operators(served: tuple[Hub, TestClient]) -> None:
    _, client = served

    def count(*filters: str) -> int:
        page = client.get(
            "/api/v1/datasets/GA-001/rows",
            params={"filter": list(filters), "limit": 1, "include_total": True},
        ).json()
        return int(page["total"])

    assert count("yue_shou_ru:in:1000,1010,9999") == 2
    assert count("chu_sheng_ri_qi:lt:1985-01-01") == 5 * 13
    assert count("deng_ji_shi_jian:gte:2017-10-28 00:00:00") == 8
    assert count("xing_bie:ne:男") == 125
    assert count("yue_shou_ru:isnull:true") == 0
    bad = client.get("/api/v1/datasets/GA-001/rows", params={"filter": "yue_shou_ru:gt:many"})
    assert bad.status_code == 400
    assert bad.json()["detail"] == "field 'yue_shou_ru': expected integer (整数), found 'many'"
    bad = client.get("/api/v1/datasets/GA-001/rows", params={"filter": "yue_shou_ru:between:1"})
    assert bad.status_code == 400 and "unknown operator" in bad.json()["detail"]


def test_aggregates_and_time_buckets(served: tuple[Hub, TestClient]) -> None:
    _, client = served
    r = client.get(
        "/api/v1/datasets/GA-001/aggregate",
        params={
            "group_by": "xing_bie",
            "metric": ["count", "sum:yue_shou_ru", "max:chu_sheng_ri_qi"],
        },
    ).json()
    assert r["columns"] == ["xing_bie", "count", "sum_yue_shou_ru", "max_chu_sheng_ri_qi"]
    by = {row["xing_bie"]: row for row in r["rows"]}
    assert by["男"]["count"] == 125
    assert by["男"]["sum_yue_shou_ru"] == sum(1000 + i * 10 for i in range(1, 250, 2))
    days = client.post(
        "/api/v1/datasets/GA-001/aggregate",
        json={
            "group_by": [{"field": "deng_ji_shi_jian", "bucket": "day"}],
            "sort": ["-count"],
            "limit": 3,
        },
    ).json()
    assert len(days["rows"]) == 3 and days["rows"][0]["count"] == 9
    bad = client.get("/api/v1/datasets/GA-001/aggregate", params={"metric": "sum:xing_bie"})
    assert bad.status_code == 400 and "numeric" in bad.json()["detail"]


def test_time_travel_reads_an_older_version(served: tuple[Hub, TestClient], tmp_path) -> None:
    hub, client = served
    fewer = tmp_path / "fewer.csv"
    fewer.write_text("".join(PEOPLE.splitlines(keepends=True)[:11]), encoding="utf-8")
    sync_file(hub, "GA-001", fewer)
    now = client.get("/api/v1/datasets/GA-001/rows", params={"include_total": True}).json()
    then = client.get(
        "/api/v1/datasets/GA-001/rows", params={"include_total": True, "version": 0}
    ).json()
    assert (now["version"], now["total"], then["version"], then["total"]) == (1, 10, 0, 250)
    assert [v["version"] for v in client.get("/api/v1/datasets/GA-001").json()["versions"]] == [
        1,
        0,
    ]
    gone = client.get("/api/v1/datasets/GA-001/rows", params={"version": 7})
    assert gone.status_code == 404 and "versions are 0 to 1" in gone.json()["detail"]


def test_dcat_shows_what_the_caller_may_see(served: tuple[Hub, TestClient]) -> None:
    _, client = served
    ttl = client.get("/catalog.ttl")
    assert ttl.status_code == 200 and ttl.headers["content-type"].startswith("text/turtle")
    assert "户籍人口基本信息" in ttl.text and "市场主体登记信息" not in ttl.text
    assert "身份证号码" not in ttl.text
    full = client.get("/catalog.jsonld", headers=as_operator())
    assert "市场主体登记信息" in full.text
    one = client.get("/dataset/GA-001.rdf")
    assert one.status_code == 200 and "GA-001" in one.text


def test_unsorted_pages_follow_the_files_of_the_version(
    served: tuple[Hub, TestClient], tmp_path
) -> None:
    """No sort: pages in the rows' place (file, row number) across several files, each row
    once, whatever the page size."""
    hub, client = served
    more = tmp_path / "more.csv"
    head, *lines = PEOPLE.splitlines(keepends=True)
    for n, part in enumerate((lines[:40], lines[40:45])):
        more.write_text(head + "".join(part), encoding="utf-8")
        sync_file(hub, "GA-001", more, SyncOptions(mode="append"))
        assert len(hub.lake.files("GA-001")) == n + 2
    for size in (1, 33, 1000):
        seen: list[str] = []
        cursor = None
        while True:
            page = client.get(
                "/api/v1/datasets/GA-001/rows",
                params={
                    "limit": size,
                    "select": "shen_fen_zheng_hao_ma",
                    **({"cursor": cursor} if cursor else {}),
                },
                headers=as_operator(),
            ).json()
            seen += [r["shen_fen_zheng_hao_ma"] for r in page["rows"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        firsts = [person_id(i) for i in range(250)]
        assert len(seen) == 295 and sorted(seen) == sorted(firsts + firsts[:45])


def test_the_api_documentation_works_offline(served: tuple[Hub, TestClient]) -> None:
    """/docs loads its script and style from this server, never from a CDN."""
    _, client = served
    page = client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/") for a in assets), assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert client.get("/openapi.json").json()["info"]["title"] == "cityhub"
