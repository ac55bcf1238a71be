"""`cityhub user|token|request|grant|calendar` through Typer's runner, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cityhub.access import audit_read, users
from cityhub.access.audit import AuditLog
from cityhub.catalog.db import Database
from cityhub.cli import app
from cityhub.config import load_settings
from cityhub.hub import Hub

Run = Callable[..., str]


@pytest.fixture
def cli(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("CITYHUB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CITYHUB_DATABASE_URL", db.url)
    monkeypatch.setenv("CITYHUB_OPERATOR", "operator-1")
    monkeypatch.setenv("PASS", "a password long enough")
    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> str:
        result = runner.invoke(app, list(args))
        assert (result.exit_code == 0) is ok, result.output
        return result.output

    run("init")
    run("department", "add", "330400-GA", "市公安局")
    run("department", "add", "330400-SC", "市市场监管局")
    run(
        "dataset", "add", "GA-P", "--department", "330400-GA", "--name", "人口信息",
        "--share-type", "有条件共享",
    )  # fmt: skip
    return run


def test_users_and_tokens(cli: Run) -> None:
    cli("user", "add", "zhang", "--department", "330400-SC", "--password-env", "PASS")
    cli("user", "add", "root", "--role", "admin", "--password-env", "PASS")
    refused = cli("user", "add", "li", "--role", "steward", "--no-password", ok=False)
    assert "need --department" in refused
    assert "exists already" in cli("user", "add", "zhang", "--no-password", ok=False)
    listed = json.loads(cli("user", "list", "--json"))
    assert [(u["username"], u["roles"]) for u in listed] == [
        ("root", ["admin"]),
        ("zhang", ["member"]),
    ]
    token = (
        cli("token", "new", "zhang", "--name", "etl", "--scope", "read").strip().splitlines()[-1]
    )
    assert token.startswith(users.TOKEN_PREFIX)
    hub = Hub.open(load_settings())
    with hub.db.session() as s:
        assert users.authenticate(s, token).name == "zhang"
    assert "scope admin" in cli("token", "new", "zhang", "--scope", "admin", ok=False)
    tokens = json.loads(cli("token", "list", "zhang", "--json"))
    assert tokens[0]["scopes"] == ["read"] and token not in json.dumps(tokens)
    cli("token", "revoke", tokens[0]["prefix"])
    assert json.loads(cli("token", "list", "zhang", "--json"))[0]["state"] == "revoked"
    cli("user", "set", "zhang", "--inactive")
    assert json.loads(cli("user", "list", "--json"))[1]["active"] is False
    with hub.db.session() as s:
        actions = [r.action for r in audit_read.search(s, limit=20)]
    assert actions == ["user.change", "token.revoke", "token.create", "user.add", "user.add"]
    assert "intact: 5 records" in cli("audit", "verify")
    hub.close()


def test_request_approve_and_the_calendar(cli: Run, tmp_path: Path) -> None:
    cli("user", "add", "wang", "--department", "330400-SC", "--no-password")
    cli("user", "add", "chen", "--department", "330400-GA", "--role", "steward", "--no-password")
    (tmp_path / "days.csv").write_text(
        "day,kind,name\n2026-10-01,holiday,国庆节\n2026-10-10,workday,国庆调休\n", encoding="utf-8"
    )
    (tmp_path / "people.csv").write_text("姓名,区县\n张三,南湖区\n李四,秀洲区\n", encoding="utf-8")
    cli("ingest", str(tmp_path / "people.csv"), "--dataset", "GA-P")
    assert "2 calendar days" in cli("calendar", "import", str(tmp_path / "days.csv"))
    days = json.loads(cli("calendar", "list", "--year", "2026", "--json"))
    assert [d["kind"] for d in days] == ["holiday", "workday"]
    assert "submitted" in cli("request", "new", "GA-P", "--as", "wang", "--purpose", "核验")
    assert "steward of" in cli("request", "approve", "1", "--as", "wang", ok=False)
    assert "approved: grant 1" in cli("request", "approve", "1", "--as", "chen")
    (grant,) = json.loads(cli("grant", "list", "--json"))
    assert grant["to"] == "330400-SC" and grant["state"] == "active"
    cli("grant", "revoke", "1", "--as", "chen", "--reason", "用途已完成")
    assert json.loads(cli("grant", "list", "--json")) == []
    listed = json.loads(cli("request", "list", "--json"))
    assert [(r["id"], r["status"]) for r in listed] == [(1, "approved")]
    hub = Hub.open(load_settings())
    assert AuditLog(hub.db).verify().ok
    hub.close()
