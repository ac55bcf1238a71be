"""A small city for access tests: three departments, four datasets covering the share and open
types, and a user of every role, each with a token.

| dataset | owner | share | open | fields (grade) |
|---|---|---|---|---|
| GA-P 人口 | 公安 GA | 有条件 | 不予开放 | 身份证号码 L3, 姓名 L3, 区县 L1, 月收入 L2, 病史 L4 |
| GA-U 户籍统计 | 公安 GA | 无条件 | 无条件开放 | the same fields |
| SC-C 企业 | 市场监管 SC | 无条件 | 有条件开放 | 统一社会信用代码 L1, 企业名称 L1, 法人手机 L3 |
| SC-N 执法 | 市场监管 SC | 不予共享 | 不予开放 | 案号 L1, 当事人 L3 |
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cityhub.access import users
from cityhub.api import create_app
from cityhub.catalog import service
from cityhub.config import Settings
from cityhub.hub import Hub
from cityhub.identifiers import id_check_char
from cityhub.ingest import sync_file

DISTRICTS = ("南湖区", "秀洲区", "嘉善县", "海盐县", "平湖市")
ROWS = 200


def person_id(i: int) -> str:
    first17 = f"33040219{80 + i % 20:02d}0101{i % 1000:03d}"
    return first17 + id_check_char(first17)


def person_name(i: int) -> str:
    return "张王李赵陈刘杨黄周吴"[i % 10] + "伟芳娜敏静丽强磊军洋"[i // 10 % 10]


def people_csv(rows: int = ROWS, income_base: int = 1000) -> str:
    lines = ["身份证号码,姓名,区县,月收入,病史"]
    for i in range(rows):
        lines.append(
            f"{person_id(i)},{person_name(i)},{DISTRICTS[i % 5]},{income_base + i},"
            f"{'高血压' if i % 7 == 0 else '无'}"
        )
    return "\n".join(lines) + "\n"


FIRMS = "统一社会信用代码,企业名称,法人手机\n" + "".join(
    f"91330400MA{i:07d}X,嘉兴企业{i}有限公司,1381234{i:04d}\n" for i in range(60)
)
CASES = "案号,当事人\n" + "".join(f"嘉市监案〔2024〕{i}号,{person_name(i)}\n" for i in range(30))

# name -> (department, roles)
PEOPLE: dict[str, tuple[str | None, list[str]]] = {
    "admin": (None, ["admin"]),
    "op": (None, ["operator"]),
    "ga_steward": ("330400-GA", ["steward"]),
    "ga_member": ("330400-GA", ["member"]),
    "sc_steward": ("330400-SC", ["steward"]),
    "sc_member": ("330400-SC", ["member"]),
    "wj_member": ("330400-WJ", ["member"]),
    "citizen": (None, ["public"]),
}
PASSWORD = "correct horse battery"


@dataclass
class City:
    hub: Hub
    client: TestClient
    tokens: dict[str, str]
    folder: Path

    def auth(self, who: str) -> dict[str, str]:
        """Headers of `who` (a user name), none for "anonymous"."""
        return {} if who == "anonymous" else {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, who: str, path: str, **params: object) -> object:
        return self.client.get(path, params=params, headers=self.auth(who))

    def post(self, who: str, path: str, body: object) -> object:
        return self.client.post(path, json=body, headers=self.auth(who))


def build_city(hub: Hub, folder: Path) -> None:
    with hub.db.session() as s:
        service.upsert_department(s, "330400-GA", "市公安局")
        service.upsert_department(s, "330400-SC", "市市场监管局")
        service.upsert_department(s, "330400-WJ", "市卫生健康委")
        for code, name, share, open_type in (
            ("GA-P", "人口信息", "有条件共享", "不予开放"),
            ("GA-U", "户籍统计", "无条件共享", "无条件开放"),
        ):
            service.upsert_dataset(
                s,
                code,
                "330400-GA",
                name=name,
                share_type=share,
                open_type=open_type,
                key_fields=["身份证号码"],
            )
        service.upsert_dataset(
            s,
            "SC-C",
            "330400-SC",
            name="企业登记",
            share_type="无条件共享",
            open_type="有条件开放",
            open_condition="仅用于数据开放大赛，不得再分发",
        )
        service.upsert_dataset(
            s,
            "SC-N",
            "330400-SC",
            name="行政执法案件",
            share_type="不予共享",
            open_type="不予开放",
            legal_basis="《行政处罚法》第四十八条",
        )
    (folder / "people.csv").write_text(people_csv(), encoding="utf-8")
    (folder / "firms.csv").write_text(FIRMS, encoding="utf-8")
    (folder / "cases.csv").write_text(CASES, encoding="utf-8")
    for code, file in (
        ("GA-P", "people.csv"),
        ("GA-U", "people.csv"),
        ("SC-C", "firms.csv"),
        ("SC-N", "cases.csv"),
    ):
        sync_file(hub, code, folder / file)
    with hub.db.session() as s:
        for code in ("GA-P", "GA-U"):
            service.set_field(s, code, "病史", grade="L4")
            service.set_field(s, code, "区县", grade="L1")
            service.set_field(s, code, "月收入", grade="L2")
        service.set_field(s, "SC-N", "当事人", grade="L3")


def make_users(hub: Hub) -> dict[str, str]:
    tokens = {}
    with hub.db.session() as s:
        for name, (dept, roles) in PEOPLE.items():
            user = users.create_user(s, name, password=PASSWORD, department=dept, roles=roles)
            tokens[name] = users.issue_token(s, user, "tests").secret
    return tokens


@pytest.fixture
def city(hub: Hub, tmp_path: Path) -> Iterator[City]:
    """The city on SQLite and on PostgreSQL, fresh for each test."""
    build_city(hub, tmp_path)
    tokens = make_users(hub)
    with TestClient(create_app(hub)) as client:
        yield City(hub, client, tokens, tmp_path)


@pytest.fixture(scope="module")
def read_only_city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    """One city (SQLite) shared by a module's tests that only read: the matrix has many cells."""
    folder = tmp_path_factory.mktemp("city")
    hub = Hub(Settings(home=folder / "home", operator="tester", infer_rows=2000))
    hub.init()
    build_city(hub, folder)
    tokens = make_users(hub)
    with TestClient(create_app(hub)) as client:
        yield City(hub, client, tokens, folder)
    hub.close()
