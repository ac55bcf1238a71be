"""Read-only SQL: what it answers, and everything it refuses."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from cityhub.config import Settings
from cityhub.hub import Hub
from cityhub.query import Engine

from .conftest import as_operator


def sql(client: TestClient, text: str, **kw: object) -> tuple[int, dict]:
    headers = kw.pop("headers", None)
    r = client.post("/api/v1/sql", json={"sql": text, **kw}, headers=headers)
    return r.status_code, r.json()


def test_a_select_with_cte_join_and_aggregate(served: tuple[Hub, TestClient]) -> None:
    _, client = served
    status, body = sql(
        client,
        "WITH m AS (SELECT * FROM \"ga-001\" WHERE xing_bie = '男') "
        "SELECT xing_bie, count(*) AS n, sum(yue_shou_ru) AS total FROM m GROUP BY xing_bie",
    )
    assert status == 200, body
    assert body["rows"] == [{"xing_bie": "男", "n": 125, "total": 281250}]
    assert body["truncated"] is False and body["datasets"] == [{"code": "GA-001", "version": 0}]
    assert [c["name"] for c in body["columns"]] == ["xing_bie", "n", "total"]


def test_row_cap_sets_truncated(served: tuple[Hub, TestClient]) -> None:
    _, client = served
    status, body = sql(client, 'SELECT yue_shou_ru FROM "GA-001" ORDER BY 1', limit=7)
    assert status == 200 and body["row_count"] == 7 and body["truncated"] is True
    assert [r["yue_shou_ru"] for r in body["rows"]] == [1000 + 10 * i for i in range(7)]
    status, body = sql(client, 'SELECT count(*) AS n FROM "GA-001"', limit=7)
    assert body["truncated"] is False and body["rows"] == [{"n": 250}]


def test_sql_sees_only_what_the_caller_may_read(served: tuple[Hub, TestClient]) -> None:
    _, client = served
    status, body = sql(client, 'SELECT shen_fen_zheng_hao_ma FROM "GA-001"')
    assert status == 400 and "shen_fen_zheng_hao_ma" in body["detail"]
    status, body = sql(client, 'SELECT * FROM "GA-001" LIMIT 1')
    assert status == 200 and "xing_ming" not in body["rows"][0]
    # A dataset the public may not see is as unknown as one that does not exist.
    for code in ("SC-001", "NOPE-1"):
        status, body = sql(client, f'SELECT * FROM "{code}"')
        assert status == 400 and f'unknown table "{code}"' in body["detail"], body
    status, body = sql(client, 'SELECT count(*) AS n FROM "SC-001"', headers=as_operator())
    assert status == 200 and body["rows"] == [{"n": 40}]
    joined = (
        'SELECT count(*) AS n FROM "GA-001" g JOIN "SC-001" s ON g.yue_shou_ru = s.zhu_ce_zi_ben'
    )
    assert sql(client, joined)[0] == 400
    assert sql(client, joined, headers=as_operator())[0] == 200


REFUSED = {
    "read_csv": ("SELECT * FROM read_csv('/etc/passwd')", "not allowed"),
    "read_parquet in FROM": ("SELECT * FROM read_parquet('x.parquet')", "not allowed"),
    "read_text as a function": ("SELECT read_text('/etc/passwd') FROM \"GA-001\"", "read_text"),
    "glob": ("SELECT * FROM glob('/*')", "not allowed"),
    "a file as a table": ("SELECT * FROM '/etc/passwd'", "unknown table"),
    "COPY": ("COPY \"GA-001\" TO '/tmp/out.csv'", "only SELECT"),
    "ATTACH": ("ATTACH '/tmp/x.db' AS x", "only SELECT"),
    "PRAGMA": ("PRAGMA database_list", "only SELECT"),
    "SET": ("SET memory_limit = '10GB'", "only SELECT"),
    "INSTALL": ("INSTALL httpfs", "only SELECT"),
    "LOAD": ("LOAD httpfs", "only SELECT"),
    "two statements": ('SELECT 1 FROM "GA-001"; SELECT 2 FROM "GA-001"', "exactly one"),
    "a comment hiding a second statement": (
        'SELECT 1 FROM "GA-001" -- harmless\n; DROP TABLE x',
        "exactly one",
    ),
    "CREATE": ("CREATE TABLE x AS SELECT 1", "only SELECT"),
    "DROP": ('DROP TABLE "GA-001"', "only SELECT"),
    "INSERT": ('INSERT INTO "GA-001" VALUES (1)', "only SELECT"),
    "UPDATE": ("UPDATE \"GA-001\" SET xing_bie = 'x'", "only SELECT"),
    "DELETE": ('DELETE FROM "GA-001"', "only SELECT"),
    "SELECT INTO": ('SELECT * INTO x FROM "GA-001"', "not"),
    "a system catalog": ("SELECT * FROM duckdb_settings()", "not allowed"),
    "a schema-qualified table": ("SELECT * FROM information_schema.tables", "codes alone"),
    "current_setting": ("SELECT current_setting('memory_limit') FROM \"GA-001\"", "not allowed"),
    "no table": ("SELECT 1", "reads no dataset"),
    "unknown table": ("SELECT * FROM people", "unknown table"),
    "not SQL": ("SELEKT everything", "SELECT"),
    "a parameter": ('SELECT * FROM "GA-001" WHERE yue_shou_ru = $1', "not"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refusals_say_what_was_refused(served: tuple[Hub, TestClient], case: str) -> None:
    _, client = served
    text, says = REFUSED[case]
    r = client.post("/api/v1/sql", json={"sql": text}, headers=as_operator())
    assert r.status_code == 400, (case, r.json())
    assert r.headers["content-type"] == "application/problem+json"
    assert says in r.json()["detail"], (case, r.json()["detail"])


def test_a_slow_query_is_stopped(served: tuple[Hub, TestClient]) -> None:
    hub, client = served
    client.app.state.services.hub.settings = hub.settings.model_copy(  # type: ignore[attr-defined]
        update={"sql_timeout_seconds": 0.3}
    )
    status, body = sql(
        client,
        'SELECT count(*) FROM "GA-001" a, "GA-001" b, "GA-001" c, "GA-001" d '
        "WHERE (a.yue_shou_ru + b.yue_shou_ru + c.yue_shou_ru + d.yue_shou_ru) % 7 = 3",
    )
    assert status == 422 and "longer than 0.3 s" in body["detail"], body


def test_the_engine_reads_the_lake_and_nothing_else(hub: Hub, tmp_path: Path) -> None:
    """The second lock: even SQL built by the server cannot read a file outside the lake or
    change the engine's settings."""
    outside = tmp_path / "secret.csv"
    outside.write_text("a\n1\n", encoding="utf-8")
    engine = Engine(Settings(home=hub.settings.home))
    try:
        for text in (
            f"SELECT * FROM read_csv('{outside}')",
            "SET enable_external_access = true",
            "SET memory_limit = '64GB'",
            f"ATTACH '{tmp_path / 'x.db'}' AS x",
        ):
            with pytest.raises(duckdb.Error):
                engine.table(text)
    finally:
        engine.close()
