"""A public visitor in the browser: the home page's figures, a search in Chinese, facets, the
language switch."""

from __future__ import annotations

from typing import Any

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
