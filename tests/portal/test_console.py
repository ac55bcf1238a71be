"""The console in the browser and over plain HTTP: signing up and API keys, logging in and out,
requesting a dataset, the steward's inbox, approval (narrowed, pseudonymised), refusal and the
catalog edit, CSRF, who may open the steward pages, English.

The browser tests share one site (module scope) and each uses users or datasets of its own, so
they do not depend on each other's order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from cityhub.access import sharing
from cityhub.access.models import AccessRequest, ApiToken, AuditRecord, Grant, User
from cityhub.catalog import service
from cityhub.catalog.models import Dataset
from cityhub.portal.console_base import same_site
from tests.access.conftest import PASSWORD, City
from tests.portal.conftest import Site, shot

# A page answered 4xx on purpose (a refused form, the 403 page) makes Chromium log "Failed to
# load resource"; only those pages' own statuses are expected, anything else still fails.
EXPECTED_STATUS = re.compile(
    r"^Failed to load resource: the server responded with a status of 40[0-3]"
)
NewPage = Callable[[], Any]


@pytest.fixture
def browse(browser: Any, site: Site) -> Iterator[NewPage]:
    """Pages in fresh browser contexts (one person each), in Chinese; script errors and CSP
    violations fail the test as with `page`, 4xx answers of the pages themselves do not."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_page() -> Any:
        context = browser.new_context(locale="zh-CN", base_url=site.base)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: (
                errors.append(msg.text)
                if msg.type == "error" and not EXPECTED_STATUS.match(msg.text)
                else None
            ),
        )
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, errors


def log_in(page: Any, username: str, password: str) -> None:
    """Log in with the form on the page the browser is on (the login page)."""
    page.get_by_label("用户名或电子邮箱").fill(username)
    page.get_by_label("密码", exact=True).fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="登录").click()


def go_log_in(page: Any, site: Site, username: str) -> None:
    page.goto("/login")
    log_in(page, username, site.password)
    assert page.locator(".account .who").inner_text() == username


def request_id(page: Any) -> int:
    found = re.search(r"submitted=(\d+)", page.url)
    assert found, page.url
    return int(found.group(1))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def field_names(site: Site, code: str) -> dict[str, str]:
    """Title -> machine name of a dataset's fields."""
    with site.hub.db.session() as s:
        return {f.title: f.name for f in service.get_dataset(s, code).fields}


def actions(hub: Any, actor: str) -> list[str]:
    with hub.db.session() as s:
        return list(
            s.scalars(
                sa.select(AuditRecord.action)
                .where(AuditRecord.actor == actor)
                .order_by(AuditRecord.seq)
            )
        )


# -- in the browser --------------------------------------------------------------------------------


def test_contest_participant_signs_up_and_uses_keys(page: Any, site: Site) -> None:
    email, password = "player1@example.com", "contest password 2026"
    page.goto("/signup")
    page.get_by_label("电子邮箱").fill(email)
    page.get_by_label("显示名称（可选）").fill("参赛者小王")
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_label("再次输入密码").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="注册").click()
    assert "/me/keys" in page.url
    assert "欢迎，参赛者小王" in page.locator("main").inner_text()
    first = page.locator("#new-token").input_value()
    assert first.startswith("chk_")
    me = httpx.get(f"{site.base}/api/v1/me", headers=bearer(first))
    assert me.status_code == 200 and me.json()["name"] == email

    page.reload()  # shown once: gone on the next view
    assert page.locator("#new-token").count() == 0
    assert page.locator("#keys tbody tr").count() == 1

    # only the permissions a member of the public may hold are offered
    offered = page.locator("input[name=scopes]").evaluate_all("els => els.map(e => e.value)")
    assert offered == ["read", "request"]
    page.get_by_label("名称").fill("大赛作品")
    page.get_by_label("有效期（天）").fill("30")
    with page.expect_navigation():
        page.get_by_role("button", name="生成密钥").click()
    second = page.locator("#new-token").input_value()
    assert second.startswith("chk_") and second != first
    assert f"Bearer {second}" in page.locator("#curl-example").inner_text()
    shot(page, "keys")

    me = httpx.get(f"{site.base}/api/v1/me", headers=bearer(second))
    assert me.status_code == 200 and me.json()["name"] == email
    rows = httpx.get(f"{site.base}/api/v1/datasets/GA-U/rows", headers=bearer(second))
    assert rows.status_code == 200 and rows.json()["rows"]

    row = page.locator("#keys tbody tr", has_text="大赛作品")
    assert "有效" in row.inner_text()
    with page.expect_navigation():
        row.get_by_role("button", name="吊销密钥 大赛作品").click()
    assert "已吊销" in page.locator("#keys tbody tr", has_text="大赛作品").inner_text()
    assert httpx.get(f"{site.base}/api/v1/me", headers=bearer(second)).status_code == 401
    assert httpx.get(f"{site.base}/api/v1/me", headers=bearer(first)).status_code == 200
    assert {"user.register", "login", "token.create", "token.revoke"} <= set(
        actions(site.hub, email)
    )


def test_request_approved_narrowed_then_read_as_granted(
    page: Any, browse: NewPage, site: Site
) -> None:
    names = field_names(site, "GA-P")
    # the requester: the request form asks for a login first, and comes back to it
    page.goto("/datasets/GA-P/request")
    assert "/login?next=" in page.url
    log_in(page, "sc_member", site.password)
    assert page.url.endswith("/datasets/GA-P/request")
    page.get_by_label("用途").fill("核验企业法定代表人身份")
    for title in ("身份证号码", "姓名", "区县", "月收入"):
        page.get_by_role("checkbox", name=title).check()
    page.get_by_label("使用期限（天）").fill("180")
    shot(page, "request")
    with page.expect_navigation():
        page.get_by_role("button", name="提交申请").click()
    rid = request_id(page)
    mine = page.locator(f"#my-requests #request-{rid}")
    assert "待审批" in mine.inner_text()
    with site.hub.db.session() as s:
        asked = s.get(AccessRequest, rid)
        assert asked is not None
        assert asked.fields == [names[t] for t in ("身份证号码", "姓名", "区县", "月收入")]
        left = sharing.working_days_left(s, asked)

    # the GA steward, in a browser of their own: the inbox with the countdown
    steward = browse()
    go_log_in(steward, site, "ga_steward")
    steward.get_by_role("link", name="审批", exact=True).first.click()
    steward.wait_for_url("**/steward/inbox")
    row = steward.locator(f"#inbox #request-{rid}")
    assert f"剩余 {left} 个工作日" in row.locator(".countdown").inner_text()
    assert "核验企业法定代表人身份" in row.inner_text()
    assert "身份证号码、姓名、区县、月收入" in row.inner_text()
    states = steward.locator("#inbox tbody tr .badge").all_inner_texts()
    assert states == sorted(states, key=lambda state: state != "待审批")  # pending first
    shot(steward, "inbox")
    with steward.expect_navigation():
        row.get_by_role("link", name=re.compile("审批")).click()
    assert steward.get_by_role("checkbox", name="病史").count() == 0  # not asked for
    steward.get_by_role("checkbox", name="姓名").uncheck()
    id_treatment = steward.get_by_label("身份证号码 的处理方式")
    assert id_treatment.input_value() == "mask"  # L3: masked unless the steward says otherwise
    id_treatment.select_option("pseudonym")
    with steward.expect_navigation():
        steward.get_by_role("button", name="批准").click()
    assert "申请已批准" in steward.locator(".notice.ok").inner_text()
    with site.hub.db.session() as s:
        grant = s.scalar(sa.select(Grant).where(Grant.request_id == rid))
        assert grant is not None
        assert grant.fields == {
            names["身份证号码"]: "pseudonym",
            names["区县"]: "clear",
            names["月收入"]: "clear",
        }

    # the requester sees exactly the fields granted, with their treatment
    page.goto("/me/requests")
    assert "已批准" in page.locator(f"#request-{rid}").inner_text()
    granted = page.locator(f"#grant-{grant.id} li")
    shown = {
        li.get_attribute("data-field"): li.get_attribute("data-treatment") for li in granted.all()
    }
    assert shown == {"身份证号码": "pseudonym", "区县": "clear", "月收入": "clear"}
    assert "假名化" in page.locator(f"#grant-{grant.id}").inner_text()
    shot(page, "my-requests")
    with page.expect_navigation():
        page.locator(f"#grant-{grant.id}").get_by_role("link", name="人口信息").click()
    assert page.url.endswith("/datasets/GA-P")
    heads = page.locator("#preview thead th").all_inner_texts()
    assert sorted(h.strip() for h in heads) == sorted(["身份证号码", "区县", "月收入"])


def test_refusal_and_workflow_refusals_show(browse: NewPage, site: Site) -> None:
    requester = browse()
    go_log_in(requester, site, "wj_member")
    # the workflow's refusals are shown on the form, in Chinese, with what was typed
    requester.goto("/datasets/SC-N/request")
    assert "不予共享" in requester.locator(".notice").first.inner_text()
    requester.get_by_label("用途").fill("执法协查")
    with requester.expect_navigation():
        requester.get_by_role("button", name="提交申请").click()
    error = requester.locator(".notice.error").inner_text()
    assert "SC-N 不予共享" in error and "《行政处罚法》第四十八条" in error
    assert requester.get_by_label("用途").input_value() == "执法协查"

    requester.goto("/datasets/GA-P/request")
    requester.get_by_label("用途").fill("用途待定")
    with requester.expect_navigation():
        requester.get_by_role("button", name="提交申请").click()
    rid = request_id(requester)

    steward = browse()
    go_log_in(steward, site, "ga_steward")
    steward.goto(f"/steward/requests/{rid}")
    steward.get_by_label("理由（申请人可见）").fill("用途不明确，请说明具体业务")
    with steward.expect_navigation():
        steward.get_by_role("button", name="拒绝").click()
    assert "申请已拒绝" in steward.locator(".notice.ok").inner_text()

    requester.goto("/me/requests")
    row = requester.locator(f"#request-{rid}")
    assert "已拒绝" in row.inner_text()
    assert row.locator(".reason").inner_text() == "用途不明确，请说明具体业务"


def test_own_department_and_terms_are_said_on_the_form(browse: NewPage, site: Site) -> None:
    member = browse()
    go_log_in(member, site, "ga_member")
    member.goto("/datasets/GA-P/request")
    member.get_by_label("用途").fill("本部门使用")
    with member.expect_navigation():
        member.get_by_role("button", name="提交申请").click()
    assert "GA-P 是本部门的数据集" in member.locator(".notice.error").inner_text()

    citizen = browse()
    go_log_in(citizen, site, "citizen")
    citizen.goto("/datasets/SC-C/request")
    assert "仅用于数据开放大赛，不得再分发" in citizen.locator(".terms").inner_text()
    citizen.get_by_label("用途").fill("参加数据开放大赛")
    with citizen.expect_navigation():
        citizen.get_by_role("button", name="提交申请").click()
    assert "申请 SC-C 须先接受使用条款" in citizen.locator(".notice.error").inner_text()
    citizen.get_by_label("我接受以上条款").check()
    with citizen.expect_navigation():
        citizen.get_by_role("button", name="提交申请").click()
    rid = request_id(citizen)
    assert "待审批" in citizen.locator(f"#request-{rid}").inner_text()
    with citizen.expect_navigation():
        citizen.get_by_role("button", name=f"撤回申请 {rid}").click()
    assert "已撤回" in citizen.locator(f"#request-{rid}").inner_text()


def test_steward_revokes_a_grant_with_a_reason(browse: NewPage, site: Site) -> None:
    asked = httpx.post(
        f"{site.base}/api/v1/requests",
        json={"dataset": "GA-P", "purpose": "卫生统计", "fields": ["区县", "月收入"]},
        headers=bearer(site.tokens["wj_member"]),
    ).json()
    given = httpx.post(
        f"{site.base}/api/v1/requests/{asked['id']}/approve",
        json={},
        headers=bearer(site.tokens["ga_steward"]),
    ).json()
    rows = f"{site.base}/api/v1/datasets/GA-P/rows"
    assert httpx.get(rows, headers=bearer(site.tokens["wj_member"])).status_code == 200
    steward = browse()
    go_log_in(steward, site, "ga_steward")
    steward.goto("/steward/inbox")
    row = steward.locator(f"#grants-given #grant-{given['id']}")
    assert "市卫生健康委" in row.inner_text() and "区县" in row.inner_text()
    row.get_by_label(f"撤销授权 {given['id']} 的理由").fill("项目已结束")
    with steward.expect_navigation():
        row.get_by_role("button", name="撤销授权").click()
    assert "授权已撤销" in steward.locator(".notice.ok").inner_text()
    assert steward.locator(f"#grants-given #grant-{given['id']}").count() == 0
    with site.hub.db.session() as s:
        grant = s.get(Grant, given["id"])
        assert grant is not None and grant.revoke_reason == "项目已结束"
    assert httpx.get(rows, headers=bearer(site.tokens["wj_member"])).status_code == 403


def test_a_post_without_csrf_is_refused_and_changes_nothing(browse: NewPage, site: Site) -> None:
    made = httpx.post(
        f"{site.base}/api/v1/requests",
        json={"dataset": "GA-P", "purpose": "跨部门核验", "fields": ["区县"]},
        headers=bearer(site.tokens["wj_member"]),
    )
    assert made.status_code == 201
    rid = made.json()["id"]
    steward = browse()
    go_log_in(steward, site, "ga_steward")
    steward.goto(f"/steward/requests/{rid}")
    steward.get_by_label("理由（申请人可见）").fill("伪造的拒绝")
    steward.evaluate("document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())")
    with steward.expect_navigation():
        steward.get_by_role("button", name="拒绝").click()
    assert steward.locator("h1").inner_text() == "无权访问"
    with site.hub.db.session() as s:
        still = s.get(AccessRequest, rid)
        assert still is not None and still.status == "pending" and still.reason is None


def test_steward_pages_are_their_stewards_only(browse: NewPage, site: Site) -> None:
    anonymous = browse()
    anonymous.goto("/steward/inbox")
    assert "/login?next=/steward/inbox" in anonymous.url

    member = browse()
    go_log_in(member, site, "sc_member")
    assert member.get_by_role("link", name="审批", exact=True).count() == 0
    for path in ("/steward/inbox", "/steward/datasets/SC-C/edit"):
        member.goto(path)
        assert member.locator("h1").inner_text() == "无权访问", path

    other = browse()  # a steward, but of another department
    go_log_in(other, site, "sc_steward")
    other.goto("/steward/datasets/GA-P/edit")
    assert other.locator("h1").inner_text() == "无权访问"
    assert "市公安局" in other.locator(".notice").inner_text()
    made = httpx.post(
        f"{site.base}/api/v1/requests",
        json={"dataset": "GA-P", "purpose": "核验", "fields": ["区县"]},
        headers=bearer(site.tokens["wj_member"]),
    ).json()
    other.goto(f"/steward/requests/{made['id']}")
    assert other.locator("h1").inner_text() == "无权访问"
    other.goto("/steward/inbox")  # their own inbox holds none of GA's requests
    assert other.locator(f"#request-{made['id']}").count() == 0


def test_steward_edits_the_catalog_record_and_a_grade(browse: NewPage, site: Site) -> None:
    names = field_names(site, "GA-P")
    steward = browse()
    go_log_in(steward, site, "ga_steward")
    steward.goto("/steward/inbox")
    with steward.expect_navigation():
        steward.get_by_role("link", name="编辑目录信息 人口信息").click()
    steward.get_by_label("资源摘要").fill("全市户籍与常住人口的基本信息")
    steward.get_by_label("区县 的分级").select_option("L2")
    with steward.expect_navigation():
        steward.get_by_role("button", name="保存").click()
    assert "已保存" in steward.locator(".notice.ok").inner_text()
    assert steward.get_by_label("资源摘要").input_value() == "全市户籍与常住人口的基本信息"
    assert steward.get_by_label("区县 的分级").input_value() == "L2"
    with site.hub.db.session() as s:
        ds = service.get_dataset(s, "GA-P")
        assert ds.summary == "全市户籍与常住人口的基本信息"
        assert {f.title: f.grade_override for f in ds.fields}["区县"] == "L2"
    record = httpx.get(
        f"{site.base}/api/v1/datasets/GA-P", headers=bearer(site.tokens["ga_member"])
    )
    assert record.json()["summary"] == "全市户籍与常住人口的基本信息"
    with site.hub.db.session() as s:
        audited = s.execute(
            sa.select(AuditRecord.action, AuditRecord.fields)
            .where(AuditRecord.actor == "ga_steward", AuditRecord.dataset == "GA-P")
            .where(AuditRecord.action.in_(["dataset.edit", "field.edit"]))
        ).all()
    assert ("field.edit", [names["区县"]]) in [(a, f) for a, f in audited]
    assert "dataset.edit" in [a for a, _ in audited]

    # a value the form does not offer is refused on the form, and nothing is kept
    steward.evaluate(
        "document.getElementById('share_type').add(new Option('bogus', 'bogus', true, true))"
    )
    steward.get_by_label("资源摘要").fill("不应保存")
    with steward.expect_navigation():
        steward.get_by_role("button", name="保存").click()
    assert "未知的共享类型 bogus" in steward.locator(".notice.error").inner_text()
    with site.hub.db.session() as s:
        assert service.get_dataset(s, "GA-P").summary == "全市户籍与常住人口的基本信息"


def test_login_page_in_english(browse: NewPage, site: Site) -> None:
    page = browse()
    page.goto("/login?lang=en")
    assert page.locator("h1").inner_text() == "Log in"
    page.get_by_label("User name or email").fill("sc_member")
    page.get_by_label("Password", exact=True).fill("not the password")
    shot(page, "login")
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    assert page.locator(".notice.error").inner_text() == "Wrong user name or password."
    assert page.get_by_label("User name or email").input_value() == "sc_member"
    assert "login.failed" in actions(site.hub, "sc_member")


def test_logging_out_ends_the_session(browse: NewPage, site: Site) -> None:
    page = browse()
    go_log_in(page, site, "ga_member")
    session = next(c for c in page.context.cookies() if c["name"] == "cityhub_session")
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    with page.expect_navigation():
        page.get_by_role("button", name="退出").click()
    assert page.locator(".account").get_by_role("link", name="登录").count() == 1
    assert not [c for c in page.context.cookies() if c["name"] == "cityhub_session"]
    copied = httpx.get(f"{site.base}/api/v1/me", headers=bearer(session["value"]))
    assert copied.status_code == 401  # the session's token is revoked, not just forgotten
    assert "logout" in actions(site.hub, "ga_member")


# -- over plain HTTP -------------------------------------------------------------------------------


def test_next_stays_on_this_site() -> None:
    assert same_site("/datasets?q=1") == "/datasets?q=1"
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "", None, "x"):
        assert same_site(target) == "/"


def _form_client(city: City, who: str | None = None) -> dict[str, str]:
    """Headers of `who` for the portal, after a page handed the client its CSRF cookie."""
    headers = city.auth(who) if who else {}
    assert city.client.get("/login", headers=headers).status_code == 200
    return headers


def csrf(city: City) -> str:
    return str(city.client.cookies.get("cityhub_csrf"))


def test_login_cookie_and_audit(city: City) -> None:
    _form_client(city)
    wrong = city.client.post(
        "/login", data={"csrf": csrf(city), "username": "ga_member", "password": "nope"}
    )
    assert wrong.status_code == 400 and "用户名或密码错误" in wrong.text
    done = city.client.post(
        "/login",
        data={
            "csrf": csrf(city),
            "username": "ga_member",
            "password": PASSWORD,
            "next": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/"
    cookie = done.headers["set-cookie"]
    assert cookie.startswith("cityhub_session=chk_") and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie and "Secure" not in cookie  # served over http here
    assert actions(city.hub, "ga_member")[-2:] == ["login.failed", "login"]


def test_form_errors_and_csrf(city: City) -> None:
    steward = _form_client(city, "ga_steward")
    refused = city.client.post(
        "/steward/datasets/GA-P/edit",
        data={"name": "人口信息", "share_type": "bogus"},
        headers=steward,
    )
    assert refused.status_code == 403 and "表单已过期" in refused.text  # no CSRF token
    bogus = city.client.post(
        "/steward/datasets/GA-P/edit",
        data={
            "csrf": csrf(city),
            "name": "人口信息",
            "share_type": "bogus",
            "open_type": "not_open",
        },
        headers=steward,
    )
    assert bogus.status_code == 400 and "未知的共享类型 bogus" in bogus.text
    basis = city.client.post(
        "/steward/datasets/GA-P/edit",
        data={"csrf": csrf(city), "name": "人口信息", "share_type": "not_shared"},
        headers=steward,
    )
    assert basis.status_code == 400 and "legal_basis" in basis.text
    with city.hub.db.session() as s:
        assert s.scalar(sa.select(Dataset.share_type).where(Dataset.code == "GA-P")) == (
            "conditional"
        )

    member = city.auth("sc_member")
    no_reason = city.client.post(
        "/steward/requests/1/refuse", data={"csrf": csrf(city), "reason": "x"}, headers=member
    )
    assert no_reason.status_code == 403  # not a steward

    signup = {"csrf": csrf(city), "email": "a@example.com", "password": "0123456789"}
    differ = city.client.post("/signup", data={**signup, "password2": "0123456789x"})
    assert differ.status_code == 400 and "两次输入的密码不一致" in differ.text
    city.client.cookies.delete("cityhub_session")


def test_keys_are_their_owners_only(city: City) -> None:
    member = _form_client(city, "sc_member")
    with city.hub.db.session() as s:
        theirs = s.scalar(sa.select(ApiToken.id).join(User).where(User.username == "ga_member"))
    revoke = city.client.post(
        f"/me/keys/{theirs}/revoke", data={"csrf": csrf(city)}, headers=member
    )
    assert revoke.status_code == 404
    with city.hub.db.session() as s:
        token = s.get(ApiToken, theirs)
        assert token is not None and token.revoked_at is None
    too_much = city.client.post(
        "/me/keys",
        data={"csrf": csrf(city), "name": "x", "scopes": ["read", "approve"], "days": "30"},
        headers=member,
    )
    assert too_much.status_code == 403 and "approve" in too_much.text
    long = city.client.post(
        "/me/keys",
        data={"csrf": csrf(city), "name": "x", "scopes": ["read"], "days": "99999"},
        headers=member,
    )
    assert long.status_code == 400 and "有效期为 1 到 3650 天" in long.text
