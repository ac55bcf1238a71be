"""A served hub with three datasets: one open to all (with a sensitive field), one not open (the
public does not know of it), one only cataloged. tests/access covers the conditional types."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from pydantic import SecretStr

from cityhub.api import create_app
from cityhub.catalog import service
from cityhub.hub import Hub
from cityhub.identifiers import id_check_char
from cityhub.ingest import sync_file

TOKEN = "operator-secret"


def person_id(i: int) -> str:
    first17 = f"33040219{80 + i % 20:02d}0101{i % 1000:03d}"
    return first17 + id_check_char(first17)


SURNAMES, GIVEN = "张王李赵陈刘杨黄周吴", "伟芳娜敏静丽强磊军洋"


def person_name(i: int) -> str:
    return SURNAMES[i % 10] + GIVEN[i // 10 % 10] + GIVEN[i // 100 % 10]


PEOPLE = "身份证号码,姓名,性别,出生日期,月收入,登记时间\n" + "".join(
    f"{person_id(i)},{person_name(i)},{'男' if i % 2 else '女'},"
    f"19{80 + i % 20:02d}-01-01,{1000 + i * 10},2017-10-{1 + i % 28:02d} 08:{i % 60:02d}:00\n"
    for i in range(250)
)
FIRMS = "统一社会信用代码,企业名称,注册资本\n" + "".join(
    f"91330400MA{i:07d}X,嘉兴企业{i}有限公司,{i * 100}\n" for i in range(40)
)


@pytest.fixture
def served(hub: Hub, tmp_path: Path) -> Iterator[tuple[Hub, TestClient]]:
    hub.settings = hub.settings.model_copy(update={"operator_token": SecretStr(TOKEN)})
    with hub.db.session() as s:
        service.upsert_department(s, "330400-GA", "市公安局", name_en="Public Security Bureau")
        service.upsert_department(s, "330400-SCJG", "市市场监管局")
        service.upsert_dataset(
            s,
            "GA-001",
            "330400-GA",
            name="户籍人口基本信息",
            open_type="无条件开放",
            summary="全市户籍人口的身份、性别与出生日期",
            themes=["人口"],
            key_fields=["身份证号码"],
        )
        service.upsert_dataset(
            s, "SC-001", "330400-SCJG", name="市场主体登记信息", open_type="不予开放"
        )
        service.upsert_dataset(s, "SC-002", "330400-SCJG", name="食品经营许可证信息")
    (tmp_path / "people.csv").write_text(PEOPLE, encoding="utf-8")
    (tmp_path / "firms.csv").write_text(FIRMS, encoding="utf-8")
    sync_file(hub, "GA-001", tmp_path / "people.csv")
    sync_file(hub, "SC-001", tmp_path / "firms.csv")
    # Graded highly sensitive, so these serving tests see fields withheld from the public
    # (as L3 fields, they would be read masked: tests/access covers masking).
    with hub.db.session() as s:
        for title in ("身份证号码", "姓名"):
            service.set_field(s, "GA-001", title, grade="L4")
    with TestClient(create_app(hub)) as client:
        yield hub, client


def as_operator() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def live(served: tuple[Hub, TestClient]) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a background thread."""
    hub, _ = served
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # bound before the server starts: no race for the port
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(hub), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/3/action/status_show", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            pytest.fail("the live server did not start")
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
