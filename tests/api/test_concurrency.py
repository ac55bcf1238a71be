"""Many reads at once on a live server: each read holds a catalog connection while its audit
record is written, so the audit must not wait for a connection from the same pool (with more
requests in flight than the pool has connections, every append would wait for a request that
waits for its append)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from .conftest import TOKEN, person_id

READERS = 32  # more than the catalog pool's 15 connections (5 + 10 overflow)


def _read(url: str) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=20) as r:
        return r.status, json.loads(r.read())


def test_many_audited_reads_at_once(live: str) -> None:
    lookups = [
        f"{live}/api/v1/datasets/GA-001/rows?"
        + urllib.parse.urlencode({"filter": f"shen_fen_zheng_hao_ma:eq:{person_id(i)}"})
        for i in range(READERS)
    ]
    pages = [f"{live}/api/v1/datasets/SC-001/rows?limit=5" for _ in range(READERS)]
    with ThreadPoolExecutor(2 * READERS) as pool:
        answers = list(pool.map(_read, lookups + pages))
    assert [status for status, _ in answers] == [200] * (2 * READERS)
    found = [body["rows"] for _, body in answers[:READERS]]
    assert [len(rows) for rows in found] == [1] * READERS  # type: ignore[arg-type]
    assert all(len(body["rows"]) == 5 for _, body in answers[READERS:])  # type: ignore[arg-type]
    # every read was recorded, once, and the chain of records still holds
    _, logged = _read(f"{live}/api/v1/audit?action=read&limit=1000")
    assert len(logged["items"]) == 2 * READERS  # type: ignore[arg-type]
    _, verdict = _read(f"{live}/api/v1/audit/verify")
    assert verdict["ok"] is True
