"""Semantic type detection on realistic department columns, and default grades."""

from __future__ import annotations

import datetime as dt
import decimal
import random

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from cityhub import identifiers as ids
from cityhub.catalog.semantic import (
    _ASCII_ONLY,
    _NEVER_ASCII,
    _NUMBER,
    DEFAULT_GRADES,
    SEMANTIC_TYPES,
    _mask,
    default_grade,
    detect_semantic,
    title_hints,
)
from cityhub.catalog.vocab import Grade

RNG = random.Random(20240501)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗沈钱褚卫蒋韩"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红"
ROADS = ["中山路", "禾兴路", "南溪路", "庆丰路", "东升路", "由拳路", "紫阳街", "建国路"]
DISTRICTS = [
    "南湖区东栅街道",
    "秀洲区新城街道",
    "嘉善县魏塘街道",
    "海宁市硖石街道",
    "桐乡市梧桐街道",
]


def names(n: int) -> list[str]:
    out = []
    for _ in range(n):
        given = "".join(RNG.choice(GIVEN) for _ in range(RNG.choice([1, 2])))
        out.append(RNG.choice(SURNAMES) + given)
    return [*out, "欧阳明月", "司马光", "买买提·艾力"]


def addresses(n: int) -> list[str]:
    return [
        f"浙江省嘉兴市{RNG.choice(DISTRICTS)}{RNG.choice(ROADS)}{RNG.randint(1, 999)}号"
        for _ in range(n)
    ]


def mobiles(n: int) -> list[str]:
    return [f"1{RNG.choice('3456789')}{RNG.randint(0, 999_999_999):09d}" for _ in range(n)]


def landlines(n: int) -> list[str]:
    return [f"0573-8{RNG.randint(0, 9_999_999):07d}" for _ in range(n)]


def id_cards(n: int) -> list[str]:
    out = []
    for _ in range(n):
        born = dt.date(1940, 1, 1) + dt.timedelta(days=RNG.randint(0, 25_000))
        first17 = (
            f"{RNG.choice(['330402', '330411', '330481'])}{born:%Y%m%d}{RNG.randint(0, 999):03d}"
        )
        out.append(first17 + ids.id_check_char(first17))
    return out


def credit_codes(n: int) -> list[str]:
    alphabet = ids.CREDIT_ALPHABET
    out = []
    for _ in range(n):
        first17 = "91330402" + "".join(RNG.choice(alphabet) for _ in range(9))
        out.append(first17 + ids.credit_check_char(first17))
    return out


def bank_cards(n: int) -> list[str]:
    out = []
    for _ in range(n):
        body = "622202" + "".join(RNG.choice("0123456789") for _ in range(12))
        out.append(body + ids.luhn_check_digit(body))
    return out


def plates(n: int) -> list[str]:
    alnum = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
    return ["浙F" + "".join(RNG.choice(alnum) for _ in range(5)) for _ in range(n)]


def emails(n: int) -> list[str]:
    return [
        f"user{RNG.randint(1, 99999)}@{RNG.choice(['jx.gov.cn', 'qq.com', '163.com'])}"
        for _ in range(n)
    ]


def random_digits(n: int, width: int) -> list[str]:
    return ["".join(RNG.choice("0123456789") for _ in range(width)) for _ in range(n)]


def col(values: list) -> pa.Array:
    return pa.array(values)


@pytest.mark.parametrize(
    ("title", "values", "expected"),
    [
        ("公民身份号码", id_cards(50), "id_card"),
        ("sfzh", id_cards(50), "id_card"),
        ("备注", id_cards(50), "id_card"),  # checksums speak for themselves
        ("手机号码", mobiles(50), "mobile"),
        ("col_7", mobiles(50), "mobile"),
        ("固定电话", landlines(50), "landline"),
        ("统一社会信用代码", credit_codes(50), "credit_code"),
        ("code", credit_codes(50), "credit_code"),
        ("车牌号", plates(50), "plate"),
        ("hphm", plates(50), "plate"),
        ("银行卡号", bank_cards(50), "bank_card"),
        ("电子邮箱", emails(50), "email"),
        ("姓名", names(50), "person_name"),
        ("法定代表人", names(50), "person_name"),
        ("contact_name", names(50), "person_name"),
        ("住址", addresses(50), "address"),
        ("登记住所", addresses(50), "address"),
        ("备注", addresses(50), "address"),  # the full form needs no hint
        ("经度", [120.7 + i / 1000 for i in range(50)], "longitude"),
        ("lng", [f"{120.7 + i / 1000:.6f}" for i in range(50)], "longitude"),
        ("纬度", [30.7 + i / 1000 for i in range(50)], "latitude"),
        ("LAT", [decimal.Decimal("30.75")] * 10, "latitude"),
        ("邮政编码", ["314000", "314001", "314100", "314200"] * 5, "postcode"),
        ("办理日期", [dt.date(2024, 5, i) for i in range(1, 29)], "date"),
        ("更新", [dt.datetime(2024, 5, 1, 8, 30)] * 10, "date"),
        ("备注", [f"2024-05-{d:02d}" for d in range(1, 29)], "date"),
        ("出生日期", [f"1980{m:02d}{d:02d}" for m in range(1, 13) for d in (1, 15)], "date"),
    ],
)
def test_detects(title: str, values: list, expected: str) -> None:
    assert detect_semantic(title, col(values)) == expected


def test_mobile_numbers_stored_as_integers() -> None:
    values = pa.array([int(m) for m in mobiles(30)], pa.int64())
    assert detect_semantic("lxdh", values) == "mobile"


@pytest.mark.parametrize(
    ("title", "values"),
    [
        # Random 18-digit numbers pass the ID checksum 1 time in 11: never a high share.
        ("流水号", random_digits(200, 18)),
        ("身份证号", random_digits(200, 18)),
        ("卡号", random_digits(200, 18)),  # Luhn passes 1 in 10
        ("金额", [round(RNG.uniform(0, 1e5), 2) for _ in range(100)]),
        ("金额", [decimal.Decimal(f"{RNG.uniform(0, 1e5):.2f}") for _ in range(100)]),
        ("金额", [str(RNG.randint(1, 10**6)) for _ in range(100)]),
        ("备注", ["市民反映道路积水严重，请尽快处理", "已办结", "群众满意", "转交南湖区处理"] * 10),
        ("问题描述", ["路灯不亮", "噪音扰民", "占道经营", "垃圾未清运"] * 10),
        ("备注", names(50)),  # a name needs a title hint
        ("道路名称", ["中山路", "解放路", "建国路", "东升路", "禾兴路"] * 5),
        # Roads, towns and offices whose first character is a surname are still no names.
        (
            "road_name",
            ["黄河路", "江南路", "金山路", "林荫路", "高新路", "王店镇", "周庄村", "姚庄镇"] * 3,
        ),
        ("name", ["嘉兴市南湖区市场监督管理局", "嘉兴市数据资源管理局"] * 5),
        ("地址", ["详见附件", "不详", "-", "无"] * 5),
        ("金额", [120.7 + i / 1000 for i in range(50)]),  # in range but no coordinate hint
        ("经度", [200.0 + i for i in range(50)]),  # hinted but out of China's range
        ("纬度", [120.7 + i / 1000 for i in range(50)]),  # a longitude is no latitude
        ("编号", random_digits(50, 6)),  # 6 digits are a postcode only by name
        ("序号", list(range(100))),
        ("relation", [30.7] * 20),  # "lat" inside a word is no hint
        ("手机", [None, None, ""]),
    ],
)
def test_does_not_detect(title: str, values: list) -> None:
    assert detect_semantic(title, col(values)) is None


def test_hint_lowers_the_bar_for_dirty_columns() -> None:
    dirty = id_cards(40) + ["无", "不详", "000000000000000000"] * 4 + [None] * 10
    assert detect_semantic("身份证号码", col(dirty)) == "id_card"  # 40/52 valid
    assert detect_semantic("备注", col(dirty)) is None  # below the unhinted 90 %
    assert detect_semantic("备注", col(dirty), threshold=0.75) == "id_card"
    assert detect_semantic("身份证号码", col(dirty), hinted_threshold=0.8) is None


def test_fifteen_digit_ids_need_a_hint() -> None:
    old = [v[:6] + v[8:17] for v in id_cards(30)]
    assert detect_semantic("身份证号", col(old)) == "id_card"
    assert detect_semantic("编号", col(old)) is None


def test_mixed_phone_column_takes_the_majority() -> None:
    # Neither kind reaches the hinted threshold alone; together they do.
    assert detect_semantic("联系电话", col(mobiles(28) + landlines(22))) == "mobile"
    assert detect_semantic("联系电话", col(mobiles(22) + landlines(28))) == "landline"
    assert detect_semantic("联系电话", col(mobiles(10) + landlines(40))) == "landline"
    assert detect_semantic("联系人电话", col(mobiles(30))) == "mobile"  # not person_name


def test_too_few_values_need_a_hint() -> None:
    assert detect_semantic("x", col(mobiles(3))) is None
    assert detect_semantic("手机", col(mobiles(3))) == "mobile"
    assert detect_semantic("手机", pa.array([], pa.string())) is None
    assert detect_semantic("手机", pa.array([None, None], pa.string())) is None


def test_chunked_and_dictionary_inputs() -> None:
    values = mobiles(20)
    chunked = pa.chunked_array([values[:7], values[7:]])
    assert detect_semantic("手机", chunked) == "mobile"
    assert detect_semantic("手机", pa.array(values).dictionary_encode()) == "mobile"


def test_title_hints() -> None:
    assert title_hints("联系人手机") >= {"person_name", "mobile"}
    assert "latitude" in title_hints("lat")
    assert "latitude" not in title_hints("relation")
    assert "longitude" not in title_hints("along_road")
    assert "mobile" in title_hints("contactPhone")
    assert "id_card" in title_hints("IDCard")
    assert title_hints("备注") == frozenset()


def test_default_grades() -> None:
    assert set(DEFAULT_GRADES) == set(SEMANTIC_TYPES)
    assert {g for g in DEFAULT_GRADES.values()} <= {g.value for g in Grade}
    for personal in ("id_card", "mobile", "person_name", "address", "plate", "bank_card"):
        assert default_grade(personal, "x") == "L3"
    assert default_grade("email", "x") == default_grade("landline", "x") == "L3"
    assert default_grade("credit_code", "统一社会信用代码") == "L1"
    assert default_grade("longitude", "经度") == default_grade("latitude", "纬度") == "L2"
    assert default_grade("date", "日期") == "L1"
    assert default_grade(None, "金额") == "L1"


@pytest.mark.parametrize(
    "title",
    [
        "诊断结果",
        "既往病史",
        "健康状况",
        "犯罪记录",
        "违法行为",
        "指纹特征",
        "人脸照片",
        "生物特征",
        "未成年人标识",
        "diagnosis_code",
        "criminalRecord",
        "health",
    ],
)
def test_highly_sensitive_titles_are_l4(title: str) -> None:
    assert default_grade(None, title) == "L4"
    assert default_grade("id_card", title) == "L4"


def test_l4_english_hints_are_whole_words() -> None:
    assert default_grade(None, "surface_area") == "L1"  # contains "face"
    assert default_grade(None, "minority_share") == "L1"  # contains "minor"


@pytest.mark.parametrize("hinted", [True, False])
def test_ascii_pruning_never_hides_a_type(hinted: bool) -> None:
    """detect_semantic skips a type's mask when too few values are ASCII (or non-ASCII) for it:
    that is only sound if the mask accepts nothing else, on any kind of value."""
    pool = (
        names(30)
        + addresses(30)
        + mobiles(30)
        + landlines(30)
        + id_cards(30)
        + credit_codes(30)
        + bank_cards(30)
        + plates(30)
        + emails(30)
        + random_digits(30, 6)
        + ["120.75", "30.76", "2024-05-01", "2024年5月1日", "0573-8205 1234转12", "ı", "ſ"]
    )
    s = ids.as_strings(pa.array(pool))
    ascii_values = pc.string_is_ascii(s)
    for typ in sorted(_ASCII_ONLY | _NEVER_ASCII):
        if typ in ("longitude", "latitude"):
            accepted = pc.match_substring_regex(s, _NUMBER)
        else:
            accepted = _mask(typ, s, hinted=hinted)
        allowed = ascii_values if typ in _ASCII_ONLY else pc.invert(ascii_values)
        assert not pc.any(pc.and_(accepted, pc.invert(allowed))).as_py(), typ
