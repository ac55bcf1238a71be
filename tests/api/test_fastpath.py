"""Rows and catalog searches by GET on the fast path answer exactly as the routes do, errors
and audit included."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from cityhub.access.models import AuditRecord
from cityhub.api import fastpath
from cityhub.catalog import service
from cityhub.errors import CityhubError
from cityhub.hub import Hub

from .conftest import as_operator, person_id

KEY = "shen_fen_zheng_hao_ma"
ROWS = "/api/v1/datasets/GA-001/rows"


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The requests the fast path answered itself: those whose read it prepared, or refused
    with an error of its own (an error on reading goes to the app's handler from there too)."""
    answered: list[str] = []
    real = fastpath.prepared

    def counted(request: Any) -> Any:
        try:
            work = real(request)
        except CityhubError:
            answered.append(request.url.path)
            raise
        if work is not None:
            answered.append(request.url.path)
        return work

    monkeypatch.setattr(fastpath, "prepared", counted)
    return answered


def both(
    client: TestClient, path: str, params: dict[str, Any], headers: dict[str, str]
) -> tuple[Any, Any]:
    """The answer of the fast path and the route's (an extra parameter sends it there)."""
    fast = client.get(path, params=params, headers=headers)
    routed = client.get(path, params={**params, "via": "route"}, headers=headers)
    return fast, routed


ASKS: list[dict[str, Any]] = [
    {"filter": f"{KEY}:eq:{person_id(7)}"},
    {"filter": [f"{KEY}:in:{person_id(3)},{person_id(4)}", "xing_bie:eq:男"], "select": "xing_bie"},
    {"sort": "-yue_shou_ru", "limit": 5, "include_total": "true"},
    {"select": ["xing_bie", "yue_shou_ru"], "limit": "3", "version": 0},
    {"filter": "xing_bie:eq:女", "sort": "chu_sheng_ri_qi", "limit": 2},
]


@pytest.mark.parametrize("ask", range(len(ASKS)))
def test_the_fast_path_answers_as_the_route(
    served: tuple[Hub, TestClient], taken: list[str], ask: int
) -> None:
    _, client = served
    fast, routed = both(client, ROWS, ASKS[ask], as_operator())
    assert fast.status_code == routed.status_code == 200, fast.json()
    assert fast.json() == routed.json()
    assert fast.json()["rows"]
    assert fast.headers["content-type"] == routed.headers["content-type"]
    assert "server-timing" in fast.headers and "ratelimit-limit" in fast.headers
    assert taken == [ROWS]  # the first was answered on the fast path, the second by the route


def test_pages_follow_on_the_fast_path(served: tuple[Hub, TestClient], taken: list[str]) -> None:
    _, client = served
    first = client.get(ROWS, params={"limit": 2, "sort": "yue_shou_ru"}, headers=as_operator())
    cursor = first.json()["next_cursor"]
    fast, routed = both(
        client, ROWS, {"limit": 2, "sort": "yue_shou_ru", "cursor": cursor}, as_operator()
    )
    assert fast.json() == routed.json() and fast.json()["rows"] != first.json()["rows"]
    assert len(taken) == 2


def test_the_public_reads_the_same_fields_either_way(
    served: tuple[Hub, TestClient], taken: list[str]
) -> None:
    _, client = served
    fast, routed = both(client, ROWS, {"limit": 3}, {})
    assert fast.status_code == 200 and fast.json() == routed.json()
    names = {f["name"] for f in fast.json()["fields"]}
    assert KEY not in names and "xing_ming" not in names  # graded L4: withheld
    assert all(KEY not in r for r in fast.json()["rows"])
    assert taken == [ROWS]


@pytest.mark.parametrize(
    ("path", "params", "headers", "status"),
    [
        ("/api/v1/datasets/NO-SUCH/rows", {}, as_operator(), 404),
        ("/api/v1/datasets/SC-001/rows", {}, {}, 404),  # not open: the public cannot see it
        ("/api/v1/datasets/SC-002/rows", {}, as_operator(), 404),  # cataloged, no data
        (ROWS, {"filter": "nonsense"}, as_operator(), 400),
        (ROWS, {"filter": "no_such_field:eq:1"}, as_operator(), 404),
        (ROWS, {"select": "no_such_field"}, as_operator(), 404),
        (ROWS, {"cursor": "garbage"}, as_operator(), 400),
        (ROWS, {}, {"Authorization": "Bearer not-a-token"}, 401),
    ],
)
def test_errors_are_the_routes(
    served: tuple[Hub, TestClient],
    taken: list[str],
    path: str,
    params: dict[str, Any],
    headers: dict[str, str],
    status: int,
) -> None:
    _, client = served
    fast, routed = both(client, path, params, headers)
    assert fast.status_code == routed.status_code == status
    assert fast.headers["content-type"] == "application/problem+json"
    assert fast.json() == routed.json()
    assert taken == [path]


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": "many"}, {"version": -1}, {"include_total": "maybe"}],
)
def test_values_the_route_refuses_go_to_the_route(
    served: tuple[Hub, TestClient], taken: list[str], params: dict[str, Any]
) -> None:
    _, client = served
    answer = client.get(ROWS, params=params, headers=as_operator())
    assert answer.status_code == 400, answer.json()
    assert answer.json()["title"] == "Invalid input"
    assert taken == []


def test_a_value_given_twice_is_the_routes_to_read(
    served: tuple[Hub, TestClient], taken: list[str]
) -> None:
    _, client = served
    answer = client.get(ROWS, params={"limit": [1, 2]}, headers=as_operator())
    assert answer.status_code == 200 and len(answer.json()["rows"]) == 2  # the last one counts
    assert taken == []


def test_reads_on_the_fast_path_are_audited(
    served: tuple[Hub, TestClient], taken: list[str]
) -> None:
    hub, client = served

    def reads() -> int:
        with hub.db.session() as s:
            return int(
                s.scalar(
                    sa.select(sa.func.count())
                    .select_from(AuditRecord)
                    .where(AuditRecord.action == "read", AuditRecord.dataset == "GA-001")
                )
                or 0
            )

    before = reads()
    for i in range(3):
        r = client.get(ROWS, params={"filter": f"{KEY}:eq:{person_id(i)}"}, headers=as_operator())
        assert r.status_code == 200
    assert reads() == before + 3 and len(taken) == 3


SEARCH = "/api/v1/datasets"
SEARCHES: list[tuple[dict[str, Any], dict[str, str]]] = [
    ({}, as_operator()),
    ({"q": "人口"}, {}),
    ({"q": "市场主体"}, as_operator()),
    ({"q": "许可", "department": "330400-SCJG"}, as_operator()),
    ({"open_type": "无条件开放", "limit": 1, "offset": "0"}, {}),
    ({"limit": 1, "offset": 1}, as_operator()),
    ({"q": "没有这样的数据"}, as_operator()),
]


@pytest.mark.parametrize("ask", range(len(SEARCHES)))
def test_catalog_searches_answer_as_the_route(
    served: tuple[Hub, TestClient], taken: list[str], ask: int
) -> None:
    _, client = served
    params, headers = SEARCHES[ask]
    fast, routed = both(client, SEARCH, params, headers)
    assert fast.status_code == routed.status_code == 200, fast.json()
    assert fast.json() == routed.json()
    assert fast.headers["content-type"] == routed.headers["content-type"]
    assert taken == [SEARCH]


def test_the_public_searches_only_what_it_may_see(
    served: tuple[Hub, TestClient], taken: list[str]
) -> None:
    _, client = served
    public = client.get(SEARCH).json()
    everything = client.get(SEARCH, headers=as_operator()).json()
    assert [d["code"] for d in public["items"]] == ["GA-001"]  # SC-001 is not open
    assert {d["code"] for d in everything["items"]} == {"GA-001", "SC-001", "SC-002"}
    assert taken == [SEARCH, SEARCH]


def test_a_catalog_change_shows_in_the_next_search(
    served: tuple[Hub, TestClient], taken: list[str]
) -> None:
    hub, client = served
    assert client.get(SEARCH, params={"q": "公积金"}).json()["total"] == 0
    with hub.db.session() as s:
        service.upsert_dataset(
            s, "GJJ-001", "330400-GA", name="住房公积金缴存信息", open_type="无条件开放"
        )
    assert [d["code"] for d in client.get(SEARCH, params={"q": "公积金"}).json()["items"]] == [
        "GJJ-001"
    ]
    assert len(taken) == 2


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"limit": 5000}, 400),
        ({"limit": "some"}, 400),
        ({"offset": -1}, 400),
        ({"q": ["人口", "许可"]}, 200),  # given twice: the route reads the last one
    ],
)
def test_search_values_the_route_refuses_or_reads_go_to_the_route(
    served: tuple[Hub, TestClient], taken: list[str], params: dict[str, Any], status: int
) -> None:
    _, client = served
    answer = client.get(SEARCH, params=params, headers=as_operator())
    assert answer.status_code == status, answer.json()
    assert taken == []


def test_a_search_with_a_bad_token_is_refused_as_the_route_refuses_it(
    served: tuple[Hub, TestClient], taken: list[str]
) -> None:
    _, client = served
    fast, routed = both(client, SEARCH, {"q": "人口"}, {"Authorization": "Bearer not-a-token"})
    assert fast.status_code == routed.status_code == 401
    assert fast.json() == routed.json() and taken == [SEARCH]


# -- where the reads run --------------------------------------------------------------------------
@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The fast path's reads sent to the thread pool (the others ran on the event loop)."""
    sent: list[str] = []
    real = fastpath.run_in_threadpool

    async def counted(func: Any, *args: Any) -> Any:
        sent.append(func.__name__)
        return await real(func, *args)

    monkeypatch.setattr(fastpath, "run_in_threadpool", counted)
    return sent


def reads_of(hub: Hub) -> int:
    with hub.db.session() as s:
        query = sa.select(sa.func.count()).select_from(AuditRecord)
        return int(s.scalar(query.where(AuditRecord.action == "read")) or 0)


def test_small_reads_on_sqlite_run_on_the_event_loop_and_the_others_on_the_pool(
    served: tuple[Hub, TestClient], pooled: list[str]
) -> None:
    """A lookup the key index answers alone and a catalog search are answered in place on
    SQLite, a scan or a long page on the thread pool; over PostgreSQL, every read is pooled.
    Either way each read is audited once, and answered as the route answers it."""
    hub, client = served
    assert client.app.state.services.lookups.wait(30)  # type: ignore[attr-defined]
    small = hub.db.dialect == "sqlite"
    asks: list[tuple[str, dict[str, Any], bool]] = [
        (ROWS, {"filter": f"{KEY}:eq:{person_id(7)}"}, small),
        (ROWS, {"filter": f"{KEY}:in:{person_id(3)},{person_id(9)}", "limit": 100}, small),
        (SEARCH, {"q": "人口"}, small),
        (ROWS, {"filter": "xing_bie:eq:女"}, False),  # not the key: the engine scans
        (ROWS, {"filter": f"{KEY}:eq:{person_id(7)}", "sort": "yue_shou_ru"}, False),
        (ROWS, {"filter": f"{KEY}:eq:{person_id(7)}", "limit": 101}, False),
        (ROWS, {"filter": f"{KEY}:in:" + ",".join(person_id(i) for i in range(101))}, False),
    ]
    for path, params, in_place in asks:
        before, sent = reads_of(hub), len(pooled)
        fast, routed = both(client, path, params, as_operator())
        assert fast.status_code == routed.status_code == 200, fast.json()
        assert fast.json() == routed.json()
        assert len(pooled) - sent == (0 if in_place else 1), (path, params)
        audited = 0 if path == SEARCH else 2  # the fast path's read and the route's
        assert reads_of(hub) - before == audited, (path, params)


def test_a_lookup_that_would_open_its_index_goes_to_the_pool(
    served: tuple[Hub, TestClient], pooled: list[str]
) -> None:
    """Opening an index maps its file and samples its keys: a process's first lookup of it
    does that on the thread pool, and the lookups after it run in place (on SQLite)."""
    hub, client = served
    lookups = client.app.state.services.lookups  # type: ignore[attr-defined]
    assert lookups.wait(30)
    lookups._open.clear()  # as in a process started after the index was built
    ask = {"filter": f"{KEY}:eq:{person_id(7)}"}
    first = client.get(ROWS, params=ask, headers=as_operator())
    second = client.get(ROWS, params=ask, headers=as_operator())
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() and len(first.json()["rows"]) == 1
    assert len(pooled) == (1 if hub.db.dialect == "sqlite" else 2)


def test_a_lookup_whose_audit_cannot_be_written_is_refused_in_place_and_on_the_route(
    served: tuple[Hub, TestClient], pooled: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No row leaves unaudited: when the record of a lookup answered on the event loop cannot
    be written, the answer is the 503 the route gives, with none of the rows."""
    hub, client = served
    assert client.app.state.services.lookups.wait(30)  # type: ignore[attr-defined]
    audit = client.app.state.services.audit  # type: ignore[attr-defined]

    def broken(entries: list[Any]) -> Any:
        raise sa.exc.OperationalError("INSERT", {}, OSError("disk I/O error"))

    monkeypatch.setattr(audit, "_commit", broken)
    before = reads_of(hub)
    fast, routed = both(client, ROWS, {"filter": f"{KEY}:eq:{person_id(7)}"}, as_operator())
    assert fast.status_code == routed.status_code == 503
    assert fast.headers["content-type"] == "application/problem+json"
    assert fast.json() == routed.json()
    assert "the audit log cannot be written" in fast.json()["detail"]
    assert "rows" not in fast.json() and person_id(7) not in fast.text
    assert len(pooled) == (0 if hub.db.dialect == "sqlite" else 1)  # the first ran in place
    assert reads_of(hub) == before
