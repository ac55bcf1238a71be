"""Small builders shared by the ingest tests."""

from __future__ import annotations

from pathlib import Path

from cityhub.catalog import service
from cityhub.hub import Hub


def register(
    hub: Hub,
    code: str = "DS1",
    department: str = "330400-SCJG",
    key: list[str] | None = None,
    **attrs: object,
) -> None:
    with hub.db.session() as s:
        service.upsert_department(s, department, "市市场监管局")
        service.upsert_dataset(
            s,
            code,
            department,
            name=attrs.pop("name", "市场主体登记信息"),
            key_fields=key or [],
            **attrs,
        )


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


PEOPLE = (
    "身份证号码,姓名,性别,出生日期,手机号码,邮编,月收入,是否党员,登记时间\n"
    "330402199001011230,张三,男,1990-01-01,13800001111,314000,8500.50,是,2017-10-01 08:30:00\n"
    "330411198512120027,李四,女,1985/12/12,13900002222,314001,12000,否,2017-10-02 09:00:00\n"
    "330421200203030012,王五,男,2002年3月3日,13700003333,014100,6000.25,是,2017-10-03 10:15:00\n"
)
