"""The dataset page (/datasets/{code}) in the browser and over plain HTTP: the record, the
dictionary with how the caller reads each field, a masked preview, a chart drawn by Plotly, a
map of coordinates, downloads, the request offer, usage figures, older versions, English."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from cityhub.api import create_app
from cityhub.catalog import service
from cityhub.hub import Hub
from cityhub.ingest import sync_file
from cityhub.ingest.geojson import encode_geometry
from cityhub.portal.dataset_data import embed
from cityhub.portal.dataset_geo import point_of
from tests.access.conftest import ROWS, build_city, make_users, person_id
from tests.portal.conftest import Site, shot

MASKED_ID = re.compile(r"^330402\*{8}\d{3}[\dX]$")
PLACES = "WJ-M"  # a dataset with coordinates, added by the `places` fixture
PHONE = {"width": 390, "height": 844}


def places_csv(rows: int) -> str:
    lines = ["名称,类别,成立日期,经度,纬度"]
    for i in range(rows):
        lines.append(
            f"嘉兴第{i}卫生服务站,{'社区' if i % 2 else '医院'},20{20 + i % 4}-{1 + i % 12:02d}-15,"
            f"{120.70 + i * 0.004:.5f},{30.70 + (i % 9) * 0.01:.5f}"
        )
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def places(site: Site) -> str:
    """Health stations with 经度/纬度, open to all, loaded twice: versions 0 (30 rows) and 1
    (40 rows)."""
    with site.hub.db.session() as s:
        service.upsert_dataset(
            s,
            PLACES,
            "330400-WJ",
            name="基层医疗机构分布",
            share_type="无条件共享",
            open_type="无条件开放",
        )
    for rows, name in ((30, "places-0.csv"), (40, "places-1.csv")):
        path = site.folder / name
        path.write_text(places_csv(rows), encoding="utf-8")
        sync_file(site.hub, PLACES, path)
    return PLACES


def login(page: Any, site: Site, name: str) -> None:
    """Log the browser in as `name`: the API's login sets the session cookie in its context."""
    answer = page.request.post(
        site.base + "/api/v1/auth/login", data={"username": name, "password": site.password}
    )
    assert answer.ok, answer.text()


def access_of(page: Any, title: str) -> str:
    row = page.locator("#dictionary tbody tr", has=page.locator("th", has_text=title))
    return str(row.locator(".badge").inner_text())


def usage(page: Any) -> tuple[int, int, int]:
    views, downloads, api = (
        int(page.locator(f"#usage-{k}").inner_text().replace(",", ""))
        for k in ("views", "downloads", "api")
    )
    return views, downloads, api


# -- in the browser ---------------------------------------------------------------------------
def test_public_visitor_reads_masked_rows_draws_a_chart_and_downloads(
    page: Any, site: Site, tmp_path: Path
) -> None:
    page.goto("/datasets")
    page.get_by_role("link", name="户籍统计").click()
    page.wait_for_url("**/datasets/GA-U")
    assert page.locator("h1").inner_text() == "户籍统计"
    assert "无条件开放" in page.locator("#record").inner_text()
    assert access_of(page, "身份证号码") == "脱敏"
    assert access_of(page, "姓名") == "脱敏"
    assert access_of(page, "区县") == "明文"
    assert page.locator("#dictionary tbody tr", has_text="病史").count() == 0  # L4: withheld

    heads = page.locator("#preview thead th").all_inner_texts()
    assert heads == ["身份证号码", "姓名", "区县", "月收入"]
    ids = page.locator("#preview tbody tr td:nth-child(1)").all_inner_texts()
    assert len(ids) == 20 and all(MASKED_ID.match(v) for v in ids), ids
    names = page.locator("#preview tbody tr td:nth-child(2)").all_inner_texts()
    assert all(re.fullmatch(r"[\u4e00-\u9fff]\*", v) for v in names), names

    page.select_option("#chart-by", label="区县")
    page.select_option("#chart-metric", value="count")
    page.get_by_role("button", name="生成图表").click()
    page.wait_for_selector("#chart .main-svg")
    assert page.locator("#chart .main-svg .bars path").count() == 5
    cells = page.locator("#chart-table tbody td").all_inner_texts()
    assert cells == ["40"] * 5  # 200 people over five districts

    with page.expect_download() as info:
        page.get_by_role("link", name="CSV", exact=True).click()
    saved = tmp_path / "ga-u.csv"
    info.value.save_as(saved)
    text = saved.read_text(encoding="utf-8")
    lines = list(csv.reader(text.splitlines()))
    assert lines[0] == ["shen_fen_zheng_hao_ma", "xing_ming", "qu_xian", "yue_shou_ru"]
    assert len(lines) == ROWS + 1
    assert all(MASKED_ID.match(line[0]) for line in lines[1:])
    assert not any(person_id(i) in text for i in range(ROWS))  # no raw ID number
    shot(page, "dataset")


def test_department_member_is_offered_to_request_access(page: Any, site: Site) -> None:
    login(page, site, "sc_member")
    page.goto("/datasets/GA-P")
    assert page.locator("h1").inner_text() == "人口信息"
    assert page.locator("#preview").count() == 0
    assert "有条件共享" in page.locator("#refusal").inner_text()
    offer = page.locator("#request-access")
    assert offer.inner_text() == "申请使用"
    assert offer.get_attribute("href") == "/datasets/GA-P/request"
    # a department sees every field's description, none of them readable
    assert access_of(page, "病史") == "不可读"
    assert access_of(page, "身份证号码") == "不可读"
    assert page.locator("#downloads").count() == 0
    assert page.locator("#quick-chart").count() == 0
    shot(page, "dataset-refused")


def test_an_anonymous_visitor_gets_the_404_page_for_a_dataset_not_open(
    page: Any, site: Site
) -> None:
    # Fetched by the browser's own context (no cookies), not opened: Chromium logs every 404
    # document as a console error, which the `page` fixture counts as a failure.
    answer = page.request.get(site.base + "/datasets/GA-P", headers={"Accept-Language": "zh-CN"})
    assert answer.status == 404
    assert "text/html" in answer.headers["content-type"]
    page.set_content(answer.text())
    assert page.locator("h1").inner_text() == "未找到"
    assert "人口信息" not in answer.text()  # not even its name
    unknown = page.request.get(site.base + "/datasets/NO-SUCH")
    assert unknown.status == 404 and unknown.text().count("<h1>") == 1


def test_coordinates_are_detected_and_drawn_on_a_map(page: Any, site: Site, places: str) -> None:
    with site.hub.db.session() as s:
        fields = {f.title: f for f in service.get_dataset(s, places).fields}
    assert (fields["经度"].semantic_type, fields["经度"].grade) == ("longitude", "L2")
    assert (fields["纬度"].semantic_type, fields["纬度"].grade) == ("latitude", "L2")

    page.goto(f"/datasets/{places}")
    assert access_of(page, "经度") == "明文"
    page.wait_for_selector("#map .main-svg")
    assert page.locator("#map .main-svg .points path").count() == 40
    assert "40" in page.locator("#map-section .hint").inner_text()
    shot(page, "dataset-map")


def test_a_chart_over_months_is_drawn_as_a_line(page: Any, site: Site, places: str) -> None:
    page.goto(f"/datasets/{places}")
    page.select_option("#chart-by", value="cheng_li_ri_qi:month")
    page.get_by_role("button", name="生成图表").click()
    page.wait_for_selector("#chart .main-svg .scatterlayer path.js-line")
    assert page.locator("#chart-table tbody tr").count() == 12


def test_the_page_works_without_javascript_and_on_a_phone(
    browser: Any, page: Any, site: Site
) -> None:
    context = browser.new_context(
        java_script_enabled=False, locale="zh-CN", base_url=site.base, viewport=PHONE
    )
    try:
        quiet = context.new_page()
        quiet.goto("/datasets/GA-U")
        assert quiet.locator("#preview tbody tr").count() == 20
        quiet.select_option("#chart-by", label="区县")
        quiet.get_by_role("button", name="生成图表").click()
        quiet.wait_for_url("**/datasets/GA-U?by=qu_xian&metric=count#quick-chart")
        assert quiet.locator("#chart-table tbody tr").count() == 5  # the figures, undrawn
        assert quiet.locator("#chart .main-svg").count() == 0
    finally:
        context.close()
    page.set_viewport_size(PHONE)
    page.goto("/datasets/GA-U?by=qu_xian&metric=count")
    page.wait_for_selector("#chart .main-svg")
    # wide tables and code scroll inside their boxes; the page itself does not
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "dataset-phone")


def test_usage_counts_views_and_downloads(page: Any, site: Site) -> None:
    page.goto("/datasets/GA-U")
    views, downloads, api = usage(page)
    assert views >= 1
    assert page.request.get(site.base + "/api/v1/datasets/GA-U/export.csv").ok
    assert page.request.get(site.base + "/api/v1/datasets/GA-U/rows?limit=1").ok
    page.reload()
    assert usage(page) == (views + 1, downloads + 1, api + 1)


def test_the_page_in_english(page: Any, site: Site) -> None:
    page.goto("/datasets/GA-U?lang=en")
    headings = page.locator("main h2").all_inner_texts()
    assert headings[:3] == ["Catalog record", "Data dictionary", "Preview"]
    assert access_of(page, "身份证号码") == "Masked"
    assert "Open to all" in page.locator("#record").inner_text()
    assert page.get_by_role("link", name="CSV for Excel").get_attribute("href") == (
        "/api/v1/datasets/GA-U/export.csv?bom=true"
    )
    shot(page, "dataset-en")


# -- over plain HTTP --------------------------------------------------------------------------
class Tags(HTMLParser):
    """The script tags of a page and any inline event handler attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts.append(dict(attrs))
        self.handlers += [name for name, _ in attrs if name.startswith("on")]


def get(site: Site, path: str, who: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {site.tokens[who]}"} if who else {}
    return httpx.get(site.base + path, headers=headers)


def test_no_inline_script_runs_and_the_csp_is_sent(site: Site, places: str) -> None:
    answer = get(site, f"/datasets/{places}?by=lei_bie&metric=count")
    assert answer.status_code == 200
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    tags = Tags()
    tags.feed(answer.text)
    assert not tags.handlers
    sources = [s["src"] for s in tags.scripts if s.get("src")]
    assert sources == ["/assets/plotly.min.js", "/static/plots.js"]
    data = [s for s in tags.scripts if not s.get("src")]
    assert [s.get("type") for s in data] == ["application/json", "application/json"]
    assert [s.get("id") for s in data] == ["chart-data", "map-data"]
    # a page with nothing to draw loads no Plotly
    assert "plotly" not in get(site, "/datasets/SC-C").text


def test_an_older_version_is_previewed_under_todays_rules(site: Site, places: str) -> None:
    current = get(site, f"/datasets/{places}")
    assert 'href="/datasets/WJ-M?version=0#rows"' in current.text
    assert current.text.count("<tr><td>嘉兴第") == 20
    older = get(site, f"/datasets/{places}?version=0")
    assert 'id="older-version"' in older.text
    assert "第 0 版的前 20 条记录" in older.text
    assert "/api/v1/datasets/WJ-M/export.csv?version=0" in older.text
    missing = get(site, f"/datasets/{places}?version=9")
    assert missing.status_code == 200 and "该数据集没有第 9 版" in missing.text


def test_refusals_say_how_to_ask(site: Site) -> None:
    anonymous = get(site, "/datasets/SC-C")
    assert "登录后申请使用" in anonymous.text
    assert 'href="/login?next=/datasets/SC-C/request"' in anonymous.text
    citizen = get(site, "/datasets/SC-C", "citizen")
    assert 'href="/datasets/SC-C/request"' in citizen.text and "有条件开放" in citizen.text
    other = get(site, "/datasets/SC-N", "ga_member")  # 不予共享: nothing to ask for
    assert "《行政处罚法》第四十八条" in other.text
    assert 'id="request-access"' not in other.text and 'id="preview"' not in other.text
    own = get(site, "/datasets/SC-N", "sc_member")
    assert 'id="preview"' in own.text and "张伟" in own.text  # own department: in clear


def test_dates_chart_by_month_as_a_line(site: Site, places: str) -> None:
    answer = get(site, f"/datasets/{places}?by=cheng_li_ri_qi:month&metric=count")
    assert '<option value="cheng_li_ri_qi:month" selected>成立日期（按月）</option>' in answer.text
    found = re.search(
        r'<script type="application/json" id="chart-data">(.*?)</script>', answer.text
    )
    assert found is not None
    chart = json.loads(found.group(1))
    assert chart["kind"] == "line"
    # the 40 stations opened in 12 distinct months between 2020 and 2023, in order of time
    assert chart["x"] == sorted(chart["x"]) and len(chart["x"]) == 12
    assert chart["x"][0] == "2020-01-01"
    assert sum(chart["y"]) == 40
    assert '<th scope="row">2020-01</th>' in answer.text


def test_a_department_reading_masked_fields_may_ask_for_more(site: Site) -> None:
    shared = get(site, "/datasets/GA-U", "sc_member")  # 无条件共享: L3 masked
    assert "需要更多字段或明文" in shared.text
    own = get(site, "/datasets/GA-U", "ga_member")
    assert "需要更多字段或明文" not in own.text and "这是本部门的数据集" in own.text
    assert "需要更多字段或明文" not in get(site, "/datasets/GA-U", "citizen").text


def test_a_grant_shows_its_fields_pseudonymised_and_its_rows_only(site: Site) -> None:
    asked = httpx.post(
        site.base + "/api/v1/requests",
        json={
            "dataset": "GA-P",
            "purpose": "基层卫生服务对象核验",
            "fields": ["身份证号码", "区县", "月收入"],
            "row_filter": [{"field": "区县", "op": "eq", "value": "南湖区"}],
            "days": 30,
        },
        headers={"Authorization": f"Bearer {site.tokens['wj_member']}"},
    )
    assert asked.status_code == 201, asked.text
    approved = httpx.post(
        f"{site.base}/api/v1/requests/{asked.json()['id']}/approve",
        json={
            "fields": {
                "shen_fen_zheng_hao_ma": "pseudonym",
                "qu_xian": "clear",
                "yue_shou_ru": "clear",
            }
        },
        headers={"Authorization": f"Bearer {site.tokens['ga_steward']}"},
    )
    assert approved.status_code == 200, approved.text
    answer = get(site, "/datasets/GA-P", "wj_member")
    badges = dict(re.findall(r'<tr data-field="(\w+)">.*?data-access="(\w+)"', answer.text, re.S))
    assert badges == {
        "shen_fen_zheng_hao_ma": "pseudonym",
        "xing_ming": "none",
        "qu_xian": "clear",
        "yue_shou_ru": "clear",
        "bing_shi": "none",
    }
    assert "假名化" in answer.text and f"授权 {approved.json()['id']}" in answer.text
    head = re.search(r'<table class="data" id="preview">.*?<thead>(.*?)</thead>', answer.text, re.S)
    assert head is not None
    assert re.findall(r">([^<>]+)</th>", head.group(1)) == ["身份证号码", "区县", "月收入"]
    body = answer.text.split('id="preview"')[1].split("</tbody>")[0]
    assert body.count("<td>南湖区</td>") == 20 and "秀洲区" not in body  # the grant's rows
    assert not any(person_id(i) in answer.text for i in range(ROWS))


def test_a_chart_choice_not_offered_is_explained(site: Site) -> None:
    answer = get(site, "/datasets/GA-U?by=bing_shi&metric=count")  # L4: not readable
    assert answer.status_code == 200
    assert "请从列表中选择分组字段和统计指标" in answer.text
    average = get(site, "/datasets/GA-U?by=qu_xian&metric=avg:yue_shou_ru&lang=en")
    assert "Average of 月收入 by 区县" in average.text


def test_api_examples_never_print_a_token(site: Site) -> None:
    answer = get(site, "/datasets/GA-U", "ga_member")
    assert site.tokens["ga_member"] not in answer.text
    assert "Bearer &lt;您的密钥&gt;" in answer.text
    assert "RemoteCKAN(" in answer.text and "resource_id=&#39;GA-U&#39;" in answer.text
    assert f"curl -G {site.base}/api/v1/datasets/GA-U/rows" in answer.text


@pytest.fixture
def town(hub: Hub, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The small city on SQLite and on PostgreSQL (the usage figures are one SQL query with a
    JSON path, which each database spells its own way)."""
    build_city(hub, tmp_path)
    tokens = make_users(hub)
    with TestClient(create_app(hub)) as client:
        yield client, tokens


def test_usage_figures_on_each_database(town: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = town
    auth = {"Authorization": f"Bearer {tokens['ga_member']}"}
    for path in ("rows?limit=5", "aggregate?group_by=qu_xian", "export.csv", "export.json"):
        assert client.get(f"/api/v1/datasets/GA-P/{path}", headers=auth).status_code == 200
    ckan = client.get("/api/3/action/datastore_search?resource_id=GA-P&limit=3", headers=auth)
    assert ckan.status_code == 200, ckan.text
    client.get("/datasets/GA-P", headers=auth)
    page = client.get("/datasets/GA-P?by=qu_xian&metric=count", headers=auth).text
    found = {k: int(v) for k, v in re.findall(r'<dd id="usage-(\w+)">([\d,]+)</dd>', page)}
    # rows, aggregate and CKAN are API calls; two page views (the second one's chart is part
    # of it, not a view or a call of its own)
    assert found == {"views": 2, "downloads": 2, "api": 3}


# -- helpers ----------------------------------------------------------------------------------
def test_embedded_json_cannot_close_its_script_element() -> None:
    text = str(embed({"name": "</script><script>alert(1)</script>", "n": 1}))
    assert "<" not in text and ">" not in text
    assert '"n":1' in text


def test_points_of_geometries() -> None:
    point = {"type": "Point", "coordinates": [120.75, 30.75]}
    ring = [[120, 30], [121, 30], [121, 31], [120, 31], [120, 30]]
    square = {"type": "Polygon", "coordinates": [ring]}
    assert point_of(encode_geometry(point)) == (120.75, 30.75)
    assert point_of(encode_geometry(point, wkb=True)) == (120.75, 30.75)
    assert point_of(encode_geometry(square, wkb=True)) == (120.5, 30.5)
    lines = {"type": "MultiLineString", "coordinates": [[[120, 30, 5], [122, 32, 5]]]}
    assert point_of(encode_geometry(lines)) == (121, 31)
    assert point_of(encode_geometry(lines, wkb=True)) == (121, 31)
    assert point_of("POINT EMPTY") is None and point_of(b"\x01") is None
