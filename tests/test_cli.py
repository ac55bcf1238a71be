"""The CLI through Typer's runner, on a fresh home (SQLite, or PostgreSQL when configured)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cityhub.catalog.db import Database
from cityhub.cli import app

from .ingest.helpers import PEOPLE


@pytest.fixture
def cli(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CITYHUB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CITYHUB_DATABASE_URL", db.url)
    monkeypatch.setenv("CITYHUB_OPERATOR", "operator-1")
    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> str:
        result = runner.invoke(app, list(args))
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code != 0, result.output
        return result.output

    run("init")
    return run


def test_operator_workflow(cli, tmp_path: Path) -> None:
    cli("department", "add", "330400-GA", "市公安局")
    cli("department", "add", "330400-JY", "市教育局")
    cli(
        "dataset",
        "add",
        "GA-001",
        "--department",
        "330400-GA",
        "--name",
        "常住人口信息",
        "--summary",
        "全市常住人口基本信息",
        "--share-type",
        "有条件共享",
        "--open-type",
        "不予开放",
        "--update-cycle",
        "每月",
        "--themes",
        "人口,社会",
    )
    cli(
        "dataset",
        "add",
        "JY-001",
        "--department",
        "330400-JY",
        "--name",
        "学校名录",
        "--share-type",
        "无条件共享",
        "--open-type",
        "无条件开放",
    )
    csv = tmp_path / "people.csv"
    csv.write_text(PEOPLE, encoding="utf-8")
    cli("ingest", str(csv), "--dataset", "GA-001")
    cli("ingest", str(csv), "--dataset", "GA-001", "--mode", "append")

    stats = json.loads(cli("stats", "--json"))
    assert {
        k: stats[k]
        for k in ("departments_connected", "departments_cataloged", "datasets", "fields", "records")
    } == {
        "departments_connected": 1,
        "departments_cataloged": 2,
        "datasets": 2,
        "fields": 9,
        "records": 6,
    }

    hist = json.loads(cli("history", "GA-001", "--json"))
    assert [(h["version"], h["rows"], h["operator"]) for h in hist] == [
        (1, 6, "operator-1"),
        (0, 3, "operator-1"),
    ]
    assert hist[0]["source"].endswith("people.csv")
    assert len(json.loads(cli("show", "GA-001", "--version", "0", "--json"))) == 3
    cli("rollback", "GA-001", "0")
    assert len(json.loads(cli("show", "GA-001", "--json", "--limit", "100"))) == 3
    shown = cli("show", "GA-001", "--limit", "2")
    assert "GA-001 v2" in shown and shown.count("\n") > 4  # a table, not only a title
    assert "intact" in cli("audit", "verify")  # every show was an audited read

    record = json.loads(cli("catalog", "show", "GA-001", "--json"))
    assert record["share_type"] == "conditional" and record["themes"] == ["人口", "社会"]
    by_title = {f["title"]: f for f in record["fields"]}
    assert by_title["身份证号码"]["semantic_type"] == "id_card"
    cli("field", "set", "GA-001", "月收入", "--grade", "L4")
    record = json.loads(cli("catalog", "show", "GA-001", "--json"))
    assert {f["title"]: f["grade"] for f in record["fields"]}["月收入"] == "L4"

    listed = json.loads(cli("catalog", "list", "--json"))
    assert [d["code"] for d in listed] == ["GA-001", "JY-001"]
    found = json.loads(cli("catalog", "search", "人口", "--json"))
    assert [i["code"] for i in found["items"]] == ["GA-001"]
    found = json.loads(cli("catalog", "search", "--open-type", "无条件开放", "--json"))
    assert [i["code"] for i in found["items"]] == ["JY-001"]
    syncs = json.loads(cli("syncs", "--json"))
    assert [s["status"] for s in syncs] == ["succeeded"] * 3


def test_errors_are_one_clear_line(cli, tmp_path: Path) -> None:
    out = cli("ingest", str(tmp_path / "nope.csv"), "--dataset", "X", ok=False)
    assert "dataset 'X' is not in the catalog" in out
    out = cli("dataset", "add", "A", "--department", "missing", "--name", "n", ok=False)
    assert "department 'missing' is not registered" in out
    cli("department", "add", "D", "某局")
    out = cli(
        "dataset", "add", "A", "--department", "D", "--name", "n", "--share-type", "随便", ok=False
    )
    assert "unknown ShareType '随便'" in out


def test_rejects_listing_and_manifest(cli, tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    (files / "a.csv").write_text(
        "编号,数量\n" + "".join(f"{i},{i}\n" for i in range(400)) + "x,oops\n", encoding="gbk"
    )
    manifest = tmp_path / "city.toml"
    manifest.write_text(
        """
[[departments]]
code = "330400-JT"
name = "市交通运输局"

[[datasets]]
code = "JT-001"
department = "330400-JT"
name = "公交线路"
share_type = "无条件共享"
open_type = "无条件开放"

[[datasets]]
code = "JT-002"
department = "330400-JT"
name = "出租车营运数据"
fields = [{ title = "车牌号", type = "string" }, { title = "里程", type = "decimal" }]

[[sources]]
dataset = "JT-001"
path = "files/*.csv"
""",
        encoding="utf-8",
    )
    cli("ingest", str(manifest))
    stats = json.loads(cli("stats", "--json"))
    assert (stats["datasets"], stats["datasets_connected"], stats["fields"], stats["records"]) == (
        2,
        1,
        4,
        400,
    )
    rejects = json.loads(cli("rejects", "JT-001", "--json"))
    assert [(r["line"], r["column"]) for r in rejects] == [(402, "数量")]
    assert "402" in cli("rejects", "JT-001") and "rejects.read" in cli("audit", "search")
