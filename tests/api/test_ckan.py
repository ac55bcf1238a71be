"""CKAN's Action API: every action and error in process, then the real ckanapi client against a
live server."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import ckanapi
import pytest
from fastapi.testclient import TestClient

from cityhub.hub import Hub

from .conftest import TOKEN, as_operator, person_id

INCOMES = [1000 + i * 10 for i in range(250)]
PUBLIC_FIELDS = ["xing_bie", "chu_sheng_ri_qi", "yue_shou_ru", "deng_ji_shi_jian"]
SENSITIVE = ("shen_fen_zheng_hao_ma", "xing_ming", "身份证号码", "姓名")


def call(
    client: TestClient, action: str, headers: dict[str, str] | None = None, **params: Any
) -> tuple[int, dict[str, Any]]:
    """POST the parameters as JSON, as ckanapi does."""
    r = client.post(f"/api/3/action/{action}", json=params, headers=headers)
    return r.status_code, r.json()


def result(client: TestClient, action: str, operator: bool = False, **params: Any) -> Any:
    status, body = call(client, action, as_operator() if operator else None, **params)
    assert status == 200 and body["success"] is True, body
    return body["result"]


def error(client: TestClient, action: str, **params: Any) -> tuple[int, dict[str, Any]]:
    status, body = call(client, action, **params)
    assert body["success"] is False and "result" not in body, body
    assert body["help"].endswith(f"/api/3/action/help_show?name={action}")
    return status, body["error"]


# -- in process ----------------------------------------------------------------------------------


def test_envelope_get_and_post_help_and_unknown_actions(served: tuple[Hub, TestClient]) -> None:
    _, client = served
    for r in (
        client.get("/api/3/action/status_show"),
        client.post("/api/3/action/status_show"),
        client.post("/api/action/status_show", json={}),
    ):
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        body = r.json()
        assert body["success"] is True and body["help"].endswith("help_show?name=status_show")
        assert body["result"]["ckan_version"] and "datastore" in body["result"]["extensions"]
    assert "Search the packages" in result(client, "help_show", name="package_search")
    r = client.get("/api/3/action/package_create")
    assert r.status_code == 400 and r.json()["success"] is False
    assert r.json()["error"] == {
        "__type": "Bad Request",
        "message": "Bad request - Action name not known: package_create",
    }
    r = client.post(
        "/api/3/action/package_list", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and "JSON Error" in r.json()["error"]["message"]
    r = client.post("/api/3/action/package_list", json=[1, 2])
    assert r.status_code == 400 and "dictionary" in r.json()["error"]["message"]
    # a form works as CKAN's does, and so does the query string of a GET
    r = client.post("/api/3/action/package_show", data={"id": "ga-001"})
    assert r.status_code == 200 and r.json()["result"]["id"] == "GA-001"
    r = client.get("/api/3/action/package_show", params={"id": "GA-001"})
    assert r.status_code == 200 and r.json()["result"]["name"] == "ga-001"


def test_tokens_raw_bearer_ckan_header_and_a_wrong_one(served: tuple[Hub, TestClient]) -> None:
    _, client = served
    for headers in (
        {"Authorization": TOKEN},
        {"Authorization": f"Bearer {TOKEN}"},
        {"X-CKAN-API-Key": TOKEN},
    ):
        r = client.get("/api/3/action/package_list", headers=headers)
        assert r.json()["result"] == ["ga-001", "sc-001", "sc-002"]
    assert result(client, "package_list") == ["ga-001"]
    assert result(client, "package_list", operator=True, limit=1, offset=1) == ["sc-001"]
    r = client.get("/api/3/action/package_list", headers={"Authorization": "wrong"})
    assert r.status_code == 403 and r.json()["success"] is False
    assert r.json()["error"]["__type"] == "Authorization Error"
    assert r.json()["error"]["message"].startswith("Access denied: ")


def test_package_show_maps_the_catalog_record(served: tuple[Hub, TestClient]) -> None:
    _, client = served
    pkg = result(client, "package_show", id="ga-001")
    assert pkg == result(client, "package_show", id="GA-001")
    assert (pkg["id"], pkg["name"], pkg["title"]) == ("GA-001", "ga-001", "户籍人口基本信息")
    assert pkg["notes"] == "全市户籍人口的身份、性别与出生日期" and pkg["isopen"] is True
    assert pkg["owner_org"] == "330400-GA"
    assert pkg["organization"]["name"] == "330400-ga"
    assert pkg["organization"]["title"] == "市公安局"
    assert [t["name"] for t in pkg["tags"]] == ["人口"] and pkg["num_tags"] == 1
    extras = {e["key"]: e["value"] for e in pkg["extras"]}
    assert extras["open_type"] == "unconditional" and extras["identifier"] == "GA-001"
    assert extras["share_type"] == "conditional"
    (res,) = pkg["resources"]
    assert (res["id"], res["package_id"], res["datastore_active"]) == ("GA-001", "GA-001", True)
    assert res["url"].endswith("/api/v1/datasets/GA-001/export.csv")  # DCAT's download too
    download = client.get(urlsplit(res["url"]).path)
    assert download.status_code == 200 and download.text.startswith('"xing_bie",')
    assert res == result(client, "resource_show", id="GA-001")
    assert not any(s in json.dumps(pkg, ensure_ascii=False) for s in SENSITIVE)
    cataloged = result(client, "package_show", operator=True, id="SC-002")["resources"][0]
    assert cataloged["datastore_active"] is False and cataloged["url"] == ""
    # invisible and missing alike
    for action in ("package_show", "resource_show"):
        for key in ("SC-001", "sc-001", "NOPE-1"):
            status, err = error(client, action, id=key)
            assert status == 404 and err["__type"] == "Not Found Error"
            assert err["message"].startswith("Not found: no ") and key in err["message"]
    status, err = error(client, "package_show")
    assert status == 409 and err["__type"] == "Validation Error" and "id" in err


def test_package_search_paging_sort_fq_and_facets(served: tuple[Hub, TestClient]) -> None:
    _, client = served
    facets: dict[str, Any] = {"facet.field": ["organization", "tags", "open_type"]}
    found = result(client, "package_search", q="人口", **facets)
    assert found["count"] == 1 and [p["name"] for p in found["results"]] == ["ga-001"]
    assert found["facets"]["organization"] == {"330400-ga": 1}
    assert found["search_facets"]["tags"]["items"] == [
        {"name": "人口", "display_name": "人口", "count": 1}
    ]
    assert found["search_facets"]["open_type"]["items"][0]["display_name"] == "无条件开放"
    assert result(client, "package_search", q="市场主体")["count"] == 0  # public: SC-001 unseen

    def names(**params: Any) -> list[str]:
        return [p["name"] for p in result(client, "package_search", True, **params)["results"]]

    everything = result(client, "package_search", True, **{"facet.field": '["organization"]'})
    assert everything["count"] == 3
    orgs = everything["search_facets"]["organization"]["items"]
    assert orgs[0] == {"name": "330400-scjg", "display_name": "市市场监管局", "count": 2}
    assert names(sort="name asc", rows=2) == ["ga-001", "sc-001"]
    assert names(sort="name asc", rows=2, start=2) == ["sc-002"]
    assert names(sort="name desc") == ["sc-002", "sc-001", "ga-001"]
    assert names(sort="title_string asc, name asc", rows=5000) == ["sc-001", "ga-001", "sc-002"]
    assert names(fq="organization:330400-scjg", sort="name asc") == ["sc-001", "sc-002"]
    assert names(fq='-owner_org:"330400-SCJG"') == ["ga-001"]
    assert names(fq="tags:人口 open_type:无条件开放") == ["ga-001"]
    assert names(fq="open_type:not_open", sort="name asc") == ["sc-001", "sc-002"]
    r = client.get(
        "/api/3/action/package_search",
        params={"q": "食品", "facet.field": "tags", "facet.limit": "1"},
        headers=as_operator(),
    )
    assert r.json()["result"]["count"] == 1 and r.json()["result"]["facets"]["tags"] == {}
    for params, word in (
        ({"sort": "popularity desc"}, "cannot sort"),
        ({"sort": "name sideways"}, "cannot sort"),
        ({"fq": "colour:red"}, "cannot filter"),
        ({"fq": "organization"}, "expected field:value"),
        ({"fq": "open_type:maybe"}, "unknown OpenType"),
        ({"facet.field": ["groups"]}, "no facet groups"),
    ):
        status, err = error(client, "package_search", **params)
        assert status == 400 and err["__type"] == "Search Query Error", err
        assert err["message"].startswith("Search Query is invalid: ") and word in err["message"]
    status, err = error(client, "package_search", rows=-1)
    assert status == 409 and err["__type"] == "Validation Error" and err["rows"]


def test_organizations(served: tuple[Hub, TestClient]) -> None:
    _, client = served
    assert result(client, "organization_list") == ["330400-ga", "330400-scjg"]
    counts = {
        o["id"]: o["package_count"] for o in result(client, "organization_list", all_fields=True)
    }
    assert counts == {"330400-GA": 1, "330400-SCJG": 0}
    full = result(client, "organization_list", True, all_fields=True, sort="package_count desc")
    assert [(o["name"], o["package_count"]) for o in full] == [("330400-scjg", 2), ("330400-ga", 1)]
    assert result(client, "organization_list", organizations=["330400-GA"]) == ["330400-ga"]
    org = result(client, "organization_show", id="330400-scjg", include_datasets=True)
    assert org["title"] == "市市场监管局" and org["package_count"] == 0 and org["packages"] == []
    org = result(client, "organization_show", True, id="330400-SCJG", include_datasets=True)
    assert [p["name"] for p in org["packages"]] == ["sc-001", "sc-002"]
    status, err = error(client, "organization_show", id="330400-NOPE")
    assert status == 404 and err["__type"] == "Not Found Error"
    status, err = error(client, "organization_list", sort="colour asc")
    assert status == 409 and err["sort"]


def test_datastore_search_the_public_view(served: tuple[Hub, TestClient]) -> None:
    _, client = served
    page = result(client, "datastore_search", resource_id="GA-001")
    assert [f["id"] for f in page["fields"]] == PUBLIC_FIELDS
    assert [f["type"] for f in page["fields"]] == ["text", "date", "int8", "timestamp"]
    assert page["fields"][0]["info"]["label"] == "性别"
    assert page["total"] == 250 and page["limit"] == 100 and len(page["records"]) == 100
    assert [r["yue_shou_ru"] for r in page["records"]] == INCOMES[:100]
    assert page["records"][0]["chu_sheng_ri_qi"] == "1980-01-01"
    assert page["_links"]["start"].startswith("/api/3/action/datastore_search?")
    assert "offset=100" in page["_links"]["next"]
    assert not any(s in json.dumps(page, ensure_ascii=False) for s in SENSITIVE)
    # sensitive fields are as unknown as missing ones, wherever they are named
    for params in (
        {"filters": {"shen_fen_zheng_hao_ma": person_id(0)}},
        {"filters": {"nope": 1}},
        {"fields": ["xing_ming"]},
        {"sort": "shen_fen_zheng_hao_ma desc"},
        {"q": {"xing_ming": "张"}},
    ):
        status, err = error(client, "datastore_search", resource_id="GA-001", **params)
        (key,) = params
        assert status == 409 and err["__type"] == "Validation Error", err
        assert err[key] and "not in table" in err[key][0]
    for rid in ("SC-001", "NOPE-1"):
        status, err = error(client, "datastore_search", resource_id=rid)
        assert status == 404 and err["message"] == f"Not found: no resource '{rid}'"


def test_datastore_filters_q_fields_sort_total(served: tuple[Hub, TestClient]) -> None:
    _, client = served

    def search(**params: Any) -> dict[str, Any]:
        return dict(result(client, "datastore_search", resource_id="ga-001", **params))

    assert search(filters={"xing_bie": "男"})["total"] == 125
    two = search(filters={"yue_shou_ru": [1000, 1010, 9999]}, fields="yue_shou_ru,xing_bie")
    assert two["records"] == [
        {"yue_shou_ru": 1000, "xing_bie": "女"},
        {"yue_shou_ru": 1010, "xing_bie": "男"},
    ]
    assert [f["id"] for f in two["fields"]] == ["yue_shou_ru", "xing_bie"]
    assert search(filters={"性别": "女", "yue_shou_ru": 1000})["total"] == 1  # titles work too
    assert search(q="男")["total"] == 125 and search(q={"xing_bie": "女"})["total"] == 125
    assert search(q="男 女")["total"] == 0  # every term, in some text field
    top = search(sort="xing_bie desc, yue_shou_ru desc", limit=3, fields=["yue_shou_ru"])
    assert [r["yue_shou_ru"] for r in top["records"]] == [3490, 3470, 3450]
    assert top["sort"] == ["xing_bie desc", "yue_shou_ru desc"]
    quoted = search(sort=['"yue_shou_ru" desc'], limit=1)["records"][0]["yue_shou_ru"]
    assert quoted == 3490
    untotalled = search(include_total=False, limit=0)
    assert "total" not in untotalled and untotalled["records"] == []
    assert search(limit=40_000, offset=245)["limit"] == 32_000
    assert len(search(limit=40_000, offset=245)["records"]) == 5
    status, err = error(
        client, "datastore_search", resource_id="GA-001", filters={"yue_shou_ru": "many"}
    )
    assert status == 409 and "expected integer" in err["filters"][0]
    status, err = error(client, "datastore_search", resource_id="GA-001", sort="yue_shou_ru up")
    assert status == 409 and err["sort"]
    status, err = error(client, "datastore_search", resource_id="GA-001", limit=-1)
    assert status == 409 and err["limit"]
    # GET with JSON-valued parameters, as CKAN clients send them
    r = client.get(
        "/api/3/action/datastore_search",
        params={"resource_id": "GA-001", "filters": '{"xing_bie": "女"}', "limit": "2"},
    )
    assert r.json()["result"]["total"] == 125 and len(r.json()["result"]["records"]) == 2


def test_datastore_offset_paging_follows_links_over_every_row(
    served: tuple[Hub, TestClient],
) -> None:
    _, client = served
    seen: list[int] = []
    url = (
        "/api/3/action/datastore_search?"
        + "resource_id=GA-001&limit=60&filters="
        + ('{"xing_bie": "男"}')
    )
    while True:
        page = client.get(url).json()["result"]
        if not page["records"]:
            break
        seen += [r["yue_shou_ru"] for r in page["records"]]
        url = page["_links"]["next"]
    assert seen == [v for i, v in enumerate(INCOMES) if i % 2] and page["total"] == 125
    assert page["offset"] == 180 and "offset=120" in page["_links"]["prev"]
    # POSTed searches get links too, and sorted pages still cover every row once
    seen, offset = [], 0
    while True:
        page = result(
            client,
            "datastore_search",
            resource_id="GA-001",
            sort="xing_bie",
            limit=70,
            offset=offset,
        )
        seen += [r["yue_shou_ru"] for r in page["records"]]
        if not page["records"]:
            break
        offset += 70
    # 女 sorts before 男; within each, rows keep their place
    assert seen == INCOMES[0::2] + INCOMES[1::2]


def test_datastore_for_the_operator(served: tuple[Hub, TestClient]) -> None:
    _, client = served
    page = result(
        client,
        "datastore_search",
        True,
        resource_id="GA-001",
        filters={"shen_fen_zheng_hao_ma": person_id(3)},
    )
    assert page["total"] == 1 and page["records"][0]["yue_shou_ru"] == 1030
    assert result(client, "datastore_search", True, resource_id="SC-001")["total"] == 40
    status, body = call(client, "datastore_search", as_operator(), resource_id="SC-002")
    assert status == 404 and "no data yet" in body["error"]["message"]


def test_datastore_search_sql(served: tuple[Hub, TestClient]) -> None:
    _, client = served
    answer = result(
        client,
        "datastore_search_sql",
        sql='SELECT xing_bie, count(*) AS n FROM "GA-001" GROUP BY 1 ORDER BY 1',
    )
    assert answer["records"] == [{"xing_bie": "女", "n": 125}, {"xing_bie": "男", "n": 125}]
    assert answer["fields"] == [{"id": "xing_bie", "type": "text"}, {"id": "n", "type": "int8"}]
    assert "records_truncated" not in answer
    for sql, word in (
        ('SELECT shen_fen_zheng_hao_ma FROM "GA-001"', "shen_fen_zheng_hao_ma"),
        ('SELECT * FROM "SC-001"', 'unknown table "SC-001"'),
        ('DELETE FROM "GA-001"', "only"),
        ("SELECT 1; SELECT 2", "exactly one"),
    ):
        status, err = error(client, "datastore_search_sql", sql=sql)
        assert status == 409 and err["__type"] == "Validation Error" and word in err["sql"][0], err
    n = result(client, "datastore_search_sql", True, sql='SELECT count(*) AS n FROM "sc-001"')
    assert n["records"] == [{"n": 40}]


# -- a live server and the real ckanapi client ---------------------------------------------------


def test_ckanapi_against_a_live_server(live: str) -> None:
    with ckanapi.RemoteCKAN(live, apikey=TOKEN) as ckan, ckanapi.RemoteCKAN(live) as anon:
        assert ckan.action.status_show()["ckan_version"]
        assert ckan.action.package_list() == ["ga-001", "sc-001", "sc-002"]
        assert anon.action.package_list() == ["ga-001"]
        found = ckan.action.package_search(
            q="信息", rows=2, sort="name asc", **{"facet.field": ["organization", "tags"]}
        )
        assert found["count"] == 3 and [p["name"] for p in found["results"]] == ["ga-001", "sc-001"]
        assert found["facets"]["organization"] == {"330400-scjg": 2, "330400-ga": 1}
        assert ckan.action.package_show(id="sc-001")["organization"]["id"] == "330400-SCJG"
        orgs = ckan.action.organization_list(all_fields=True)
        assert {o["name"]: o["package_count"] for o in orgs} == {"330400-ga": 1, "330400-scjg": 2}
        assert ckan.action.organization_show(id="330400-ga")["title"] == "市公安局"
        assert ckan.action.resource_show(id="GA-001")["datastore_active"] is True

        seen: list[int] = []
        offset = 0
        while True:
            page = anon.action.datastore_search(resource_id="GA-001", limit=100, offset=offset)
            if not page["records"]:
                break
            assert not set(page["records"][0]) & set(SENSITIVE)
            seen += [r["yue_shou_ru"] for r in page["records"]]
            offset += len(page["records"])
        assert seen == INCOMES and page["total"] == 250

        sql = 'SELECT max(zhu_ce_zi_ben) AS top FROM "SC-001"'
        assert ckan.action.datastore_search_sql(sql=sql)["records"] == [{"top": 3900}]

        with pytest.raises(ckanapi.NotFound):
            anon.action.package_show(id="sc-001")
        with pytest.raises(ckanapi.NotFound):
            anon.action.package_show(id="nope")
        with pytest.raises(ckanapi.ValidationError) as invalid:
            anon.action.datastore_search(resource_id="GA-001", filters={"xing_ming": "张伟伟"})
        assert "filters" in invalid.value.error_dict
        with pytest.raises(ckanapi.SearchQueryError):
            anon.action.package_search(sort="popularity desc")
        with pytest.raises(ckanapi.ValidationError):
            anon.action.datastore_search(resource_id="GA-001", sort="nope desc")
    with ckanapi.RemoteCKAN(live, apikey="wrong") as wrong, pytest.raises(ckanapi.NotAuthorized):
        wrong.action.package_list()
    with ckanapi.RemoteCKAN(live, get_only=True) as getter:  # the same actions over GET
        assert getter.action.package_search(q="人口")["count"] == 1
        assert getter.action.datastore_search(resource_id="GA-001", limit=1)["total"] == 250
