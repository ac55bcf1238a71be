"""A public visitor in the browser: the home page's figures, a search in Chinese, facets, the
language switch."""

from __future__ import annotations

from typing import Any

from tests.access.conftest import City
from tests.portal.conftest import Site, shot


def test_home_shows_the_figures_and_search_finds_in_chinese(page: Any, site: Site) -> None:
    page.goto("/")
    assert page.locator("h1").inner_text() == "嘉兴市大数据中心"
    figures = page.locator(".figures dd").all_inner_texts()
    assert len(figures) == 5 and figures[2] == "4"  # datasets the center holds
    shot(page, "home")
    page.fill("#q", "企业")
    page.press("#q", "Enter")
    page.wait_for_url("**/datasets?q=*")
    assert "共找到 1 个数据集" in page.locator(".total").inner_text()
    assert page.locator(".hits h2 a").all_inner_texts() == ["企业登记"]
    shot(page, "search")


def test_facets_narrow_and_the_language_switch_shows_english(page: Any, site: Site) -> None:
    page.goto("/datasets")
    assert "共找到 2 个数据集" in page.locator(".total").inner_text()  # the public's two
    page.get_by_role("link", name="无条件开放").click()
    assert page.locator(".hits h2 a").all_inner_texts() == ["户籍统计"]
    page.get_by_role("link", name="English").click()
    assert page.locator("h1").inner_text() == "Datasets"
    assert "1 datasets found" in page.locator(".total").inner_text()
    page.goto("/")
    assert page.locator("h1").inner_text() == "Jiaxing City Big Data Center"  # remembered
    shot(page, "home-en")


def test_home_ranks_the_most_used_datasets(city: City) -> None:
    """Without a browser: the ranking counts reads in the audit log, and lists only what the
    caller may know of."""
    for _ in range(3):
        assert city.client.get("/api/v1/datasets/GA-P/rows", headers=city.auth("ga_member"))
    city.client.get("/api/v1/datasets/GA-U/rows")
    mine = city.client.get("/", headers=city.auth("ga_member")).text
    most = mine.split('id="popular-title"')[1].split("</section>")[0]
    assert most.index("人口信息") < most.index("户籍统计") and "3 次读取" in most
    public = city.client.get("/").text.split('id="popular-title"')[1].split("</section>")[0]
    assert "人口信息" not in public and "户籍统计" in public  # GA-P is not open
