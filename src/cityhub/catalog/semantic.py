"""Semantic type detection for catalog fields, and the default sensitivity grade of each type.

Detection looks at a column's title (Chinese, English, or the pinyin initials departments use
as machine names) and at a sample of its non-null values:

1. Typed columns: a date/timestamp column is ``date``; a float/decimal column can only be
   ``longitude``/``latitude`` (title hint and ≥ ``threshold`` of values in China's range,
   73..136 E / 3..54 N); integer columns are read as digit strings (phone numbers stored as
   BIGINT).
2. Hinted types: when the title hints a type, it is detected if ≥ ``hinted_threshold`` of the
   values validate (real columns carry junk like 无 or 不详). ``mobile`` and ``landline`` share
   the 电话 hint: if together they reach the threshold, the commoner of the two wins.
3. Self-evident types, with or without a hint, when ≥ ``threshold`` of at least
   ``MIN_UNHINTED`` values validate: ``id_card`` (18 characters with checksum, birth date and
   province: a random 18-digit number fails), ``credit_code`` (checksum), ``bank_card`` (Luhn,
   16-19 digits), ``email``, ``plate``, ``mobile``, ``landline``, ``date`` (written with
   separators, 2024-05-01 or 2024年5月1日), and ``address`` only in its full form
   (XX省/市 … 区/县 … N号).
4. Never without a hint: ``person_name`` (2-4 hanzi starting with a known surname, or a
   middle-dot name like 买买提·艾力; not ending in a place/organization character such as
   路 or 局), ``address`` in short forms (hanzi text with a place marker 省市区县镇乡村街道路巷弄号
   楼栋幢室组), ``postcode`` (6 digits), 15-digit ID numbers, compact dates (20240501),
   ``longitude``/``latitude``.

Hints are tried in a fixed priority order (the one of ``SEMANTIC_TYPES``), checksummed types
first, so a column titled 联系人电话 with phone numbers is ``mobile``, not ``person_name``.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from cityhub import identifiers as ids
from cityhub.catalog.vocab import Grade

SEMANTIC_TYPES: tuple[str, ...] = (
    "id_card",
    "credit_code",
    "bank_card",
    "email",
    "plate",
    "mobile",
    "landline",
    "postcode",
    "longitude",
    "latitude",
    "date",
    "address",
    "person_name",
)
MIN_UNHINTED = 5

# Personal identifiers are sensitive (STANDARDS.md §4); enterprise codes are public; places are
# quasi-identifiers, internal by the "grade higher when in doubt" rule.
DEFAULT_GRADES: dict[str, str] = {
    "id_card": Grade.L3.value,
    "mobile": Grade.L3.value,
    "landline": Grade.L3.value,
    "person_name": Grade.L3.value,
    "address": Grade.L3.value,
    "plate": Grade.L3.value,
    "bank_card": Grade.L3.value,
    "email": Grade.L3.value,
    "credit_code": Grade.L1.value,
    "longitude": Grade.L2.value,
    "latitude": Grade.L2.value,
    "postcode": Grade.L2.value,
    "date": Grade.L1.value,
}

# Title hints: Chinese substrings, and English/pinyin words matched as whole `_`-separated
# tokens of the snake-cased title (so "lat" does not fire on "relation").
_HINTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "id_card": (
        ("身份证", "证件号", "公民身份号码", "身份号码"),
        (
            "id_card",
            "idcard",
            "id_no",
            "id_number",
            "identity",
            "citizen_id",
            "sfz",
            "sfzh",
            "sfzhm",
            "zjhm",
            "gmsfhm",
        ),
    ),
    "credit_code": (
        ("统一社会信用代码", "信用代码", "社会信用"),
        ("credit_code", "uscc", "tyshxydm", "shxydm", "xydm"),
    ),
    "bank_card": (
        ("银行卡", "卡号", "银行账号", "银行帐号"),
        ("bank_card", "card_no", "card_number", "bank_account", "yhkh", "yhzh"),
    ),
    "email": (("邮箱", "电子邮件", "电邮"), ("email", "e_mail", "mail", "yx", "dzyx")),
    "plate": (
        ("车牌", "号牌", "车号"),
        ("plate", "plate_no", "license_plate", "cph", "hphm", "cphm"),
    ),
    "mobile": (
        ("手机", "移动电话", "电话", "联系方式"),
        ("mobile", "phone", "cell", "cellphone", "tel", "telephone", "sjh", "sjhm", "lxdh", "dh"),
    ),
    "landline": (
        ("固话", "座机", "固定电话", "电话", "联系方式"),
        ("landline", "tel", "telephone", "phone", "gddh", "lxdh", "dh"),
    ),
    "postcode": (
        ("邮编", "邮政编码"),
        ("postcode", "post_code", "postal_code", "zip", "zipcode", "zip_code", "yzbm", "yb"),
    ),
    "longitude": (("经度",), ("lng", "lon", "long", "longitude", "jd")),
    "latitude": (("纬度",), ("lat", "latitude", "wd")),
    "date": (
        ("日期", "时间", "生日", "出生", "年月日"),
        ("date", "time", "day", "birthday", "dob", "rq", "sj", "csrq"),
    ),
    "address": (
        ("地址", "住址", "住所", "所在地", "户籍地", "居住地", "经营场所", "注册地"),
        ("address", "addr", "dz", "zz", "jzd", "hjd"),
    ),
    "person_name": (
        ("姓名", "名字", "联系人", "法人", "法定代表人", "负责人", "户主", "申请人", "经办人"),
        ("name", "full_name", "person", "contact", "xm", "lxr", "fr", "fddbr", "fzr"),
    ),
}

_L4_HINTS_ZH = ("病", "诊断", "病历", "健康", "犯罪", "违法", "指纹", "人脸", "生物", "未成年")
_L4_HINTS_EN = frozenset(
    {
        "diagnosis",
        "disease",
        "medical",
        "health",
        "criminal",
        "crime",
        "fingerprint",
        "face",
        "biometric",
        "minor",
        "minors",
    }
)

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴"
    "莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪"
    "梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简"
    "车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄"
    "丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区"
    "郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阎戈伏谷税"
)
COMPOUND_SURNAMES = frozenset(
    {
        "欧阳",
        "司马",
        "诸葛",
        "上官",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "长孙",
        "宇文",
        "司徒",
        "夏侯",
        "轩辕",
        "令狐",
        "钟离",
        "闻人",
        "赫连",
        "澹台",
        "公冶",
        "太叔",
        "申屠",
        "端木",
        "南宫",
        "西门",
        "独孤",
        "呼延",
        "司空",
        "万俟",
        "东郭",
        "百里",
        "第五",
        "拓跋",
        "鲜于",
    }
)
_NAME_SHAPE = r"^(?:\p{Han}{2,4}|\p{Han}{1,10}[·•．]\p{Han}{1,10})$"
_NOT_NAME_END = r"[路街道区市县镇乡村局院所司厂店站馆校部处队组社园苑楼]$"
_ADDRESS_MARK = r"[省市区县旗镇乡村街道路巷弄号楼栋幢室组]"
_ADDRESS_TEXT = r"^[\p{Han}0-9A-Z#()（）\-·,，、/.\s]{4,}$"
_ADDRESS_FULL = r"^\p{Han}{2,7}(?:省|自治区|市)\p{Han}{0,12}?(?:市|区|县|旗).*\d+号"
_DATE_SEP = (
    r"^(?:1[89]|20)\d{2}[-/.年](?:0?[1-9]|1[0-2])[-/.月](?:0?[1-9]|[12]\d|3[01])日?"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_DATE_COMPACT = r"^(?:1[89]|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])$"
_NUMBER = r"^[+-]?\d{1,3}(?:\.\d+)?$"
_RANGES = {"longitude": (73.0, 136.0), "latitude": (3.0, 54.0)}


def _snake(title: str) -> str:
    """'_'-delimited lower-case tokens: 'contactPhone No.' -> '_contact_phone_no_'."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", title)
    return "_" + "_".join(re.findall(r"[a-z0-9]+", spaced.lower())) + "_"


def title_hints(title: str) -> frozenset[str]:
    """Semantic types the column title points to."""
    snake = _snake(title)
    found = set()
    for typ, (zh, en) in _HINTS.items():
        if any(word in title for word in zh) or any(f"_{w}_" in snake for w in en):
            found.add(typ)
    return frozenset(found)


def _share(mask: pa.Array | pa.ChunkedArray, n: int) -> float:
    return pc.sum(pc.cast(mask, pa.int64())).as_py() / n if n else 0.0


#: Types whose valid values are all ASCII, and types whose valid values all hold a Han character.
_ASCII_ONLY = frozenset(
    {"id_card", "credit_code", "bank_card", "email", "mobile", "postcode", "longitude", "latitude"}
)
_NEVER_ASCII = frozenset({"plate", "address", "person_name"})


class _Distinct:
    """A column's distinct strings and how often each occurs: every mask then runs once per
    distinct value (a coded column holds a few dozen in 2,000), shares still count every one."""

    def __init__(self, s: pa.Array) -> None:
        counts = pc.value_counts(s)
        self.values: pa.Array = counts.field("values")
        self.counts: pa.Array = counts.field("counts")
        self.n = len(s)
        self._ascii: int | None = None

    def _hits(self, mask: pa.Array) -> int:
        return int(pc.sum(pc.if_else(mask, self.counts, 0)).as_py() or 0)

    def share(self, mask: pa.Array) -> float:
        return self._hits(mask) / self.n if self.n else 0.0

    def may_reach(self, typ: str, threshold: float) -> bool:
        """False when `typ` cannot reach `threshold` whatever its mask says, as the mask only
        accepts ASCII values (or only non-ASCII ones) and too few are: one cheap kernel saves a
        mask of several regexes and checksums (Chinese text columns, code columns)."""
        if typ not in _ASCII_ONLY and typ not in _NEVER_ASCII:
            return True
        if self._ascii is None:
            self._ascii = self._hits(pc.string_is_ascii(self.values))
        possible = self._ascii if typ in _ASCII_ONLY else self.n - self._ascii
        return self.n > 0 and possible / self.n >= threshold


def _re(s: pa.Array, pattern: str) -> pa.Array:
    return pc.fill_null(pc.match_substring_regex(s, pattern), False)


def _in_range(numbers: pa.Array, typ: str) -> pa.Array:
    lo, hi = _RANGES[typ]
    return pc.fill_null(pc.and_(pc.greater_equal(numbers, lo), pc.less_equal(numbers, hi)), False)


def _coordinate_share(d: _Distinct, typ: str) -> float:
    s = d.values
    numeric = _re(s, _NUMBER)
    numbers = pc.cast(pc.if_else(numeric, s, pa.scalar("0", pa.string())), pa.float64())
    return d.share(pc.and_(numeric, _in_range(numbers, typ)))


def _name_mask(s: pa.Array) -> pa.Array:
    surname = pc.or_(
        pc.is_in(pc.utf8_slice_codeunits(s, 0, 1), value_set=pa.array(list(_SURNAMES))),
        pc.is_in(pc.utf8_slice_codeunits(s, 0, 2), value_set=pa.array(sorted(COMPOUND_SURNAMES))),
    )
    plain = pc.and_(surname, pc.invert(_re(s, _NOT_NAME_END)))
    dotted = _re(s, r"[·•．]")
    return pc.and_(_re(s, _NAME_SHAPE), pc.or_(plain, dotted))


#: Types whose values a validator of `cityhub.identifiers` recognises on its own.
_VALIDATED = {
    "credit_code": ids.credit_code_mask,
    "bank_card": ids.bank_card_mask,
    "email": ids.email_mask,
    "plate": ids.plate_mask,
    "mobile": ids.mobile_mask,
    "landline": ids.landline_mask,
    "postcode": ids.postcode_mask,
}


def _mask(typ: str, s: pa.Array, hinted: bool) -> pa.Array:
    """Which values look like `typ`; weaker shapes only count when the title hints the type."""
    if typ == "id_card":
        return ids.id_card_mask(s, allow_15=hinted)
    if typ in _VALIDATED:
        return _VALIDATED[typ](s)
    if typ == "date":
        sep = _re(s, _DATE_SEP)
        return pc.or_(sep, _re(s, _DATE_COMPACT)) if hinted else sep
    if typ == "address":
        if hinted:
            return pc.and_(_re(s, _ADDRESS_TEXT), _re(s, _ADDRESS_MARK))
        return _re(s, _ADDRESS_FULL)
    if typ == "person_name":
        return _name_mask(s)
    raise ValueError(f"no value mask for {typ!r}")


# Types whose values speak for themselves, in priority order.
_UNHINTED: tuple[str, ...] = (
    "id_card",
    "credit_code",
    "bank_card",
    "email",
    "plate",
    "mobile",
    "landline",
    "date",
    "address",
)


def detect_semantic(
    title: str,
    values: pa.Array | pa.ChunkedArray,
    *,
    threshold: float = 0.9,
    hinted_threshold: float = 0.7,
) -> str | None:
    """The semantic type code of a column from its title and a sample of its values, or None.

    `values` may be any Arrow type; nulls and blank strings are ignored. Rules: module doc.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.drop_null()
    if len(values) == 0:
        return None
    hints = title_hints(title)
    t = values.type
    if pa.types.is_dictionary(t):
        values = values.dictionary_decode()
        t = values.type
    if pa.types.is_date(t) or pa.types.is_timestamp(t):
        return "date"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        numbers = pc.cast(values, pa.float64())
        for typ in ("longitude", "latitude"):
            if typ in hints and _share(_in_range(numbers, typ), len(numbers)) >= threshold:
                return typ
        return None
    s = ids.as_strings(values)
    s = s.filter(pc.not_equal(s, ""))
    if len(s) == 0:
        return None
    d = _Distinct(s)

    for typ in SEMANTIC_TYPES:
        if typ not in hints:
            continue
        if typ in _RANGES:
            if d.may_reach(typ, threshold) and _coordinate_share(d, typ) >= threshold:
                return typ
        elif (
            d.may_reach(typ, hinted_threshold)
            and d.share(_mask(typ, d.values, hinted=True)) >= hinted_threshold
        ):
            return typ
    if hints & {"mobile", "landline"}:
        mobiles, landlines = ids.mobile_mask(d.values), ids.landline_mask(d.values)
        if d.share(pc.or_(mobiles, landlines)) >= hinted_threshold:
            return "mobile" if d.share(mobiles) >= d.share(landlines) else "landline"

    if d.n >= MIN_UNHINTED:
        for typ in _UNHINTED:
            if d.may_reach(typ, threshold) and (
                d.share(_mask(typ, d.values, hinted=False)) >= threshold
            ):
                return typ
    return None


def default_grade(semantic_type: str | None, title: str) -> str:
    """Default sensitivity grade: L4 when the title speaks of health, crime, biometrics or
    minors; otherwise the semantic type's grade (DEFAULT_GRADES); L1 for anything else."""
    tokens = set(_snake(title).strip("_").split("_"))
    if any(word in title for word in _L4_HINTS_ZH) or tokens & _L4_HINTS_EN:
        return Grade.L4.value
    if semantic_type is None:
        return Grade.L1.value
    return DEFAULT_GRADES.get(semantic_type, Grade.L1.value)
