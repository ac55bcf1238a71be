"""Downloads: every format parsed back equals what /rows pages out; access, errors, the BOM, the
cursor freed when a client leaves, and bounded memory on a table of millions of rows."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx
import openpyxl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from starlette.requests import ClientDisconnect

from cityhub.access import Door, audit_read, operator
from cityhub.access.audit import AuditLog
from cityhub.api.export import Download
from cityhub.catalog import service
from cityhub.config import Settings
from cityhub.errors import InvalidInput
from cityhub.hub import Hub
from cityhub.ingest import SyncOptions, sync_file
from cityhub.query import Engine
from cityhub.query import export as ex

from .conftest import PEOPLE, TOKEN, as_operator

FORMATS = ["csv", "json", "ndjson", "parquet", "xlsx"]
Rows = list[dict[str, Any]]


def all_rows(client: TestClient, code: str, params: dict[str, Any], **kw: Any) -> tuple[Rows, Any]:
    """Every row /rows pages out for `params`, and its fields."""
    rows: Rows = []
    cursor = None
    while True:
        extra: dict[str, str] = {"cursor": cursor} if cursor else {}
        page = client.get(f"/api/v1/datasets/{code}/rows", params={**params, **extra}, **kw)
        assert page.status_code == 200, page.text
        body = page.json()
        rows += body["rows"]
        cursor = body["next_cursor"]
        if cursor is None:
            return rows, body["fields"]


def parsed(fmt: str, body: bytes) -> Rows:
    """An export read back with the format's usual reader."""
    match fmt:
        case "csv":
            found = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
            typed = pacsv.read_csv(io.BytesIO(body)).to_pylist()  # pyarrow reads the same
            assert [{k: _text(v) for k, v in r.items()} for r in typed] == found
            return [dict(r) for r in found]
        case "json":
            assert body.startswith(b"[") and body.endswith(b"]\n")
            return list(json.loads(body))
        case "ndjson":
            return [json.loads(line) for line in body.decode().splitlines()]
        case "parquet":
            return list(pq.read_table(io.BytesIO(body)).to_pylist())
    sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).active
    assert sheet is not None
    header, *values = list(sheet.iter_rows(values_only=True))
    return [dict(zip(header, v, strict=True)) for v in values]


def _text(v: Any) -> str:
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    return "" if v is None else str(v)


def canon(value: Any, data_type: str) -> Any:
    """One value whatever the format carried it as (text, number, date object)."""
    if value is None:
        return None
    match data_type:
        case "integer":
            return int(value)
        case "decimal":
            return float(value)
        case "date":
            if isinstance(value, dt.datetime):  # Excel has only date-times
                return value.date().isoformat()
            return value.isoformat() if isinstance(value, dt.date) else str(value)
        case "timestamp":
            if isinstance(value, str):
                value = dt.datetime.fromisoformat(value)
            return value.isoformat()
    return str(value)


def canonical(rows: Rows, fields: list[dict[str, Any]]) -> Rows:
    types = {f["name"]: f["data_type"] for f in fields}
    return [{k: canon(v, types[k]) for k, v in r.items()} for r in rows]


def download(client: TestClient, code: str, fmt: str, **kw: Any) -> httpx.Response:
    r = client.get(f"/api/v1/datasets/{code}/export.{fmt}", **kw)
    assert r.status_code == 200, r.text
    return r


CASES: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "everything-public": ({}, {}),
    "select-filter-sort": (
        {
            "select": "身份证号码,姓名,性别,月收入,登记时间,出生日期",
            "filter": ["xing_bie:eq:男", "yue_shou_ru:gte:1500"],
            "sort": "-chu_sheng_ri_qi",  # many ties: broken by the rows' place, as /rows does
        },
        as_operator(),
    ),
    "limit": ({"sort": "xing_bie,-yue_shou_ru", "limit": 37}, {}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_format_matches_the_rows_route(served: tuple[Hub, TestClient], case: str) -> None:
    _, client = served
    params, headers = CASES[case]
    limit = params.get("limit")
    page_params = {k: v for k, v in params.items() if k != "limit"} | {"limit": 60}
    expected, fields = all_rows(client, "GA-001", page_params, headers=headers)
    expected = expected[:limit] if limit else expected
    assert len(expected) > 1
    names = [f["name"] for f in fields]
    for fmt in FORMATS:
        r = download(client, "GA-001", fmt, params=params, headers=headers)
        assert r.headers["content-type"] == ex.FORMATS[fmt].media_type
        assert r.headers["content-disposition"] == (
            f"attachment; filename=\"GA-001.{fmt}\"; filename*=UTF-8''GA-001.{fmt}"
        )
        assert r.headers["x-row-count"] == str(len(expected))
        got = parsed(fmt, r.content)
        assert all(list(row) == names for row in got), fmt  # the columns, in /rows' order
        assert canonical(got, fields) == canonical(expected, fields), fmt


def test_json_is_what_rows_answers_value_for_value(served: tuple[Hub, TestClient]) -> None:
    _, client = served
    expected, _ = all_rows(client, "GA-001", {"limit": 100})
    assert json.loads(download(client, "GA-001", "json").content) == expected
    lines = download(client, "GA-001", "ndjson").content.decode().splitlines()
    assert [json.loads(line) for line in lines] == expected
    assert "性别" not in lines[0] and "男" in "".join(lines)  # Chinese as is, not \u-escaped


def test_post_takes_the_query_body(served: tuple[Hub, TestClient]) -> None:
    _, client = served
    body = {
        "select": ["xing_bie", "yue_shou_ru"],
        "filters": [{"field": "yue_shou_ru", "op": "lt", "value": 1500}],
        "sort": ["-yue_shou_ru"],
        "include_total": True,  # a /query body as it is: what does not apply is ignored
    }
    got = client.post("/api/v1/datasets/GA-001/export.csv", json=body)
    same = download(
        client,
        "GA-001",
        "csv",
        params={
            "select": "xing_bie,yue_shou_ru",
            "filter": "yue_shou_ru:lt:1500",
            "sort": "-yue_shou_ru",
        },
    )
    assert got.status_code == 200 and got.content == same.content
    assert got.headers["x-row-count"] == "50"
    limited = client.post("/api/v1/datasets/GA-001/export.ndjson", json={**body, "limit": 3})
    assert [json.loads(x)["yue_shou_ru"] for x in limited.content.splitlines()] == [
        1490,
        1480,
        1470,
    ]
    paged = client.post("/api/v1/datasets/GA-001/export.csv", json={"cursor": "abc"})
    assert paged.status_code == 400 and "not paged" in paged.json()["detail"]


def test_a_bom_only_when_asked(served: tuple[Hub, TestClient]) -> None:
    _, client = served
    with_bom = download(client, "GA-001", "csv", params={"bom": "true"}).content
    plain = download(client, "GA-001", "csv").content
    assert with_bom == ex.BOM + plain and not plain.startswith(ex.BOM)
    assert with_bom.decode("utf-8-sig").startswith('"xing_bie"')
    for fmt in ("json", "ndjson", "parquet", "xlsx"):  # a BOM is for CSV only
        assert not download(client, "GA-001", fmt, params={"bom": "true"}).content.startswith(
            ex.BOM
        )


def test_the_public_gets_no_sensitive_field(served: tuple[Hub, TestClient]) -> None:
    _, client = served
    sensitive = {"shen_fen_zheng_hao_ma", "xing_ming"}
    _, fields = all_rows(client, "GA-001", {"limit": 1000})
    public = [f["name"] for f in fields]
    assert not sensitive & set(public)
    for fmt in FORMATS:
        got = parsed(fmt, download(client, "GA-001", fmt).content)
        assert list(got[0]) == public, fmt
        body = download(client, "GA-001", fmt).content
        assert b"330402" not in body and "张".encode() not in body  # no ID number, no name
        for select in ("shen_fen_zheng_hao_ma", "姓名"):
            r = client.get(f"/api/v1/datasets/GA-001/export.{fmt}", params={"select": select})
            assert r.status_code == 404 and "you may read" in r.json()["detail"]
            assert r.headers["content-type"] == "application/problem+json"
        r = client.get(
            f"/api/v1/datasets/GA-001/export.{fmt}", params={"filter": "xing_ming:eq:张伟伟"}
        )
        assert r.status_code == 404
    full = parsed("csv", download(client, "GA-001", "csv", headers=as_operator()).content)
    assert sensitive <= set(full[0])


def problem(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return str(r.json()["detail"])


def test_mistakes_answer_problems_before_any_byte(
    served: tuple[Hub, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, client = served
    url = "/api/v1/datasets/{}/export.{}"
    for fmt in FORMATS:  # invisible: as if it did not exist
        assert problem(client.get(url.format("SC-001", fmt)), 404) == "no dataset 'SC-001'"
        assert problem(client.post(url.format("SC-001", fmt), json={}), 404)
    assert client.get(url.format("SC-001", "csv"), headers=as_operator()).status_code == 200
    assert "no data yet" in problem(
        client.get(url.format("SC-002", "csv"), headers=as_operator()), 404
    )
    bad = {
        "yue_shou_ru:gt:many": "field 'yue_shou_ru': expected integer (整数), found 'many'",
        "yue_shou_ru:between:1": "unknown operator",
        "yue_shou_ru": "expected field:op:value",
        "yue_shou_ru:contains:1": "works on text fields only",
    }
    for text, says in bad.items():
        assert says in problem(
            client.get(url.format("GA-001", "csv"), params={"filter": text}), 400
        )
    assert "no field 'nope'" in problem(
        client.get(url.format("GA-001", "json"), params={"sort": "nope"}), 404
    )
    assert "path.fmt" in problem(client.get(url.format("GA-001", "xls")), 400)
    assert problem(client.get(url.format("GA-001", "csv"), params={"limit": 0}), 400)
    # Past Excel's sheet limit (made small here) the export is refused, pointing elsewhere.
    monkeypatch.setattr(ex, "XLSX_MAX_ROWS", 100)
    says = problem(client.get(url.format("GA-001", "xlsx")), 400)
    assert "at most 100 rows" in says and "250" in says and "CSV or Parquet" in says
    assert download(client, "GA-001", "xlsx", params={"limit": 100}).headers["x-row-count"] == "100"


def test_several_files_and_versions_keep_the_order(
    served: tuple[Hub, TestClient], tmp_path: Path
) -> None:
    hub, client = served
    header, *lines = PEOPLE.splitlines(keepends=True)
    for i, part in enumerate((lines[:30], lines[30:45])):  # two more files in version 1 and 2
        path = tmp_path / f"more{i}.csv"
        path.write_text(header + "".join(part), encoding="utf-8")
        sync_file(hub, "GA-001", path, SyncOptions(mode="append"))
    assert len(hub.lake.files("GA-001")) == 3
    for params in ({}, {"version": 1}, {"filter": "xing_bie:eq:女"}):
        expected, fields = all_rows(client, "GA-001", {**params, "limit": 70})
        for fmt in ("csv", "json", "parquet"):
            got = parsed(fmt, download(client, "GA-001", fmt, params=params).content)
            assert canonical(got, fields) == canonical(expected, fields), (fmt, params)
    assert download(client, "GA-001", "csv", params={"version": 0}).headers["x-row-count"] == "250"


def test_every_export_is_recorded(served: tuple[Hub, TestClient]) -> None:
    hub, client = served
    download(client, "GA-001", "parquet", params={"filter": "xing_bie:eq:男"})
    client.post("/api/v1/datasets/GA-001/export.xlsx", json={"limit": 7}, headers=as_operator())
    with hub.db.session() as s:
        second, first = audit_read.search(s, action="read", dataset="GA-001", limit=2)
    assert (first.actor, first.version, first.rows) == ("anonymous", 0, 125)
    assert first.detail["kind"] == "export" and "xing_bie" in first.fields
    assert "shen_fen_zheng_hao_ma" not in first.fields  # withheld from the public
    assert (second.actor, second.rows) == ("operator", 7)
    assert second.fields[0] == "shen_fen_zheng_hao_ma"
    assert first.fingerprint and first.fingerprint != second.fingerprint
    assert AuditLog(hub.db).verify().ok


def _started(hub: Hub, engine: Engine, fmt: str) -> ex.Export:
    with hub.db.session() as s:
        view = Door(hub.lake).table(s, operator(), "GA-001")
    return ex.start(engine, view, ex.ExportQuery(), fmt)


def test_the_cursor_is_freed_at_the_end_on_close_and_when_the_client_leaves(
    served: tuple[Hub, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    hub, _ = served
    engine = Engine(hub.settings)
    monkeypatch.setattr(ex, "ROWS_PER_BATCH", 16)  # many chunks from a small table
    try:
        done = _started(hub, engine, "ndjson")
        assert len(b"".join(done.chunks).splitlines()) == 250 and done.batches.closed
        half = _started(hub, engine, "csv")
        next(half.chunks), next(half.chunks)
        assert not half.batches.closed
        half.close()
        half.close()  # twice is fine
        assert half.batches.closed

        # Over ASGI: the client goes away after the first piece of the body.
        left = _started(hub, engine, "json")
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and sent:
                raise OSError("connection reset by peer")
            sent.append(message)

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        scope = {"type": "http", "asgi": {"spec_version": "2.4"}, "method": "GET"}
        with pytest.raises(ClientDisconnect):
            asyncio.run(Download(left)(scope, receive, send))
        assert left.batches.closed
    finally:
        engine.close()


def test_writers_escape_and_type_values() -> None:
    table = pa.table(
        {
            "s": ['引号"与\\反斜杠', "line\nbreak\ttab\x01", None, ""],
            "f": [1.5, float("nan"), None, 1e20],
            "b": [True, False, None, True],
            "d": pa.array(
                [Decimal("12.50"), None, Decimal("-1"), Decimal("0")], pa.decimal128(10, 2)
            ),
            "t": pa.array(
                [
                    dt.datetime(2017, 10, 1, 8, 30),
                    dt.datetime(2017, 10, 1, 8, 30, 0, 120000),
                    None,
                    None,
                ],
                pa.timestamp("us"),
            ),
            "z": pa.array(
                [dt.datetime(2017, 10, 1, 0, 30), None, None, None],
                pa.timestamp("us", "Asia/Shanghai"),
            ),
            "day": pa.array([dt.date(2020, 2, 29), None, None, None]),
            "tags": pa.array([["甲", "b"], None, [], [dt.date(2020, 1, 2).isoformat()]]),
        }
    )
    batches = table.to_batches(max_chunksize=3)
    assert len(batches) == 2
    rows = json.loads(b"".join(ex.json_chunks(table.schema, batches)))
    assert rows[0] == {
        "s": '引号"与\\反斜杠',
        "f": 1.5,
        "b": True,
        "d": 12.5,
        "t": "2017-10-01T08:30:00",
        "z": "2017-10-01T08:30:00+08:00",
        "day": "2020-02-29",
        "tags": ["甲", "b"],
    }
    assert rows[1]["s"] == "line\nbreak\ttab\x01" and rows[1]["f"] is None  # NaN is not JSON
    assert rows[1]["t"] == "2017-10-01T08:30:00.120000"
    assert rows[2] == dict.fromkeys(table.column_names) | {"d": -1, "tags": []}
    assert rows[3]["s"] == "" and rows[3]["f"] == 1e20
    ndjson = b"".join(ex.ndjson_chunks(table.schema, batches)).decode().splitlines()
    assert [json.loads(line) for line in ndjson] == rows
    assert json.loads(b"".join(ex.json_chunks(table.schema, []))) == []
    text = b"".join(ex.csv_chunks(table.schema, batches)).decode()
    found = list(csv.DictReader(io.StringIO(text)))
    assert found[0]["t"] == "2017-10-01 08:30:00" and found[1]["s"] == "line\nbreak\ttab\x01"
    assert json.loads(found[0]["tags"]) == ["甲", "b"] and found[1]["tags"] == ""
    assert (found[2]["s"], found[3]["s"]) == ("", "") and "\n," in text  # null: empty, unquoted
    back = pq.read_table(io.BytesIO(b"".join(ex.parquet_chunks(table.schema, batches))))
    assert back.schema == table.schema and str(back["f"]) == str(table["f"])  # NaN != NaN
    assert back.drop_columns(["f"]).equals(table.drop_columns(["f"]))
    sheet = openpyxl.load_workbook(
        io.BytesIO(b"".join(ex.xlsx_chunks(table.schema, batches, sheet="人口/[明细]")))
    ).active
    assert sheet is not None and sheet.title == "人口  明细"
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == tuple(table.column_names)
    assert values[2][0] == "line\nbreak\ttab" and values[2][1] is None  # no XML-illegal char


def test_xlsx_leaves_no_temporary_file_when_it_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from openpyxl.worksheet import _writer

    batch = pa.record_batch({"a": [1, 2, 3]})
    left = len(_writer.ALL_TEMP_FILES)

    def failing() -> Iterator[pa.RecordBatch]:
        yield batch
        raise RuntimeError("the engine stopped")

    with pytest.raises(RuntimeError):
        b"".join(ex.xlsx_chunks(batch.schema, failing()))
    monkeypatch.setattr(ex, "XLSX_MAX_ROWS", 5)  # the writer checks too, not only `start`
    with pytest.raises(InvalidInput, match="CSV or Parquet"):
        b"".join(ex.xlsx_chunks(batch.schema, [batch, batch]))
    assert len(_writer.ALL_TEMP_FILES) == left


# -- bounded memory on millions of rows (a real server in its own process) -------------------------

BIG_ROWS = 2_000_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's VmHWM")
def test_millions_of_rows_export_in_bounded_memory(tmp_path: Path) -> None:
    home = tmp_path / "home"
    hub = Hub(Settings(home=home, operator="tester"))
    hub.init()
    with hub.db.session() as s:
        service.upsert_department(s, "330400-SCJG", "市市场监管局")
        service.upsert_dataset(s, "BIG-1", "330400-SCJG", name="大表", open_type="无条件开放")
    source = tmp_path / "big.parquet"
    duckdb.sql(
        f"COPY (SELECT 'E' || lpad(range::VARCHAR, 9, '0') AS 编号, '嘉兴企业' || range AS 名称, "
        "round(random() * 1e6, 2) AS 金额, (range % 10000)::BIGINT AS 数量, "
        "DATE '2020-01-01' + (range % 1500)::INTEGER AS 日期 "
        f"FROM range({BIG_ROWS})) TO '{source}' (FORMAT parquet)"
    )
    sync_file(hub, "BIG-1", source)
    hub.close()

    port = _free_port()
    env = {**os.environ, "CITYHUB_HOME": str(home), "CITYHUB_OPERATOR_TOKEN": TOKEN}
    env.pop("CITYHUB_DATABASE_URL", None)
    log = tmp_path / "server.log"
    with log.open("wb") as err:
        server = subprocess.Popen(
            [sys.executable, "-m", "cityhub.cli", "serve", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    base = f"http://127.0.0.1:{port}/api/v1/datasets/BIG-1"
    try:
        with httpx.Client(timeout=120) as http:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if http.get(f"{base}/export.csv?limit=10").status_code == 200:
                        break
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the server did not start: {log.read_text()}")
                time.sleep(0.2)
            for fmt in ("json", "parquet"):  # warm every writer's imports up
                assert http.get(f"{base}/export.{fmt}?limit=10").status_code == 200
            start = _peak_kib(server.pid)

            def fetch(fmt: str, limit: int | None = None) -> tuple[int, int, int]:
                """One export's bytes, its chunks, and how far it raised the server's peak RSS."""
                before = _peak_kib(server.pid)
                size = chunks = 0
                params = {"limit": limit} if limit else {}
                with http.stream("GET", f"{base}/export.{fmt}", params=params) as r:
                    assert r.status_code == 200
                    assert r.headers["x-row-count"] == str(limit or BIG_ROWS)
                    for chunk in r.iter_raw():
                        size += len(chunk)
                        chunks += 1
                return size, chunks, (_peak_kib(server.pid) - before) * 1024

            # A quarter of the table first takes the engine's and the writer's working memory;
            # exporting the whole table then may only add what grows with the output.
            quarter = fetch("ndjson", BIG_ROWS // 4)
            ndjson = fetch("ndjson")
            csv_ = fetch("csv")
            total = (_peak_kib(server.pid) - start) * 1024
            # A client that leaves early: the server carries on serving.
            with http.stream("GET", f"{base}/export.json") as r:
                next(r.iter_raw())
            assert http.get(f"{base}/export.csv?limit=1").status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert ndjson[0] > 200 * 2**20 and csv_[0] > 100 * 2**20 and quarter[0] < ndjson[0] / 3
    assert ndjson[1] > 100 and csv_[1] > 100  # sent as it was made, not at the end
    figures = (quarter, ndjson, csv_, total)
    assert ndjson[2] < ndjson[0] / 4 and csv_[2] < csv_[0] / 4, figures
    assert total < ndjson[0], figures  # held whole, the result alone would take more
