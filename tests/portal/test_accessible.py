"""Every main page, as each kind of user sees it, holds what screen readers and keyboards need:
a language, one h1, headings in order, a label for every form control, a caption or header row
for every table, no inline script, and every POST form a CSRF field."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from tests.access.conftest import City

PAGES = {
    "anonymous": ["/", "/datasets?q=人口", "/departments", "/departments/330400-GA",
                  "/datasets/GA-U", "/login", "/signup"],
    "sc_member": ["/datasets/GA-P", "/datasets/GA-P/request", "/me/requests", "/me/keys"],
    "ga_steward": ["/steward/inbox", "/steward/datasets/GA-P/edit"],
    "admin": ["/ops", "/ops/syncs", "/ops/users", "/ops/audit", "/ops/tokens?user=sc_member"],
}  # fmt: skip
CELLS = [(who, path) for who, paths in PAGES.items() for path in paths]


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang: str | None = None
        self.headings: list[int] = []
        self.labels: set[str] = set()
        self.controls: list[dict[str, str | None]] = []
        self.in_label = 0
        self.tables = 0
        self.described_tables = 0
        self.inline_scripts = 0
        self.posts: list[bool] = []  # per POST form: has it a CSRF field
        self._form_is_post = False
        self._table_open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag in ("h1", "h2", "h3", "h4"):
            self.headings.append(int(tag[1]))
        elif tag == "label":
            self.in_label += 1
            if a.get("for"):
                self.labels.add(str(a["for"]))
        elif tag in ("input", "select", "textarea"):
            kind = a.get("type") or "text"
            if tag == "input" and kind == "hidden":
                if a.get("name") == "csrf" and self._form_is_post:
                    self.posts[-1] = True
                return
            if kind not in ("submit", "button", "reset"):
                self.controls.append({**a, "wrapped": "yes" if self.in_label else None})
        elif tag == "table":
            self.tables += 1
            self._table_open = True
        elif tag in ("caption", "thead") and self._table_open:
            self.described_tables += 1
            self._table_open = False
        elif tag == "script" and not a.get("src") and a.get("type") != "application/json":
            self.inline_scripts += 1
        elif tag == "form":
            self._form_is_post = (a.get("method") or "get").lower() == "post"
            if self._form_is_post:
                self.posts.append(False)
        for name, _ in attrs:
            if name.startswith("on"):
                self.inline_scripts += 1  # an inline event handler

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.in_label -= 1
        elif tag == "form":
            self._form_is_post = False


@pytest.mark.parametrize(("who", "path"), CELLS, ids=[f"{w}:{p}" for w, p in CELLS])
def test_pages_are_accessible(city: City, who: str, path: str) -> None:
    r = city.client.get(path, headers=city.auth(who))
    assert r.status_code == 200, (who, path, r.status_code)
    page = Page()
    page.feed(r.text)
    assert page.lang in ("zh-CN", "en")
    assert page.headings.count(1) == 1, page.headings
    for before, after in zip(page.headings, page.headings[1:], strict=False):
        assert after <= before + 1, (path, page.headings)  # no level skipped
    for control in page.controls:
        named = (
            control.get("wrapped")
            or control.get("aria-label")
            or control.get("aria-labelledby")
            or (control.get("id") and control["id"] in page.labels)
        )
        assert named, (path, control)
    assert page.described_tables == page.tables, path
    assert page.inline_scripts == 0, path
    assert all(page.posts), (path, page.posts)
    assert "content-security-policy" in r.headers
