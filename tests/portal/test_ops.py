"""The operator pages: the center's figures and latest syncs, a failed sync's rejected rows and
its re-run, users and tokens changed by an administrator, the audit log and its chain; who may
open them at all. Browser tests (Chromium) and a few plain HTTP ones."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from cityhub.catalog import service
from cityhub.catalog.models import SyncRun
from cityhub.errors import RejectRatioExceeded
from cityhub.ingest import SyncOptions, rollback_dataset, sync_file
from cityhub.portal.ops_audit import when
from cityhub.portal.ops_web import link, local
from tests.portal.conftest import Site, shot

HEADER = "编号,企业名称,罚款金额\n"
GOOD = "".join(f"JC{i:04d},嘉兴企业{i}有限公司,{i * 3}\n" for i in range(100))
# Three ragged rows of 103: above the default limit of 1 %, the sync fails. (Ragged, as a new
# dataset's types come from its data: a bad number would only make its field text.)
BAD = (
    HEADER + GOOD + "JC9001,坏数据企业,12,extra\n" + "JC9002,多一列,5,x\n" + "JC9003,又多一列,1,2\n"
)
# The second load of SC-S adds a field and rejects two rows, within its 5 % limit: one value
# does not fit the integer field of the first load, one row is ragged.
WIDER = (
    "编号,企业名称,罚款金额,检查日期\n"
    + "".join(
        f"JC{i:04d},嘉兴企业{i}有限公司,{i * 3},2024-05-{i % 28 + 1:02d}\n" for i in range(100)
    )
    + "JC9101,金额不对企业,待定,2024-05-01\n"
    + "JC9102,日期不对企业,7,2024-05-01,x\n"
)


@dataclass
class Runs:
    failed: int  # SC-F's failed run
    ok: int  # SC-S's second run: succeeded, a field added, two rows rejected


@pytest.fixture(scope="module")
def runs(site: Site) -> Runs:
    """Syncs for the pages to show, beside the small city's four good ones, and a dataset that
    is only cataloged."""
    hub = site.hub
    with hub.db.session() as s:
        service.upsert_dataset(s, "SC-F", "330400-SC", name="双随机抽查记录")
        service.upsert_dataset(s, "SC-S", "330400-SC", name="行政处罚决定")
        service.upsert_dataset(s, "SC-E", "330400-SC", name="信用承诺书")  # no data yet
    (site.folder / "checks.csv").write_text(BAD, encoding="utf-8")
    with pytest.raises(RejectRatioExceeded):
        sync_file(hub, "SC-F", site.folder / "checks.csv")
    (site.folder / "fines.csv").write_text(HEADER + GOOD, encoding="utf-8")
    sync_file(hub, "SC-S", site.folder / "fines.csv")
    (site.folder / "fines2.csv").write_text(WIDER, encoding="utf-8")
    ok = sync_file(hub, "SC-S", site.folder / "fines2.csv", SyncOptions(max_reject_ratio=0.05))
    assert ok.rows_rejected == 2
    with hub.db.session() as s:
        failed = s.scalars(sa.select(SyncRun.id).where(SyncRun.status == "failed")).one()
    return Runs(failed=failed, ok=ok.sync_id)


def log_in(page: Any, site: Site, who: str) -> None:
    """Log `who` in through the API: the session cookie lands in the page's browser context."""
    answer = page.request.post(
        site.base + "/api/v1/auth/login", data={"username": who, "password": site.password}
    )
    assert answer.ok, answer.text()


@pytest.fixture
def http(site: Site) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.base, follow_redirects=False) as client:
        yield client


def client_of(http: httpx.Client, site: Site, who: str) -> str:
    """Log `who` in on the plain client; returns the CSRF token forms must carry."""
    assert http.post(
        "/api/v1/auth/login", json={"username": who, "password": site.password}
    ).is_success
    http.get("/ops")  # hands out the CSRF cookie
    return str(http.cookies["cityhub_csrf"])


# -- in the browser -----------------------------------------------------------------------------
def test_operator_reads_a_failed_run_and_loads_it_again(page: Any, site: Site, runs: Runs) -> None:
    log_in(page, site, "op")
    page.goto("/ops")
    assert page.locator("h1").inner_text() == "运营"
    assert page.get_by_role("link", name="运营").first.get_attribute("aria-current") == "page"
    departments = page.locator("table.data").first.inner_text()
    assert "市市场监管局" in departments and "市公安局" in departments
    assert "信用承诺书" in page.locator("ul.waiting").inner_text()  # cataloged, no data
    latest = page.locator("table.runs tbody tr")
    failed_row = latest.filter(has=page.get_by_role("link", name=f"#{runs.failed}", exact=True))
    assert "失败" in failed_row.locator(".badge").inner_text()
    assert "双随机抽查记录" in failed_row.inner_text()
    shot(page, "ops")

    failed_row.get_by_role("link", name=f"#{runs.failed}", exact=True).click()
    page.wait_for_url(f"**/ops/syncs/{runs.failed}")
    assert "失败" in page.locator("h1 .badge").inner_text()
    assert "above the limit" in page.locator(".notice.error .message").inner_text()
    rejects = page.locator("table.rejects tbody tr")
    assert rejects.count() == 3
    first = rejects.first.locator("td").all_inner_texts()
    assert first[0] == "102"  # its line in the file (the header is line 1)
    assert first[2] == "too many columns: Expected Number of Columns: 3 Found: 4"
    assert first[3] == "JC9001,坏数据企业,12,extra"  # the raw line
    assert all("too many columns" in t for t in rejects.all_inner_texts())
    shot(page, "ops-sync")

    # Loaded again as it was, it fails again: a new failed run, shown at once.
    page.get_by_role("button", name="重新加载").click()
    page.wait_for_url(re.compile(rf"/ops/syncs/\d+\?rerun={runs.failed}$"))
    again = int(page.url.split("/ops/syncs/")[1].split("?")[0])
    assert again > runs.failed
    assert "仍然失败" in page.locator(".notice[role=status]").inner_text()
    assert "失败" in page.locator("h1 .badge").inner_text()
    assert page.locator("table.rejects tbody tr").count() == 3

    # With a higher limit the same file goes in.
    page.fill("#max_reject_ratio", "5")
    page.get_by_role("button", name="重新加载").click()
    page.wait_for_url(re.compile(rf"/ops/syncs/\d+\?rerun={again}$"))
    assert "本次同步成功" in page.locator(".notice[role=status]").inner_text()
    assert "成功" in page.locator("h1 .badge").inner_text()
    with site.hub.db.session() as s:
        ds = service.get_dataset(s, "SC-F")
        assert ds.row_count == 100
        newest = service.sync_runs(s, "SC-F", 1)[0]
        assert newest.operator == "op"  # who asked for it


def test_runs_filter_and_a_successful_run_with_a_schema_change(
    page: Any, site: Site, runs: Runs
) -> None:
    log_in(page, site, "op")
    page.goto("/ops/syncs")
    page.select_option("#f-dataset", "SC-S")
    page.get_by_role("button", name="显示").click()
    page.wait_for_url("**/ops/syncs?*dataset=SC-S*")
    rows = page.locator("table.runs tbody tr")
    assert rows.count() == 2
    assert all("行政处罚决定" in t for t in rows.all_inner_texts())
    page.get_by_role("link", name=f"#{runs.ok}", exact=True).click()
    assert "成功" in page.locator("h1 .badge").inner_text()
    assert "检查日期" in page.get_by_role("region", name="结构变更").inner_text()
    assert page.locator("table.rejects tbody tr").count() == 2
    assert "罚款金额: expected integer, found '待定'" in page.locator("table.rejects").inner_text()


def test_the_audit_log_lists_the_login_and_the_chain_is_intact(page: Any, site: Site) -> None:
    log_in(page, site, "op")
    page.goto("/ops/audit")
    page.fill("#a-actor", "op")
    page.fill("#a-action", "login")
    page.get_by_role("button", name="搜索").click()
    page.wait_for_url("**/ops/audit?*actor=op*")
    rows = page.locator("table.audit tbody tr")
    assert rows.count() >= 1
    first = rows.first.inner_text()
    assert "login" in first and "op" in first and "运维人员" in first
    page.get_by_role("button", name="校验哈希链").click()
    page.wait_for_url("**verify=1*")
    verdict = page.locator(".verdict").inner_text()
    assert re.search(r"完整：共 \d+ 条记录（sm3）", verdict), verdict
    assert "链头：第" in verdict
    assert page.locator("table.audit tbody tr").count() >= 1  # the search is kept
    shot(page, "ops-audit")


def test_admin_adds_a_user_deactivates_another_and_revokes_a_token(
    page: Any, site: Site, http: httpx.Client
) -> None:
    log_in(page, site, "admin")
    page.goto("/ops/users")
    page.fill("#new-username", "sc_analyst")
    page.fill("#new-display", "市场监管分析员")
    page.select_option("#new-department", "330400-SC")
    page.fill("#new-password", "a long enough password")
    page.get_by_role("button", name="添加", exact=True).click()
    page.wait_for_url("**/ops/users?done=added&user=sc_analyst")
    assert "已添加用户 sc_analyst" in page.locator(".notice.ok").inner_text()
    row = page.locator("#user-sc_analyst")
    assert "市市场监管局" in row.inner_text() and "部门用户" in row.inner_text()

    page.get_by_role("button", name="停用 · wj_member").click()
    page.wait_for_url("**done=deactivated*")
    assert "已停用" in page.locator("#user-wj_member").inner_text()
    shot(page, "ops-users")
    refused = http.post(
        "/api/v1/auth/login", json={"username": "wj_member", "password": site.password}
    )
    assert refused.status_code == 401
    new = http.post(
        "/api/v1/auth/login", json={"username": "sc_analyst", "password": "a long enough password"}
    )
    assert new.is_success

    page.goto("/ops/tokens?user=ga_member")
    page.get_by_role("button", name=re.compile("^吊销")).first.click()
    page.wait_for_url("**done=revoked*")
    assert "已吊销" in page.locator("table.tokens tbody tr").first.inner_text()
    gone = http.get("/api/v1/me", headers={"Authorization": f"Bearer {site.tokens['ga_member']}"})
    assert gone.status_code == 401


def test_the_overview_in_english(page: Any, site: Site, runs: Runs) -> None:
    log_in(page, site, "op")
    page.goto("/ops?lang=en")
    assert page.locator("h1").inner_text() == "Operations"
    assert page.get_by_role("heading", name="Latest sync runs").is_visible()
    assert "failed" in page.locator("table.runs").inner_text()
    assert page.get_by_role("link", name="Audit log").is_visible()
    shot(page, "ops-en")


def test_only_staff_may_look(page: Any, site: Site) -> None:
    anonymous = page.request.get(site.base + "/ops/syncs?status=failed", max_redirects=0)
    assert anonymous.status == 303
    assert anonymous.headers["location"] == "/login?next=/ops/syncs%3Fstatus%3Dfailed"
    log_in(page, site, "sc_member")
    refused = page.request.get(site.base + "/ops")
    assert refused.status == 403
    assert "这些页面仅供中心工作人员使用" in refused.text()
    assert page.request.get(site.base + "/ops/audit").status == 403


# -- plain HTTP ---------------------------------------------------------------------------------
def test_operators_look_but_only_admins_change(http: httpx.Client, site: Site) -> None:
    csrf = client_of(http, site, "op")
    users_page = http.get("/ops/users")
    assert users_page.status_code == 200
    assert "只有管理员可以修改用户" in users_page.text and 'name="password"' not in users_page.text
    tried = http.post("/ops/users/citizen/active", data={"csrf": csrf, "active": "0"})
    assert tried.status_code == 403
    tried = http.post("/ops/tokens/1/revoke", data={"csrf": csrf})
    assert tried.status_code == 403


def test_forms_need_their_csrf_token(http: httpx.Client, site: Site, runs: Runs) -> None:
    client_of(http, site, "admin")
    assert http.post(f"/ops/syncs/{runs.failed}/rerun", data={}).status_code == 403
    assert http.post("/ops/users", data={"username": "x", "csrf": "forged"}).status_code == 403


def test_refused_changes_say_why(http: httpx.Client, site: Site, runs: Runs) -> None:
    csrf = client_of(http, site, "admin")
    short = http.post(
        "/ops/users",
        data={"csrf": csrf, "username": "shorty", "department": "330400-SC", "password": "short"},
    )
    assert short.status_code == 400
    assert "at least 10 characters" in short.text
    assert 'value="shorty"' in short.text  # what was typed is kept, the password is not
    myself = http.post("/ops/users/admin/active", data={"csrf": csrf, "active": "0"})
    assert myself.status_code == 400 and "不能停用自己的账号" in myself.text
    ratio = http.post(
        f"/ops/syncs/{runs.failed}/rerun", data={"csrf": csrf, "max_reject_ratio": "120"}
    )
    assert ratio.status_code == 400
    assert http.post("/ops/syncs/999999/rerun", data={"csrf": csrf}).status_code == 404
    assert http.get("/ops/syncs/999999").status_code == 404
    dates = http.get("/ops/audit", params={"since": "yesterday"})
    assert dates.status_code == 400 and "YYYY-MM-DD" in dates.text


def test_reading_rejects_is_audited(http: httpx.Client, site: Site, runs: Runs) -> None:
    client_of(http, site, "op")
    assert http.get(f"/ops/syncs/{runs.ok}").status_code == 200
    found = http.get("/ops/audit", params={"action": "rejects.read", "dataset": "SC-S"})
    assert "rejects.read" in found.text and f"sync={runs.ok}" in found.text


def test_what_cannot_be_loaded_again_says_why(http: httpx.Client, site: Site) -> None:
    sync_file(site.hub, "GA-U", site.folder / "people.csv")  # version 1, to roll back from
    rollback_dataset(site.hub, "GA-U", 0)
    gone = site.folder / "gone.csv"
    gone.write_text(HEADER + GOOD, encoding="utf-8")
    with site.hub.db.session() as s:
        service.upsert_dataset(s, "SC-G", "330400-SC", name="临时数据")
    sync_file(site.hub, "SC-G", gone)
    gone.unlink()
    with site.hub.db.session() as s:
        rollback = service.sync_runs(s, "GA-U", 1)[0].id
        missing = service.sync_runs(s, "SC-G", 1)[0].id
    csrf = client_of(http, site, "op")
    for run, why in ((rollback, "回滚不是加载文件"), (missing, "数据源文件已不存在")):
        shown = http.get(f"/ops/syncs/{run}")
        assert why in shown.text and f"/ops/syncs/{run}/rerun" not in shown.text
        tried = http.post(f"/ops/syncs/{run}/rerun", data={"csrf": csrf})
        assert tried.status_code == 400 and why in tried.text


def test_dates_typed_in_the_audit_search_are_the_centers_days() -> None:
    since, until = when("2024-05-01"), when("2024-05-01", end=True)
    assert since is not None and until is not None
    assert since.isoformat() == "2024-05-01T00:00:00+08:00"
    assert until - since == dt.timedelta(days=1)  # the whole day is included
    assert when("") is None
    assert local(dt.datetime(2024, 4, 30, 16, 30)) == "2024-05-01 00:30:00"  # stored UTC
    assert link("/ops/syncs", status="failed", dataset="", page=1) == "/ops/syncs?status=failed"
