"""Feeds about people: household register, e-bikes, social security, employment, school rolls,
housing fund. The household register holds every resident once (the person master's own copy);
the others copy a subset of them, each department with its own slips (see people.Noise)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cityhub.demo import feedkit as kit
from cityhub.demo import text
from cityhub.demo.people import LIGHT, MEDIUM, Noise
from cityhub.demo.spec import Ctx, Link, Rows, feed

PERSONAL = "仅限政务服务、社会保障和公共管理用途，按最小必要原则申请，不得向第三方提供"
NATIVE = ["浙江嘉兴"] * 8 + ["浙江湖州", "江苏苏州", "安徽安庆", "江西上饶", "河南信阳", "四川南充"]
EDUCATION = text.table(["研究生", "大学本科", "大学专科", "高中", "中专", "初中", "小学", "学龄前"])
MARRIAGE = text.table(["未婚", "已婚", "离婚", "丧偶"])


def police(ctx: Ctx, place: np.ndarray) -> pa.Array:
    """The police station of a place's town: 建设街道 → 建设派出所."""
    town = ctx.places.town_name(place)
    return text.join(pc.replace_substring_regex(town, "(街道|镇)$", ""), "派出所")


def household(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """户籍人口: person i is row i, written as the registry keeps it (no slips)."""
    pp, pl = ctx.people, ctx.places
    idx = np.arange(start, start + n)
    age = pp.ages(idx)
    edu = np.select(
        [age < 6, age < 12, age < 15, age < 18],
        [7, 6, 5, 3],
        text.pick(rng, [2, 14, 13, 20, 8, 30, 13], n),
    )
    married = np.where(
        age < 20,
        0,
        np.where(age > 75, text.pick(rng, [2, 60, 3, 35], n), text.pick(rng, [15, 78, 6, 1], n)),
    )
    registered = np.maximum(pp.birth[idx], np.datetime64("1985-01-01"))
    cols = {
        "人员编号": text.join(
            "RK", text.take(kit.COUNTY_CODES, pp.county[idx]), text.digits(idx, 8)
        ),
        "公民身份号码": pp.id_numbers(rng, idx),
        "姓名": pp.names(rng, idx),
        "曾用名": text.with_nulls(pp.names(rng, idx, Noise(homophone=1.0)), rng.random(n) >= 0.02),
        "性别": pp.genders(idx),
        "民族": text.choose(rng, ["汉族", "回族", "畲族", "土家族", "苗族"], n, [985, 3, 5, 4, 3]),
        "出生日期": text.date_text(pp.birth[idx], "compact"),
        "籍贯": text.choose(rng, NATIVE, n),
        "文化程度": text.take(EDUCATION, edu),
        "婚姻状况": text.take(MARRIAGE, married),
        "户籍地址": pp.addresses(rng, pl, idx),
        "户籍所在区县": pl.county_name(pp.place[idx]),
        "所属派出所": police(ctx, pp.place[idx]),
        "户号": text.join(
            text.digits(pp.place[idx] % 10**7, 7), text.digits(pp.room[idx] % 100, 2)
        ),
        "与户主关系": text.choose(
            rng,
            ["户主", "配偶", "子", "女", "父亲", "母亲", "孙子", "其他"],
            n,
            [38, 30, 12, 11, 2, 3, 2, 2],
        ),
        "联系电话": pp.phones(rng, idx),
        "登记日期": text.date_text(registered + rng.integers(0, 400, n).astype("timedelta64[D]")),
        "人员状态": text.choose(rng, ["正常", "迁出", "死亡"], n, [97, 2, 1]),
    }
    return Rows(cols, kit.person_links(idx, "公民身份号码", "户籍地址", ctx))


def ebikes(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    pp = ctx.people
    idx = ctx.distinct("ebikes", ctx.adults(), ctx.quota["330400-GA-0002"], pp.n)[start : start + n]
    plate_letter = text.take(text.table(list("ABCDEFG")), pp.county[idx])
    cols = {
        "登记编号": kit.keys("DDC", start, n, 9),
        "号牌号码": text.join("嘉兴", plate_letter, text.digits(rng.integers(0, 10**5, n), 5)),
        "车主姓名": pp.names(rng, idx, LIGHT),
        "车主身份证号": pp.id_numbers(rng, idx, LIGHT),
        "联系电话": pp.phones(rng, idx, LIGHT),
        "住址": pp.addresses(rng, ctx.places, idx, LIGHT),
        "品牌": text.choose(rng, ["雅迪", "爱玛", "台铃", "新日", "绿源", "小牛", "立马"], n),
        "车身颜色": text.choose(rng, ["白", "黑", "红", "蓝", "灰", "银"], n),
        "整车编码": text.join("3301", text.digits(rng.integers(0, 10**11, n), 11)),
        "电机号": text.join("DJ", text.digits(rng.integers(0, 10**10, n), 10)),
        "登记日期": text.date_text(
            kit.day_of(kit.moments(rng, n, first=np.datetime64("2015-01-01")))
        ),
        "登记点": police(ctx, pp.place[idx]),
    }
    return Rows(cols, kit.person_links(idx, "车主身份证号", "住址", ctx))


def insured(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """社会保险参保: working-age and retired people; employees name their employer."""
    pp, f = ctx.people, ctx.firms
    pool = pp.eligible(16, 100)
    idx = ctx.distinct("insured", pool, ctx.quota["330400-RS-0001"], pp.n)[start : start + n]
    age = pp.ages(idx)
    kind = np.where(age >= 60, text.pick(rng, [3, 6, 1], n), text.pick(rng, [7, 2, 1], n))
    employed = kind == 0
    employer = np.where(employed, kit.employer(ctx, rng, n), -1)
    since = np.maximum(pp.birth[idx] + np.timedelta64(18 * 365, "D"), np.datetime64("1995-01-01"))
    since = np.minimum(since + rng.integers(0, 3000, n).astype("timedelta64[D]"), text.REF_DAY)
    schemes = text.table(["企业职工基本养老保险", "城乡居民基本养老保险", "机关事业单位养老保险"])
    cols = {
        "个人编号": kit.keys("33040", start, n, 10),
        "社会保障号码": pp.id_numbers(rng, idx, MEDIUM),
        "姓名": pp.names(rng, idx, MEDIUM),
        "性别": pp.genders(idx),
        "出生日期": text.date_text(pp.birth[idx]),
        "参保险种": text.take(schemes, kind),
        "参保状态": text.choose(rng, ["正常参保", "暂停缴费", "终止参保"], n, [88, 8, 4]),
        "参保日期": text.date_text(since),
        "单位编号": text.with_nulls(text.join("DW", text.digits(employer % 10**8, 8)), ~employed),
        "单位名称": text.with_nulls(f.names(rng, np.maximum(employer, 0), 0.3), ~employed),
        "统一社会信用代码": text.with_nulls(
            f.codes(rng, np.maximum(employer, 0), missing=0.03), ~employed
        ),
        "缴费基数": np.round(rng.lognormal(np.log(5200), 0.35, n) / 10) * 10,
        "个人缴费比例": np.where(kind == 1, 0.0, 0.08),
        "联系电话": pp.phones(rng, idx, MEDIUM),
        "户口性质": text.choose(rng, ["城镇", "农村"], n, [62, 38]),
        "居住地址": pp.addresses(rng, ctx.places, idx, MEDIUM),
    }
    links = kit.person_links(idx, "社会保障号码", "居住地址", ctx)
    links.append(Link("enterprise", "统一社会信用代码", employer))
    return Rows(cols, links)


def employment(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """就业登记 as the provincial API returns it: worker and employer as nested objects."""
    pp, f = ctx.people, ctx.firms
    idx = ctx.distinct("employment", pp.eligible(18, 60), ctx.quota["330400-RS-0002"], pp.n)[
        start : start + n
    ]
    employer = kit.employer(ctx, rng, n)
    began = kit.day_of(kit.moments(rng, n, first=np.datetime64("2015-01-01")))
    years = text.pick(rng, [0, 3, 4, 1, 2], n)
    cols = {
        "登记编号": kit.keys("JY2017", start, n, 9),
        "登记时间": text.time_text(kit.moments(rng, n)),
        "劳动者.姓名": pp.names(rng, idx, LIGHT),
        "劳动者.证件号码": pp.id_numbers(rng, idx, LIGHT),
        "劳动者.性别": pp.genders(idx),
        "劳动者.手机号码": pp.phones(rng, idx, LIGHT),
        "用工单位.单位名称": f.names(rng, employer, 0.2),
        "用工单位.统一社会信用代码": f.codes(rng, employer),
        "用工单位.所属区县": text.take(kit.COUNTY_NAMES, f.county[employer]),
        "岗位": text.choose(
            rng, ["操作工", "销售", "会计", "技术员", "仓管", "司机", "文员", "厨师", "保安"], n
        ),
        "用工形式": text.choose(rng, ["全日制", "非全日制", "劳务派遣"], n, [85, 8, 7]),
        "合同期限.起始日期": text.date_text(began),
        "合同期限.终止日期": text.with_nulls(
            text.date_text(began + (years * 365).astype("timedelta64[D]")), years == 0
        ),
        "月工资": kit.clip_int(rng.lognormal(np.log(5200), 0.4, n), 2010, 60000),
    }
    links = kit.person_links(idx, "劳动者.证件号码", None, ctx)
    links.append(Link("enterprise", "用工单位.统一社会信用代码", employer))
    return Rows(cols, links)


PERSON: dict[str, Any] = {"share_condition": PERSONAL, "open_type": "不予开放"}

FEEDS = [
    feed(
        "330400-GA-0001",
        "户籍人口基本信息",
        "Registered residents",
        "全市户籍人口的公民身份号码、姓名、性别、民族、出生日期、户籍地址、户号和联系电话",
        fmt="csv-gbk",
        file="户籍人口基本信息.csv",
        weight=3_400_000,
        columns=(
            "人员编号 公民身份号码 姓名 曾用名 性别 民族 出生日期 "
            "籍贯 文化程度 婚姻状况 户籍地址 户籍所在区县 "
            "所属派出所 户号 与户主关系 联系电话 登记日期 人员状态"
        ),
        build=household,
        key="人员编号",
        themes=("人口", "公共安全"),
        tags=("户籍", "实有人口"),
        key_fields=("公民身份号码",),
        data_level="important",
        **PERSON,
    ),
    feed(
        "330400-GA-0002",
        "电动自行车登记信息",
        "E-bike registrations",
        "电动自行车号牌、车主、品牌型号、整车编码和登记点信息",
        fmt="csv",
        file="电动自行车登记信息.csv",
        weight=900_000,
        columns=(
            "登记编号 号牌号码 车主姓名 车主身份证号 联系电话 住址 "
            "品牌 车身颜色 整车编码 电机号 登记日期 登记点"
        ),
        build=ebikes,
        key="登记编号",
        themes=("公共安全", "交通"),
        tags=("电动自行车", "号牌"),
        key_fields=("号牌号码", "车主身份证号"),
        update_cycle="每日",
        **PERSON,
    ),
    feed(
        "330400-RS-0001",
        "社会保险参保信息",
        "Social insurance enrolment",
        "参保人员的社会保障号码、参保险种、参保状态、参保单位和缴费基数",
        fmt="csv",
        file="社会保险参保信息.csv",
        weight=2_400_000,
        columns=(
            "个人编号 社会保障号码 姓名 性别 出生日期 参保险种 "
            "参保状态 参保日期 单位编号 单位名称 统一社会信用代码 "
            "缴费基数 个人缴费比例 联系电话 户口性质 居住地址"
        ),
        build=insured,
        key="个人编号",
        themes=("社会保障", "人口"),
        tags=("社保", "养老保险", "参保"),
        key_fields=("社会保障号码",),
        **PERSON,
    ),
    feed(
        "330400-RS-0002",
        "就业登记信息",
        "Employment registrations",
        "劳动者就业登记：劳动者、用工单位、岗位、用工形式、合同期限和工资（省人社接口）",
        fmt="ndjson",
        file="就业登记信息.ndjson",
        weight=300_000,
        columns=(
            "登记编号 登记时间 劳动者.姓名 劳动者.证件号码 "
            "劳动者.性别 劳动者.手机号码 用工单位.单位名称 "
            "用工单位.统一社会信用代码 用工单位.所属区县 岗位 "
            "用工形式 合同期限.起始日期 合同期限.终止日期 月工资"
        ),
        build=employment,
        key="登记编号",
        themes=("社会保障", "经济运行"),
        tags=("就业", "劳动用工"),
        update_cycle="每日",
        **PERSON,
    ),
]
