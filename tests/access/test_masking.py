"""Masking rules: parsing, choice per field, and their DuckDB expressions run over Arrow tables;
keyed pseudonyms and their key."""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlglot import exp

from cityhub.access.masking import (
    COMPOUND_SURNAMES,
    DEFAULT_KEY,
    KINDS,
    RULE_SETS,
    MaskRule,
    parse_overrides,
    parse_rule,
    rule_for,
)
from cityhub.catalog.models import FieldInfo
from cityhub.catalog.semantic import DEFAULT_GRADES, SEMANTIC_TYPES
from cityhub.config import Settings
from cityhub.errors import InvalidInput
from cityhub.query.masking import (
    KEY_FILE,
    PSEUDONYM_FUNCTION,
    decode_key,
    mask_expr,
    pseudonym_key,
    register_pseudonyms,
)

KEY = bytes(range(32))
CONTEXT = "department:330400-GA"
HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def conn() -> Iterator[duckdb.DuckDBPyConnection]:
    """One database for the module (each query runs on a cursor of its own)."""
    c = duckdb.connect()
    register_pseudonyms(c, KEY)
    yield c
    c.close()


def masked(
    conn: duckdb.DuckDBPyConnection,
    rule: str | MaskRule,
    values: list[Any],
    type: pa.DataType | None = None,
    context: str = CONTEXT,
) -> list[Any]:
    """`values` masked by `rule` in DuckDB, read from an Arrow table, in their order."""
    r = parse_rule(rule) if isinstance(rule, str) else rule
    table = pa.table({"v": pa.array(values, type), "i": pa.array(range(len(values)), pa.int64())})
    select = (
        exp.select(mask_expr(r, exp.column("v"), context).as_("m"))
        .from_("t")
        .order_by(exp.column("i"))
    )
    cur = conn.cursor()
    try:
        cur.register("t", table)
        return [row[0] for row in cur.execute(select.sql(dialect="duckdb")).fetchall()]
    finally:
        cur.close()


def field(semantic_type: str | None = None, masking: str | None = None) -> FieldInfo:
    return FieldInfo(name="f", title="字段", semantic_type=semantic_type, masking=masking)


# -- STANDARDS.md §5 examples, rule A, chosen per semantic type ----------------------------------

STANDARD_A = [
    ("id_card", "330402199001011234", "330402********1234"),
    ("id_card", "33040219900101123X", "330402********123X"),
    ("mobile", "13812341999", "138****1999"),
    ("person_name", "张三", "张*"),
    ("person_name", "欧阳娜娜", "欧阳**"),
    ("address", "浙江省嘉兴市南湖区东栅街道xx路1号", "浙江省嘉兴市南湖区********"),
    ("bank_card", "6222 0212 3456 3256", "6222 **** **** 3256"),
    ("bank_card", "6222021234563256", "6222********3256"),
    ("plate", "浙F12347", "浙F***7"),
    ("email", "zhang@example.cn", "z***@example.cn"),
]


@pytest.mark.parametrize(("typ", "value", "expected"), STANDARD_A)
def test_rule_a_standard_examples(
    conn: duckdb.DuckDBPyConnection, typ: str, value: str, expected: str
) -> None:
    rule = rule_for(field(typ), "A")
    assert masked(conn, rule, [value, None]) == [expected, None]


@pytest.mark.parametrize(
    ("typ", "value", "expected"),
    [
        ("id_card", "33040219900101123X", "3***************3X"),
        ("address", "浙江省嘉兴市南湖区东栅街道xx路1号", "浙江省嘉兴市南湖区东********"),
        ("address", "南湖区东栅街道", "*******"),  # no longer than 8: nothing shows
        ("person_name", "欧阳娜娜", "欧***"),
        ("mobile", "13812341999", "138****1999"),
        ("bank_card", "6222 0212 3456 3256", "6222 **** **** 3256"),
    ],
)
def test_rule_b(conn: duckdb.DuckDBPyConnection, typ: str, value: str, expected: str) -> None:
    assert masked(conn, rule_for(field(typ), "B"), [value]) == [expected]


def test_rule_b_named_rules() -> None:
    assert RULE_SETS["B"]["id_card"] == "keep:1:2"
    assert RULE_SETS["B"]["address"] == "tail:8"


# -- each rule, edge cases ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ("keep:6:4", "3304021", "*******"),  # 7 ≤ 6+4: a short value never shows
        ("keep:6:4", "3304021990", "**********"),  # exactly F+L
        ("keep:6:4", "33040219901", "330402*9901"),
        ("keep:6:4", "", ""),
        ("keep:1:1", "欧阳娜娜", "欧**娜"),
        ("keep:0:0", "abc", "***"),
        ("keep:2:0", "嘉兴市南湖区", "嘉兴****"),
        ("keep:0:3", "嘉兴市南湖区", "***南湖区"),
        ("tail:8", "浙江省嘉兴市南湖区东栅街道", "浙江省嘉兴********"),
        ("tail:3", "abc", "***"),
        ("tail:3", "", ""),
        ("surname", "张", "*"),
        ("surname", "欧阳", "欧*"),  # the whole value would show
        ("surname", "司马相如", "司马**"),
        ("surname", "买买提·艾力", "买*****"),
        ("surname", "", ""),
        ("plate", "浙F1234", "浙F***4"),
        ("plate", "浙FD12345", "浙F***5"),  # new-energy plates: 8 characters, the same shape
        ("plate", "浙F12", "****"),
        ("plate", "", ""),
        ("email", "z@example.cn", "***@example.cn"),  # one character would be the whole name
        ("email", "@example.cn", "***@example.cn"),
        ("email", "a.b@c@example.cn", "a***@example.cn"),
        ("email", "无", "***"),
        ("email", "", "***"),
        ("bank_card", "6222-0212-3456-3256", "6222-****-****-3256"),
        ("bank_card", "6222021234563256123", "6222***********6123"),
        ("bank_card", "1234 5678", "**** ****"),  # 8 digits or fewer: all of them hidden
        ("bank_card", "", ""),
        ("redact", "anything", "***"),
        ("redact", "", "***"),
    ],
)
def test_rules(conn: duckdb.DuckDBPyConnection, rule: str, value: str, expected: str) -> None:
    assert masked(conn, rule, [value]) == [expected]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("浙江省嘉兴市海宁市硖石街道1号", "浙江省嘉兴市海宁市"),  # 省…市…市: county-level city
        ("浙江省海宁市硖石街道1号", "浙江省海宁市"),
        ("北京市朝阳区建国路1号", "北京市朝阳区"),
        ("上海市浦东新区张江镇", "上海市浦东新区"),
        ("广西壮族自治区南宁市青秀区民族大道1号", "广西壮族自治区南宁市青秀区"),
        ("新疆维吾尔自治区阿克苏地区阿克苏市1号", "新疆维吾尔自治区阿克苏地区阿克苏市"),
        ("内蒙古自治区阿拉善盟阿拉善左旗巴彦浩特镇", "内蒙古自治区阿拉善盟阿拉善左旗"),
        ("山东省济南市市中区经十路", "山东省济南市市中区"),
        ("浙江省嘉兴市中山路金都小区1幢", "浙江省嘉兴市"),  # a 小区 is not a district
        ("南湖区东栅街道", "南湖区"),
        ("东栅街道幸福里小区一期12号", "东栅街道幸福"),  # no county: the first 6 characters
        ("东栅街道xx路1号", "东栅街道"),  # ... at most half the value
        ("东栅街道", "东栅"),
        ("", ""),
    ],
)
def test_district(conn: duckdb.DuckDBPyConnection, value: str, expected: str) -> None:
    assert masked(conn, "district", [value]) == [expected + "********"]


@pytest.mark.parametrize("kind", KINDS)
def test_null_stays_null(conn: duckdb.DuckDBPyConnection, kind: str) -> None:
    rule = parse_rule({"keep": "keep:3:4", "tail": "tail:8"}.get(kind, kind))
    assert masked(conn, rule, [None, None]) == [None, None]
    assert masked(conn, rule, [None, 13812341999], pa.int64())[0] is None


def test_typed_inputs(conn: duckdb.DuckDBPyConnection) -> None:
    assert masked(conn, "keep:3:4", [13812341999, None], pa.int64()) == ["138****1999", None]
    assert masked(conn, "bank_card", [6222021234563256], pa.int64()) == ["6222********3256"]
    assert masked(conn, "keep:4:0", [dt.date(1990, 1, 1)], pa.date32()) == ["1990******"]
    assert masked(conn, "redact", [dt.date(1990, 1, 1)], pa.date32()) == ["***"]
    assert masked(conn, "keep:1:0", [3.25], pa.float64()) == ["3***"]


def test_masked_values_are_varchar_and_clear_is_untouched(conn: duckdb.DuckDBPyConnection) -> None:
    ref = exp.column("v")
    assert mask_expr(parse_rule("clear"), ref, CONTEXT) is ref
    cur = conn.cursor()
    cur.register("t", pa.table({"v": pa.array([13812341999], pa.int64())}))
    for text in ("keep:3:4", "tail:2", "surname", "district", "email", "plate", "bank_card"):
        select = exp.select(mask_expr(parse_rule(text), exp.column("v"), CONTEXT).as_("m"))
        out = cur.sql(select.from_("t").sql(dialect="duckdb")).to_arrow_table()
        assert out.schema.field("m").type == pa.string(), text
    out = cur.sql("SELECT v FROM t").to_arrow_table()
    assert out.schema.field("v").type == pa.int64()
    cur.close()


_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
_VALUES = st.lists(st.one_of(st.none(), _TEXT, st.text("欧阳张三娜浙江省市区", max_size=12)))


@settings(max_examples=60, deadline=None)
@given(values=_VALUES, first=st.integers(0, 8), last=st.integers(0, 8))
def test_keep_property(
    conn: duckdb.DuckDBPyConnection, values: list[str | None], first: int, last: int
) -> None:
    out = masked(conn, MaskRule("keep", first, last), values)
    for value, m in zip(values, out, strict=True):
        if value is None:
            assert m is None
            continue
        assert m is not None and len(m) == len(value)
        n = len(value)
        for i, (a, b) in enumerate(zip(value, m, strict=True)):
            kept = n > first + last and (i < first or i >= n - last)
            assert b == (a if kept else "*"), (value, m, i)


@settings(max_examples=40, deadline=None)
@given(values=_VALUES, n=st.integers(1, 10))
def test_tail_property(conn: duckdb.DuckDBPyConnection, values: list[str | None], n: int) -> None:
    out = masked(conn, MaskRule("tail", last=n), values)
    for value, m in zip(values, out, strict=True):
        if value is None:
            assert m is None
            continue
        shown = max(len(value) - n, 0)
        assert m == value[:shown] + "*" * (len(value) - shown)


_CARD = st.text(st.sampled_from("0123456789 -"), max_size=25)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(_CARD, max_size=10))
def test_bank_card_property(conn: duckdb.DuckDBPyConnection, values: list[str]) -> None:
    out = masked(conn, "bank_card", values)
    for value, m in zip(values, out, strict=True):
        digits = [i for i, ch in enumerate(value) if ch.isdigit()]
        shown = set(digits[:4] + digits[-4:]) if len(digits) > 8 else set()
        expected = "".join(
            ch if i in shown or not ch.isdigit() else "*" for i, ch in enumerate(value)
        )
        assert m == expected


# -- parsing --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "keep:6:4",
        "keep:0:0",
        "keep:99:0",
        "tail:8",
        "surname",
        "district",
        "email",
        "plate",
        "bank_card",
        "redact",
        "pseudonym",
        "clear",
    ],
)
def test_parse_round_trip(text: str) -> None:
    rule = parse_rule(text)
    assert rule.text == text == str(rule)
    assert parse_rule(rule.text) == rule


def test_parse_normalises_case_and_blanks() -> None:
    assert parse_rule(" Keep: 6 :4 ") == MaskRule("keep", 6, 4)
    assert parse_rule("TAIL:8") == MaskRule("tail", last=8)
    assert parse_rule("clear").hides is False
    assert parse_rule("redact").hides is True


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("mask", "unknown rule"),
        ("keep", "two counts"),
        ("keep:6", "two counts"),
        ("keep:6:4:2", "two counts"),
        ("keep:a:4", "whole numbers"),
        ("keep:-1:4", "whole numbers"),
        ("keep:100:1", "whole numbers"),
        ("tail", "one count"),
        ("tail:0", "hides nothing"),
        ("surname:2", "no count"),
    ],
)
def test_parse_errors(text: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_rule(text)
    message = caught.value.message
    assert repr(text) in message and problem in message
    assert "keep:F:L" in message and "tail:N" in message and "pseudonym" in message


def test_rule_validates_itself() -> None:
    with pytest.raises(InvalidInput):
        MaskRule("surname", first=1)
    with pytest.raises(InvalidInput):
        MaskRule("keep", first=-1)
    with pytest.raises(InvalidInput):
        MaskRule("tail", last=0)
    with pytest.raises(InvalidInput):
        MaskRule("shuffle")  # type: ignore[arg-type]


# -- rule sets and precedence ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["A", "B"])
def test_rule_sets_cover_every_type(name: str) -> None:
    rules = RULE_SETS[name]
    assert set(rules) == {*SEMANTIC_TYPES, DEFAULT_KEY}
    for typ, text in rules.items():
        assert parse_rule(text).hides, (name, typ)
    assert rules[DEFAULT_KEY] == "redact"
    sensitive = [t for t, g in DEFAULT_GRADES.items() if g in ("L3", "L4")]
    assert sensitive and all(parse_rule(rules[t]).kind != "pseudonym" for t in sensitive)


def test_rule_b_is_no_weaker_than_a_where_both_keep() -> None:
    for typ in SEMANTIC_TYPES:
        a, b = parse_rule(RULE_SETS["A"][typ]), parse_rule(RULE_SETS["B"][typ])
        if a.kind == b.kind == "keep":
            assert b.first <= a.first and b.last <= a.last, typ


def test_rule_for_precedence() -> None:
    overrides = {"mobile": "keep:3:2"}
    assert rule_for(field("mobile", masking="keep:0:4"), "A", overrides).text == "keep:0:4"
    assert rule_for(field("mobile"), "A", overrides).text == "keep:3:2"
    assert rule_for(field("mobile"), "A").text == "keep:3:4"
    assert rule_for(field("id_card"), "B", overrides).text == "keep:1:2"
    assert rule_for(field("id_card")).text == "keep:6:4"  # rule A by default
    assert rule_for(field(None), "A", overrides) == MaskRule("redact")
    assert rule_for(field("blood_type"), "B") == MaskRule("redact")
    assert rule_for(field(None), "A", {"*": "keep:1:0"}).text == "keep:1:0"
    assert rule_for(field("mobile"), "A", {"*": "keep:1:0"}).text == "keep:3:4"
    assert rule_for(field(None, masking="clear")) == MaskRule("clear")


def test_rule_for_errors_name_their_source() -> None:
    with pytest.raises(InvalidInput, match=r"field 'f'.*'keep:6'"):
        rule_for(field("mobile", masking="keep:6"))
    with pytest.raises(InvalidInput, match=r"masking_overrides\['mobile'\].*'hide'"):
        rule_for(field("mobile"), "A", {"mobile": "hide"})
    with pytest.raises(InvalidInput, match="rule set 'C'"):
        rule_for(field("mobile"), "C")


def test_parse_overrides() -> None:
    assert parse_overrides({"mobile": "keep:3:2", "*": "redact"}) == {
        "mobile": MaskRule("keep", 3, 2),
        "*": MaskRule("redact"),
    }
    with pytest.raises(InvalidInput, match="'phone' is not a semantic type"):
        parse_overrides({"phone": "keep:3:2"})
    with pytest.raises(InvalidInput, match="masking_overrides"):
        parse_overrides({"mobile": "keep"})


def test_compound_surnames() -> None:
    for name in ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙"):
        assert name in COMPOUND_SURNAMES
    for name in ("宇文", "司徒", "夏侯", "轩辕", "令狐", "钟离", "澹台", "申屠"):
        assert name in COMPOUND_SURNAMES


# -- pseudonyms -----------------------------------------------------------------------------------


def reference(key: bytes, context: str, value: str) -> str:
    """HMAC-SM3 by Python's own hmac module: an independent check of the UDF."""
    sub = hmac.new(key, b"cityhub pseudonym:" + context.encode(), "sm3").digest()
    return hmac.new(sub, value.encode(), "sm3").hexdigest()[:32]


def test_pseudonym_values(conn: duckdb.DuckDBPyConnection) -> None:
    values: list[str | None] = ["330402199001011234", "张三", None, "", "330402199001011234"]
    out = masked(conn, "pseudonym", values)
    assert out[2] is None
    assert out[0] == out[4] == reference(KEY, CONTEXT, "330402199001011234")
    assert out[1] == reference(KEY, CONTEXT, "张三")
    assert all(HEX32.fullmatch(p) for p in out if p is not None)
    assert len(set(out)) == 4  # distinct values, distinct pseudonyms


def test_pseudonyms_deterministic_and_unlinkable(conn: duckdb.DuckDBPyConnection) -> None:
    values = ["13812341999", "13812342000"]
    with duckdb.connect() as other:
        register_pseudonyms(other, KEY)
        assert masked(other, "pseudonym", values) == masked(conn, "pseudonym", values)
        register_pseudonyms(other, bytes(32))  # re-registering replaces: a new key
        by_other_key = masked(other, "pseudonym", values)
    by_other_context = masked(conn, "pseudonym", values, context="department:330400-WJ")
    ours = masked(conn, "pseudonym", values)
    assert not set(ours) & set(by_other_context)
    assert not set(ours) & set(by_other_key)
    # a BIGINT column pseudonymises like its digits as text: joins across types work
    assert masked(conn, "pseudonym", [13812341999], pa.int64()) == ours[:1]


def test_pseudonym_contexts_per_row(conn: duckdb.DuckDBPyConnection) -> None:
    sql = f"SELECT {PSEUDONYM_FUNCTION}(v, c) FROM (VALUES ('a', 'x'), ('a', 'y'), (NULL, 'x'), ('a', NULL)) t(v, c)"  # noqa: E501
    out = [r[0] for r in conn.execute(sql).fetchall()]
    assert out == [reference(KEY, "x", "a"), reference(KEY, "y", "a"), None, None]


def test_pseudonyms_group_and_join(conn: duckdb.DuckDBPyConnection) -> None:
    people = pa.table({"id": ["A", "B", "A", "C", "A", None]})
    visits = pa.table({"id": ["A", "C", "D"]})
    rule = parse_rule("pseudonym")
    p1 = mask_expr(rule, exp.column("id", "p"), CONTEXT)
    p2 = mask_expr(rule, exp.column("id", "v"), CONTEXT)
    grouped = (
        exp.select(p1.copy().as_("pid"), exp.func("count", exp.Star()).as_("n"))
        .from_(exp.to_table("people").as_("p"))
        .group_by(p1.copy())
        .order_by(exp.column("n"))
    )
    joined = (
        exp.select(exp.func("count", exp.Star()))
        .from_(exp.to_table("people").as_("p"))
        .join(exp.to_table("visits").as_("v"), on=exp.EQ(this=p1, expression=p2))
    )
    cur = conn.cursor()
    cur.register("people", people)
    cur.register("visits", visits)
    counts = [n for _, n in cur.execute(grouped.sql(dialect="duckdb")).fetchall()]
    assert sorted(counts) == [1, 1, 1, 3]  # A×3, B, C and the NULL group
    assert cur.execute(joined.sql(dialect="duckdb")).fetchall() == [(4,)]  # A×3 + C
    cur.close()


def test_pseudonym_sql_carries_no_key() -> None:
    sql = mask_expr(parse_rule("pseudonym"), exp.column("v"), CONTEXT).sql(dialect="duckdb")
    assert CONTEXT in sql and PSEUDONYM_FUNCTION.upper() in sql.upper()
    assert KEY.hex() not in sql and base64.b64encode(KEY).decode() not in sql
    with pytest.raises(ValueError, match="context"):
        mask_expr(parse_rule("pseudonym"), exp.column("v"), "")


def test_udf_from_cursors_after_lock_configuration(tmp_path: Path) -> None:
    db = duckdb.connect()
    register_pseudonyms(db, KEY)
    db.execute("SET allowed_directories = $dirs", {"dirs": [str(tmp_path) + "/"]})
    db.execute("SET enable_external_access = false")
    db.execute("SET lock_configuration = true")
    expected = reference(KEY, CONTEXT, "x")
    sql = f"SELECT {PSEUDONYM_FUNCTION}('x', '{CONTEXT}')"
    early = db.cursor()
    assert early.execute(sql).fetchall() == [(expected,)]
    late = db.cursor()
    assert late.execute(sql).fetchall() == [(expected,)]
    # registered once locked, as an engine made before its key is known would
    register_pseudonyms(db, bytes(32))
    assert db.cursor().execute(sql).fetchall() == [(reference(bytes(32), CONTEXT, "x"),)]
    with pytest.raises(duckdb.Error):
        late.execute("SET lock_configuration = false")
    db.close()


# -- the key --------------------------------------------------------------------------------------


@pytest.fixture
def no_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CITYHUB_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.delenv("CITYHUB_PSEUDONYM_KEY", raising=False)


@pytest.mark.usefixtures("no_config")
def test_key_file_made_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home)
    key = pseudonym_key(settings, home)
    path = home / KEY_FILE
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    before = path.stat()
    assert pseudonym_key(settings, home) == key
    assert path.stat().st_ino == before.st_ino and path.stat().st_mtime_ns == before.st_mtime_ns
    assert os.listdir(path.parent) == ["pseudonym.key"]  # no temporary file left behind
    other = tmp_path / "other"
    assert pseudonym_key(Settings(home=other), other) != key


@pytest.mark.usefixtures("no_config")
def test_key_from_settings(tmp_path: Path) -> None:
    raw = os.urandom(32)
    for text in (raw.hex(), raw.hex().upper(), base64.b64encode(raw).decode()):
        assert pseudonym_key(Settings(pseudonym_key=SecretStr(text)), tmp_path) == raw
    urlsafe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert pseudonym_key(Settings(pseudonym_key=SecretStr(urlsafe)), tmp_path) == raw
    assert not (tmp_path / KEY_FILE).exists()  # a configured key makes no file


def test_bad_keys_are_refused_without_being_echoed() -> None:
    with pytest.raises(InvalidInput, match="at least 16") as caught:
        decode_key("00ff00ff", "setting pseudonym_key")
    assert "00ff00ff" not in caught.value.message
    with pytest.raises(InvalidInput, match="neither hex nor base64") as caught:
        decode_key("not a key!", "setting pseudonym_key")
    assert "not a key" not in caught.value.message
    with pytest.raises(ValueError):
        register_pseudonyms(duckdb.connect(), b"short")
