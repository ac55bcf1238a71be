"""The sharing workflow end to end, and the ways around a grant or a mask that must not work."""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from cityhub.access import audit_read, sharing
from cityhub.access.audit import AuditLog
from cityhub.access.models import AccessRequest, ApiToken, Grant
from cityhub.access.sharing import add_working_days
from cityhub.catalog.models import utcnow
from cityhub.ingest import sync_file
from tests.access.conftest import ROWS, City, people_csv, person_id

ID, NAME, DISTRICT, INCOME = "shen_fen_zheng_hao_ma", "xing_ming", "qu_xian", "yue_shou_ru"
PSEUDONYM = re.compile(r"^[0-9a-f]{32}$")
NANHU = ROWS // 5  # one person in five lives in 南湖区


def ask(city: City, who: str = "sc_member", **body: Any) -> dict[str, Any]:
    request = {
        "dataset": "GA-P",
        "purpose": "企业员工社保核验",
        "fields": ["身份证号码", "区县", "月收入"],
        "row_filter": [{"field": "区县", "op": "eq", "value": "南湖区"}],
        "days": 30,
    } | body
    r = city.client.post("/api/v1/requests", json=request, headers=city.auth(who))
    assert r.status_code == 201, r.text
    return dict(r.json())


def grant(city: City, **approval: Any) -> dict[str, Any]:
    request = ask(city)
    body = {"fields": {ID: "pseudonym", DISTRICT: "clear", INCOME: "clear"}} | approval
    r = city.client.post(
        f"/api/v1/requests/{request['id']}/approve", json=body, headers=city.auth("ga_steward")
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def rows(city: City, who: str, code: str = "GA-P", **params: Any) -> Any:
    return city.client.get(
        f"/api/v1/datasets/{code}/rows", params={"limit": 1000, **params}, headers=city.auth(who)
    )


def sql(city: City, who: str, text: str) -> Any:
    return city.client.post("/api/v1/sql", json={"sql": text}, headers=city.auth(who))


# -- the workflow ----------------------------------------------------------------------------------


def test_request_approval_grant_and_revocation(city: City) -> None:
    assert rows(city, "sc_member").status_code == 403
    request = ask(city)
    assert request["status"] == "pending" and request["overdue"] is False
    assert request["due_on"] == add_working_days(sharing.today(), 10, {}).isoformat()
    assert request["working_days_left"] == 10
    inbox = city.client.get("/api/v1/requests?box=inbox", headers=city.auth("ga_steward"))
    assert [r["id"] for r in inbox.json()["items"]] == [request["id"]]
    for who in ("sc_steward", "ga_member", "sc_member"):  # not a steward of the provider
        r = city.client.post(
            f"/api/v1/requests/{request['id']}/approve", json={}, headers=city.auth(who)
        )
        assert r.status_code == 403, who
    r = city.client.post(
        f"/api/v1/requests/{request['id']}/approve",
        json={"fields": {ID: "pseudonym", DISTRICT: "clear", INCOME: "clear"}},
        headers=city.auth("ga_steward"),
    )
    assert r.status_code == 200, r.text
    given = r.json()
    assert given["state"] == "active" and given["department"] == "330400-SC"

    page = rows(city, "sc_member").json()
    assert [f["name"] for f in page["fields"]] == [ID, DISTRICT, INCOME]
    assert len(page["rows"]) == NANHU and {r[DISTRICT] for r in page["rows"]} == {"南湖区"}
    assert all(PSEUDONYM.match(r[ID]) for r in page["rows"])
    assert len({r[ID] for r in page["rows"]}) == NANHU  # distinct people stay distinct
    # the grant is the department's: its steward reads the same; another department does not
    assert rows(city, "sc_steward").json()["rows"] == page["rows"]
    assert rows(city, "wj_member").status_code == 403

    again = city.client.post(
        f"/api/v1/requests/{request['id']}/approve", json={}, headers=city.auth("ga_steward")
    )
    assert again.status_code == 409
    revoked = city.client.post(
        f"/api/v1/grants/{given['id']}/revoke",
        json={"reason": "用途已完成"},
        headers=city.auth("ga_steward"),
    )
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert rows(city, "sc_member").status_code == 403  # at once

    with city.hub.db.session() as s:
        actions = [r.action for r in audit_read.search(s, dataset="GA-P", limit=50)]
    assert {"request.submit", "request.approve", "grant.revoke"} <= set(actions)
    assert actions.count("read") >= 2
    assert AuditLog(city.hub.db).verify().ok


def test_a_refusal_gives_its_reason(city: City) -> None:
    request = ask(city)
    path = f"/api/v1/requests/{request['id']}/refuse"
    blank = city.client.post(path, json={"reason": " "}, headers=city.auth("ga_steward"))
    assert blank.status_code == 400
    r = city.client.post(path, json={"reason": "涉及个人隐私"}, headers=city.auth("ga_steward"))
    assert r.json()["status"] == "refused" and r.json()["reason"] == "涉及个人隐私"
    mine = city.client.get("/api/v1/requests", headers=city.auth("sc_member")).json()["items"]
    assert mine[0]["reason"] == "涉及个人隐私"
    assert rows(city, "sc_member").status_code == 403


def test_requests_are_checked(city: City) -> None:
    def refused(who: str, **body: Any) -> int:
        request = {"dataset": "GA-P", "purpose": "核验"} | body
        return city.client.post(
            "/api/v1/requests", json=request, headers=city.auth(who)
        ).status_code

    assert refused("anonymous") == 403  # register first
    assert refused("ga_member") == 400  # its own department's
    assert refused("sc_member", fields=["nope"]) == 400
    assert refused("sc_member", row_filter=[{"field": "月收入", "op": "contains", "value": 1}])
    assert refused("ga_member", dataset="SC-N", purpose="x") == 403  # 不予共享
    assert refused("citizen") == 404  # 不予开放: the public does not know of it
    assert refused("citizen", dataset="SC-C") == 400  # terms not accepted
    assert refused("sc_member", days=100000) == 400


def test_the_public_applies_for_conditional_open_data_with_terms(city: City) -> None:
    assert rows(city, "citizen", "SC-C").status_code == 403
    request = ask(city, "citizen", dataset="SC-C", fields=[], row_filter=[], accept_terms=True)
    r = city.client.post(
        f"/api/v1/requests/{request['id']}/approve",
        json={"fields": {"qi_ye_ming_cheng": "clear", "fa_ren_shou_ji": "clear"}},
        headers=city.auth("sc_steward"),
    )
    assert r.status_code == 200 and r.json()["user"] == "citizen"
    page = rows(city, "citizen", "SC-C").json()
    assert [f["name"] for f in page["fields"]] == ["qi_ye_ming_cheng", "fa_ren_shou_ji"]
    # granted clear, but the public never reads an L3 field in clear
    assert page["rows"][1]["fa_ren_shou_ji"] == "138****0001"
    assert rows(city, "anonymous", "SC-C").status_code == 403  # the grant is the citizen's


def test_overdue_requests_are_flagged(city: City) -> None:
    request = ask(city)
    with city.hub.db.session() as s:
        found = s.get(AccessRequest, request["id"])
        assert found is not None
        found.due_on = date.today() - timedelta(days=3)
    overdue = city.client.get(
        "/api/v1/requests",
        params={"box": "inbox", "status": "overdue"},
        headers=city.auth("ga_steward"),
    ).json()["items"]
    assert [r["id"] for r in overdue] == [request["id"]]
    assert overdue[0]["overdue"] is True and overdue[0]["working_days_left"] < 0


def test_working_days_skip_weekends_and_holidays_and_count_make_up_days() -> None:
    friday = date(2026, 9, 25)
    assert add_working_days(friday, 1, {}) == date(2026, 9, 28)  # over the weekend
    assert add_working_days(friday, 10, {}) == date(2026, 10, 9)
    # 国庆节: 1-7 October off, Sunday 27 September and Saturday 10 October worked (调休)
    days = {date(2026, 10, d): "holiday" for d in range(1, 8)}
    days |= {date(2026, 9, 27): "workday", date(2026, 10, 10): "workday"}
    assert add_working_days(friday, 1, days) == date(2026, 9, 27)
    assert add_working_days(friday, 10, days) == date(2026, 10, 14)


def test_the_calendar_moves_deadlines(city: City) -> None:
    start = sharing.today()
    plain = add_working_days(start, 10, {})
    tomorrow = start + timedelta(days=1)
    while tomorrow.weekday() >= 5:
        tomorrow += timedelta(days=1)
    r = city.client.put(
        f"/api/v1/calendar/{tomorrow}",
        json={"kind": "holiday", "name": "测试假日"},
        headers=city.auth("op"),
    )
    assert r.status_code == 200
    denied = city.client.put(
        f"/api/v1/calendar/{tomorrow}", json={"kind": "holiday"}, headers=city.auth("sc_member")
    )
    assert denied.status_code == 403
    assert date.fromisoformat(ask(city)["due_on"]) > plain


def test_an_expired_grant_stops_at_once(city: City) -> None:
    given = grant(city)
    assert rows(city, "sc_member").status_code == 200
    with city.hub.db.session() as s:
        found = s.get(Grant, given["id"])
        assert found is not None
        found.expires_at = utcnow() - timedelta(seconds=1)
    assert rows(city, "sc_member").status_code == 403
    assert sql(city, "sc_member", 'SELECT count(*) AS n FROM "GA-P"').status_code == 403


# -- no way around the grant ----------------------------------------------------------------------


def test_counts_under_a_row_filter_count_only_allowed_rows(city: City) -> None:
    grant(city)
    page = rows(city, "sc_member", include_total="true", limit=5).json()
    assert page["total"] == NANHU
    agg = city.client.get(
        "/api/v1/datasets/GA-P/aggregate",
        params={"metric": "count", "group_by": DISTRICT},
        headers=city.auth("sc_member"),
    ).json()
    assert agg["rows"] == [{DISTRICT: "南湖区", "count": NANHU}]
    counted = sql(city, "sc_member", 'SELECT count(*) AS n FROM "GA-P"').json()
    assert counted["rows"] == [{"n": NANHU}]
    # a filter of the caller's own cannot widen the grant's
    wider = rows(city, "sc_member", filter="qu_xian:eq:秀洲区").json()
    assert wider["rows"] == []
    ckan = city.client.get(
        "/api/3/action/datastore_search",
        params={"resource_id": "GA-P", "include_total": "true"},
        headers=city.auth("sc_member"),
    ).json()
    assert ckan["result"]["total"] == NANHU
    export = city.client.get("/api/v1/datasets/GA-P/export.csv", headers=city.auth("sc_member"))
    assert export.headers["x-row-count"] == str(NANHU)
    assert len(export.text.splitlines()) == NANHU + 1
    assert person_id(0) not in export.text  # pseudonyms, not ID numbers


def test_an_older_version_obeys_todays_grant(city: City) -> None:
    given = grant(city)
    (city.folder / "people2.csv").write_text(people_csv(income_base=5000), encoding="utf-8")
    sync_file(city.hub, "GA-P", city.folder / "people2.csv")
    old = rows(city, "sc_member", version=0).json()
    new = rows(city, "sc_member").json()
    assert (old["version"], new["version"]) == (0, 1)
    for page in (old, new):
        assert [f["name"] for f in page["fields"]] == [ID, DISTRICT, INCOME]
        assert len(page["rows"]) == NANHU and all(PSEUDONYM.match(r[ID]) for r in page["rows"])
    assert old["rows"][0][INCOME] < 5000 <= new["rows"][0][INCOME]
    city.client.post(
        f"/api/v1/grants/{given['id']}/revoke",
        json={"reason": "x"},
        headers=city.auth("ga_steward"),
    )
    assert rows(city, "sc_member", version=0).status_code == 403


def test_masked_columns_give_masked_answers_to_every_function(city: City) -> None:
    """sc_member reads GA-U by unconditional sharing: ID numbers and names masked."""
    pid = person_id(1)
    masked = pid[:6] + "*" * 8 + pid[-4:]
    agg = city.client.get(
        "/api/v1/datasets/GA-U/aggregate",
        params={"group_by": ID, "metric": [f"min:{NAME}", f"max:{NAME}", "count"], "limit": 500},
        headers=city.auth("sc_member"),
    ).json()
    assert agg["rows"] and all("*" in r[ID] for r in agg["rows"])
    assert all(r[f"min_{NAME}"].endswith("*") for r in agg["rows"])
    answer = sql(
        city,
        "sc_member",
        f"""SELECT min({ID}) AS lo, max({ID}) AS hi, substr({ID}, 7, 8) AS middle,
                   regexp_extract({ID}, '[0-9]{{8}}') AS digits, md5({ID}) AS h,
                   length({ID}) AS n, left({NAME}, 2) AS name2, count(DISTINCT {ID}) AS ids
            FROM "GA-U" WHERE {ID} LIKE '%{pid[-4:]}' GROUP BY ALL ORDER BY h""",
    )
    assert answer.status_code == 200, answer.text
    found = answer.json()["rows"]
    assert found and all("*" in r["lo"] and "*" in r["hi"] for r in found)
    assert {r["middle"] for r in found} == {"********"}
    assert {r["digits"] for r in found} == {""}
    assert hashlib.md5(masked.encode()).hexdigest() in {r["h"] for r in found}
    assert all(r["name2"].endswith("*") for r in found)
    # looking a raw value up finds nothing, neither by filter nor by the key index
    assert rows(city, "sc_member", "GA-U", filter=f"{ID}:eq:{pid}").json()["rows"] == []
    probe = sql(city, "sc_member", f"""SELECT count(*) AS n FROM "GA-U" WHERE {ID} = '{pid}'""")
    assert probe.json()["rows"] == [{"n": 0}]
    export = city.client.get("/api/v1/datasets/GA-U/export.csv", headers=city.auth("sc_member"))
    assert pid not in export.text and masked in export.text


def test_joins_reach_other_datasets_only_through_their_own_grants(city: City) -> None:
    join = f'SELECT count(*) AS n FROM "GA-U" u JOIN "GA-P" p ON u.{DISTRICT} = p.{DISTRICT}'
    assert sql(city, "sc_member", join).status_code == 403  # GA-P is not granted
    grant(city)
    joined = sql(city, "sc_member", join).json()["rows"][0]["n"]
    assert joined == ROWS * NANHU // 5  # GA-U's 南湖区 people × GA-P's granted ones
    names = sql(city, "sc_member", f'SELECT p.{NAME} FROM "GA-U" u, "GA-P" p LIMIT 1')
    assert names.status_code == 400  # xing_ming is not granted on GA-P
    raw = sql(city, "sc_member", "SELECT * FROM read_parquet('x.parquet')")
    assert raw.status_code == 400


def test_pseudonyms_join_within_a_grantee_and_differ_between_grantees(city: City) -> None:
    given = grant(city)
    mine = {r[ID] for r in rows(city, "sc_member").json()["rows"]}
    other = ask(city, "wj_member")
    city.client.post(
        f"/api/v1/requests/{other['id']}/approve",
        json={"fields": {ID: "pseudonym", DISTRICT: "clear"}},
        headers=city.auth("ga_steward"),
    )
    theirs = {r[ID] for r in rows(city, "wj_member").json()["rows"]}
    assert len(mine) == len(theirs) == NANHU and not mine & theirs
    assert given["fields"][ID] == "pseudonym"


# -- tokens, sessions, audit -----------------------------------------------------------------------


def test_tokens_expire_revoke_and_are_stored_hashed(city: City) -> None:
    token = city.tokens["sc_member"]
    assert city.client.get("/api/v1/me", headers=city.auth("sc_member")).json()["name"] == (
        "sc_member"
    )
    with city.hub.db.session() as s:
        stored = s.scalars(sa.select(ApiToken.token_hash)).all()
        used = s.scalar(sa.select(ApiToken).where(ApiToken.prefix == token[:12]))
        assert used is not None and used.last_used_at is not None
        assert token not in stored and hashlib.sha256(token.encode()).hexdigest() in stored
        used.expires_at = utcnow() - timedelta(seconds=1)
    assert city.client.get("/api/v1/me", headers=city.auth("sc_member")).status_code == 401
    r = city.client.get("/api/3/action/package_list", headers={"Authorization": token})
    assert r.status_code == 403  # CKAN's way of saying it

    made = city.client.post("/api/v1/tokens", json={"name": "t"}, headers=city.auth("ga_member"))
    fresh = {"Authorization": f"Bearer {made.json()['token']}"}
    assert city.client.get("/api/v1/datasets/GA-P/rows", headers=fresh).status_code == 200
    gone = city.client.delete(f"/api/v1/tokens/{made.json()['id']}", headers=fresh)
    assert gone.json()["state"] == "revoked"
    assert city.client.get("/api/v1/datasets/GA-P/rows", headers=fresh).status_code == 401


def test_login_session_cookie_logout_and_deactivation(city: City) -> None:
    from tests.access.conftest import PASSWORD

    wrong = city.client.post(
        "/api/v1/auth/login", json={"username": "ga_member", "password": "nope-nope-nope"}
    )
    assert wrong.status_code == 401
    ok = city.client.post(
        "/api/v1/auth/login", json={"username": "ga_member", "password": PASSWORD}
    )
    assert ok.status_code == 200 and ok.cookies.get("cityhub_session")
    assert city.client.get("/api/v1/me").json()["name"] == "ga_member"  # by the cookie
    city.client.post("/api/v1/auth/logout")
    city.client.cookies.clear()
    session = {"Authorization": f"Bearer {ok.json()['token']}"}
    assert city.client.get("/api/v1/me", headers=session).status_code == 401
    with city.hub.db.session() as s:
        actions = [r.action for r in audit_read.search(s, actor="ga_member", limit=10)]
    assert actions[:3] == ["logout", "login", "login.failed"]
    off = city.client.patch(
        "/api/v1/users/sc_member", json={"active": False}, headers=city.auth("admin")
    )
    assert off.status_code == 200
    assert city.client.get("/api/v1/me", headers=city.auth("sc_member")).status_code == 401


def test_self_registration_gives_an_open_data_key(city: City) -> None:
    r = city.client.post(
        "/api/v1/auth/register",
        json={"email": "racer@example.cn", "password": "a long enough password"},
    )
    assert r.status_code == 200, r.text
    key = {"Authorization": f"Bearer {r.json()['token']}"}
    assert city.client.get("/api/v1/me", headers=key).json()["roles"] == ["public"]
    assert city.client.get("/api/v1/datasets/GA-U/rows", headers=key).status_code == 200
    assert city.client.get("/api/v1/datasets/GA-P/rows", headers=key).status_code == 404
    again = city.client.post(
        "/api/v1/auth/register",
        json={"email": "racer@example.cn", "password": "a long enough password"},
    )
    assert again.status_code == 409


def test_a_read_fails_when_its_audit_cannot_be_written(city: City) -> None:
    assert rows(city, "ga_member").status_code == 200
    with city.hub.db.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE audit_log RENAME TO audit_log_away"))
    try:
        for path in ("/api/v1/datasets/GA-P/rows", "/api/v1/datasets/GA-P/export.csv"):
            r = city.client.get(path, headers=city.auth("ga_member"))
            assert r.status_code == 503 and "audit" in r.json()["detail"], r.text
            assert person_id(0) not in r.text
        r = sql(city, "ga_member", 'SELECT * FROM "GA-P"')
        assert r.status_code == 503
    finally:
        with city.hub.db.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE audit_log_away RENAME TO audit_log"))


@pytest.mark.parametrize("who", ["anonymous", "citizen"])
def test_rate_limits_answer_429_with_retry_after(city: City, who: str) -> None:
    from fastapi.testclient import TestClient

    from cityhub.api import create_app

    city.hub.settings = city.hub.settings.model_copy(
        update={"rate_limit_anonymous": 3, "rate_limit_token": 3}
    )
    with TestClient(create_app(city.hub)) as client:
        codes = [client.get("/api/v1/stats", headers=city.auth(who)).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        r = client.get("/api/v1/stats", headers=city.auth(who))
        assert int(r.headers["retry-after"]) >= 1 and r.json()["status"] == 429
        if who == "citizen":  # another token has its own budget
            assert client.get("/api/v1/stats", headers=city.auth("sc_member")).status_code == 200


def test_server_processes_share_one_rate_limit_through_redis(city: City) -> None:
    from fastapi.testclient import TestClient

    from cityhub.api import create_app
    from tests.access.test_ratelimit import redis_url

    city.hub.settings = city.hub.settings.model_copy(
        update={"rate_limit_token": 3, "redis_url": redis_url()}
    )
    # two apps over one home, as two server processes would be
    with TestClient(create_app(city.hub)) as one, TestClient(create_app(city.hub)) as two:
        who = city.auth("sc_member")
        codes = [c.get("/api/v1/stats", headers=who).status_code for c in (one, two, one, two)]
        assert codes == [200, 200, 200, 429]
        assert int(two.get("/api/v1/stats", headers=who).headers["retry-after"]) >= 1


def test_masking_rules_per_deployment_and_per_field(city: City) -> None:
    from fastapi.testclient import TestClient

    from cityhub.api import create_app
    from cityhub.catalog import service

    pid = person_id(1)
    with city.hub.db.session() as s:
        service.set_field(s, "GA-U", "姓名", masking="redact")
    row = rows(city, "sc_member", "GA-U", limit=2).json()["rows"][1]
    assert row[NAME] == "***" and row[ID] == pid[:6] + "*" * 8 + pid[-4:]
    city.hub.settings = city.hub.settings.model_copy(
        update={"masking_rules": "B", "masking_overrides": {"person_name": "keep:0:1"}}
    )
    with TestClient(create_app(city.hub)) as client:
        r = client.get(
            "/api/v1/datasets/GA-U/rows", params={"limit": 2}, headers=city.auth("sc_member")
        )
        row = r.json()["rows"][1]
    assert row[ID] == pid[0] + "*" * 15 + pid[-2:]  # rule B: first 1, last 2
    assert row[NAME] == "***"  # the field's own rule wins over the deployment's override
    with city.hub.db.session() as s:
        service.set_field(s, "GA-U", "姓名", masking="clear")
    row = rows(city, "sc_member", "GA-U", limit=2).json()["rows"][1]
    assert row[NAME] == "***"  # a masked field is not shown in clear by a rule: lower its grade


def test_a_key_lookup_under_a_grant_keeps_to_its_rows(city: City) -> None:
    grant(city, fields={ID: "clear", DISTRICT: "clear"})
    assert city.client.app.state.services.lookups.wait(60)  # type: ignore[attr-defined]
    nanhu, xiuzhou = person_id(0), person_id(1)  # people 0 and 1: 南湖区 and 秀洲区
    found = rows(city, "sc_member", filter=f"{ID}:eq:{nanhu}").json()["rows"]
    assert found == [{ID: nanhu, DISTRICT: "南湖区"}]
    assert rows(city, "sc_member", filter=f"{ID}:eq:{xiuzhou}").json()["rows"] == []
    both = rows(city, "sc_member", filter=f"{ID}:in:{nanhu},{xiuzhou}", include_total="true")
    assert both.json()["total"] == 1


def test_made_up_tokens_are_limited_per_address(city: City) -> None:
    from fastapi.testclient import TestClient

    from cityhub.api import create_app

    city.hub.settings = city.hub.settings.model_copy(update={"rate_limit_anonymous": 3})
    with TestClient(create_app(city.hub)) as client:
        codes = [
            client.get("/api/v1/me", headers={"Authorization": f"Bearer chk_guess{n}"}).status_code
            for n in range(5)
        ]
        assert codes == [401, 401, 401, 429, 429]
        # a real token still works from there: its own budget
        assert client.get("/api/v1/me", headers=city.auth("sc_member")).status_code == 200


def test_open_data_is_open_to_departments_too(city: City) -> None:
    """有条件共享 but 无条件开放: another department reads at least what the public reads."""
    from cityhub.catalog import service

    assert rows(city, "sc_member").status_code == 403
    with city.hub.db.session() as s:
        service.upsert_dataset(s, "GA-P", "330400-GA", open_type="无条件开放")
    for who in ("sc_member", "anonymous"):
        page = rows(city, who, limit=3).json()
        assert [f["name"] for f in page["fields"]] == [ID, NAME, DISTRICT, INCOME], who
        assert all("*" in r[ID] for r in page["rows"])  # L3: masked, as for the public
