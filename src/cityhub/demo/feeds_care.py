"""Feeds about health and welfare: medical insurance settlements and designated institutions,
outpatient visits, birth certificates, medical institutions, subsistence allowance (低保),
marriage registrations, elderly-care homes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cityhub.demo import feedkit as kit
from cityhub.demo import text
from cityhub.demo.feeds_people import PERSON
from cityhub.demo.people import CHAR_TABLE, FEMALE_IDX, LIGHT, MALE_IDX, MEDIUM
from cityhub.demo.spec import Ctx, Link, Plant, Rows, feed
from cityhub.demo.writers import point_geometry

HOSPITAL_CLASS = text.table(
    ["综合医院", "中医医院", "社区卫生服务中心", "乡镇卫生院", "门诊部", "诊所"]
)
DIAGNOSES = [
    ("J06.900", "急性上呼吸道感染"),
    ("I10.X00", "原发性高血压"),
    ("E11.900", "2型糖尿病"),
    ("K29.700", "胃炎"),
    ("J20.900", "急性支气管炎"),
    ("M54.500", "腰痛"),
    ("N39.000", "泌尿道感染"),
    ("L30.900", "皮炎"),
    ("H10.900", "结膜炎"),
    ("K02.900", "龋病"),
    ("Z00.000", "健康体检"),
    ("R50.900", "发热"),
    ("I25.100", "冠状动脉粥样硬化性心脏病"),
    ("J45.900", "哮喘"),
]
DIAG_W = [18, 12, 8, 7, 7, 5, 4, 4, 3, 3, 6, 6, 4, 3]
CLINICS = [
    "内科",
    "外科",
    "儿科",
    "妇产科",
    "眼科",
    "口腔科",
    "皮肤科",
    "中医科",
    "急诊科",
    "全科医学科",
]
HEALTH = "仅限卫生健康、医疗保障部门履行职责使用；涉及个人健康信息，按最小必要原则提供"


def institution_code(ids: np.ndarray, ctx: Ctx) -> pa.Array:
    """定点医药机构编码: H (medical) or P (pharmacy), the county code and the institution."""
    f = ctx.firms
    hospital = (ids >= f.ranges["hospitals"].start) & (ids < f.ranges["hospitals"].stop)
    return text.join(
        text.where(hospital, "H", "P"),
        text.take(kit.COUNTY_CODES, f.county[ids]),
        text.digits(ids, 7),
    )


def designated(ctx: Ctx) -> np.ndarray:
    """The designated medical institutions and pharmacies (定点医药机构)."""
    f = ctx.firms
    pharmacies = kit.market(ctx, (f.industry == 16) & np.isin(f.kind, [0, 2, 5]))
    pool = np.concatenate([f.in_range("hospitals"), pharmacies])
    return ctx.distinct("designated", pool, ctx.quota["330400-YB-0002"], f.n)


def institutions(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    f = ctx.firms
    ids = designated(ctx)[start : start + n]
    hospital = ids < f.ranges["hospitals"].stop
    hospital &= ids >= f.ranges["hospitals"].start
    cols = {
        "机构编码": institution_code(ids, ctx),
        "机构名称": f.names(rng, ids, 0.1),
        "统一社会信用代码": f.codes(rng, ids, missing=0.02),
        "机构类型": text.where(hospital, "医疗机构", "零售药店"),
        "定点类别": text.where(hospital, "门诊、住院", "购药"),
        "所属区县": text.take(kit.COUNTY_NAMES, f.county[ids]),
        "地址": ctx.places.written(rng, f.place[ids], 0.4),
        "定点起始日期": text.date_text(np.maximum(f.founded[ids], np.datetime64("2001-01-01"))),
        "联系电话": text.join("0573-", text.number(rng.integers(82000000, 89999999, n))),
    }
    links = [Link("enterprise", "统一社会信用代码", ids), Link("place", "地址", f.place[ids])]
    return Rows(cols, links)


def settlements(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """医保结算: patients any age, at designated institutions; fund + account + cash = total."""
    pp, f = ctx.people, ctx.firms
    idx = rng.integers(0, pp.n, n)
    places = designated(ctx)
    where = places[rng.integers(0, len(places), n)]
    hospital = where < f.ranges["hospitals"].stop
    kind = np.where(hospital, text.pick(rng, [80, 12, 8], n), 3)
    total = text.money(rng, 180, 0.9, n) * np.where(kind == 2, 40, 1)
    fund = np.round(total * np.where(kind == 3, 0.0, rng.uniform(0.4, 0.85, n)), 2)
    account = np.round((total - fund) * rng.uniform(0, 1, n), 2)
    urban = rng.random(n) < 0.55
    cols = {
        "结算流水号": kit.keys("YB2017", start, n, 12),
        "参保人姓名": pp.names(rng, idx, LIGHT),
        "公民身份号码": pp.id_numbers(rng, idx, LIGHT),
        "医保类型": text.where(urban, "职工基本医疗保险", "城乡居民基本医疗保险"),
        "参保地": text.take(kit.COUNTY_NAMES, pp.county[idx]),
        "定点机构编码": institution_code(where, ctx),
        "定点机构名称": pc.take(f.name, pa.array(where)),
        "就诊类别": text.take(text.table(["普通门诊", "门诊慢特病", "住院", "药店购药"]), kind),
        "结算日期": text.date_text(kit.day_of(kit.moments(rng, n))),
        "医疗费总额": np.round(total, 2),
        "统筹基金支付": fund,
        "个人账户支付": account,
        "个人现金支付": np.round(total - fund - account, 2),
    }
    links = kit.person_links(idx, "公民身份号码", None, ctx)
    links.append(Link("enterprise", "定点机构编码", where))
    return Rows(cols, links)


def visits(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """门诊就诊: patients at hospitals of their county, mostly on weekday mornings."""
    pp, f = ctx.people, ctx.firms
    idx = rng.integers(0, pp.n, n)
    hospitals = f.in_range("hospitals")
    where = kit.within_county(rng, hospitals, f.county[hospitals], pp.county[idx])
    diag = text.pick(rng, DIAG_W, n)
    age = pp.ages(idx)
    clinic = np.where(age < 14, 2, text.pick(rng, [30, 10, 0, 8, 5, 6, 5, 8, 8, 20], n))
    doctors = ctx.adults()[rng.integers(0, len(ctx.adults()), n)]
    cols = {
        "就诊流水号": kit.keys("MZ", start, n, 13),
        "医疗机构代码": pc.take(f.credit, pa.array(where)),
        "医疗机构名称": pc.take(f.name, pa.array(where)),
        "患者姓名": pp.names(rng, idx, MEDIUM),
        "身份证号": pp.id_numbers(rng, idx, MEDIUM),
        "性别": pp.genders(idx),
        "年龄": age,
        "就诊科室": text.take(text.table(CLINICS), clinic),
        "就诊时间": text.time_text(kit.moments(rng, n), "slash"),
        "诊断编码": text.take(text.table([c for c, _ in DIAGNOSES]), diag),
        "诊断名称": text.take(text.table([d for _, d in DIAGNOSES]), diag),
        "接诊医生": pp.names(rng, doctors),
        "费用总额": text.money(rng, 150, 0.8, n),
    }
    links = kit.person_links(idx, "身份证号", None, ctx)
    links.append(Link("enterprise", "医疗机构代码", where))
    return Rows(cols, links)


def births(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """出生医学证明: a mother (distinct) and a father per newborn; the baby takes his surname."""
    pp, f = ctx.people, ctx.firms
    women = pp.eligible(20, 42)
    women = women[~pp.male[women]]
    mother = ctx.distinct("mothers", women, ctx.quota["330400-WJW-0002"], pp.n)[start : start + n]
    men = pp.eligible(22, 50)
    men = men[pp.male[men]]
    father = men[rng.integers(0, len(men), n)] if len(men) else rng.integers(0, pp.n, n)
    boy = rng.random(n) < 0.52
    given = np.where(
        boy,
        MALE_IDX[rng.integers(0, len(MALE_IDX), n)],
        FEMALE_IDX[rng.integers(0, len(FEMALE_IDX), n)],
    )
    hospitals = f.in_range("hospitals")
    where = kit.within_county(rng, hospitals, f.county[hospitals], pp.county[mother])
    born = kit.day_of(kit.moments(rng, n))
    cols = {
        "出生医学证明编号": text.join("Q330", text.digits(np.arange(start, start + n), 7)),
        "新生儿姓名": text.join(
            text.take(CHAR_TABLE, pp.surname[father]), text.take(CHAR_TABLE, given)
        ),
        "新生儿性别": text.where(boy, "男", "女"),
        "出生日期": text.date_text(born),
        "出生孕周": kit.clip_int(rng.normal(39, 1.4, n), 30, 42),
        "出生体重(克)": kit.clip_int(rng.normal(3300, 420, n), 1500, 5000),
        "出生地点": pc.take(f.name, pa.array(where)),
        "母亲姓名": pp.names(rng, mother, LIGHT),
        "母亲身份证号": pp.id_numbers(rng, mother, LIGHT),
        "父亲姓名": pp.names(rng, father, LIGHT),
        "父亲身份证号": pp.id_numbers(rng, father, LIGHT),
        "签发日期": text.date_text(born + rng.integers(1, 20, n).astype("timedelta64[D]")),
    }
    links = [
        Link("person", "母亲身份证号", mother),
        Link("person", "父亲身份证号", father),
        Link("enterprise", "出生地点", where),
    ]
    return Rows(cols, links)


def facilities(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """医疗机构分布 (GeoJSON points): every hospital, clinic and health centre once."""
    f, pl = ctx.firms, ctx.places
    ids = f.in_range("hospitals")[start : start + n]
    sub = f.subtype[ids]
    beds = np.where(
        sub < 2, rng.integers(200, 1500, n), np.where(sub < 4, rng.integers(10, 80, n), 0)
    )
    cols = {
        "机构名称": pc.take(f.name, pa.array(ids)),
        "机构类别": text.take(HOSPITAL_CLASS, sub),
        "医院等级": text.take(
            text.table(["三级甲等", "二级甲等", "一级", "未定级"]),
            np.minimum(sub + rng.integers(0, 2, n), 3),
        ),
        "统一社会信用代码": pc.take(f.credit, pa.array(ids)),
        "所属区县": text.take(kit.COUNTY_NAMES, f.county[ids]),
        "地址": pl.written(rng, f.place[ids], 0.2),
        "床位数": beds,
        "联系电话": text.join("0573-", text.number(rng.integers(82000000, 89999999, n))),
        "id": text.join("YL", text.digits(np.arange(start, start + n) + 1, 6)),
        "geometry": point_geometry(pl.lon[f.place[ids]], pl.lat[f.place[ids]]),
    }
    links = [Link("enterprise", "统一社会信用代码", ids), Link("place", "地址", f.place[ids])]
    return Rows(cols, links)


HEALTH_META: dict[str, Any] = {
    "share_condition": HEALTH,
    "open_type": "不予开放",
    "data_level": "important",
}
FEEDS = [
    feed(
        "330400-YB-0001",
        "医保结算记录",
        "Medical insurance settlements",
        "参保人员在定点医药机构的医疗费用结算明细：医疗费总额、统筹基金、个人账户和现金支付",
        fmt="csv",
        file="医保结算记录.csv",
        weight=4_000_000,
        columns="结算流水号 参保人姓名 公民身份号码 医保类型 参保地 定点机构编码 "
        "定点机构名称 就诊类别 结算日期 医疗费总额 统筹基金支付 个人账户支付 "
        "个人现金支付",
        build=settlements,
        key="结算流水号",
        malformed=Plant(
            misfits=(
                ("医疗费总额", "12O5.30"),
                ("结算日期", "2017-02-30"),
                ("医疗费总额", "壹佰元"),
            )
        ),
        themes=("社会保障", "医疗卫生"),
        tags=("医保", "结算"),
        key_fields=("公民身份号码",),
        update_cycle="每日",
        **HEALTH_META,
    ),
    feed(
        "330400-YB-0002",
        "定点医药机构名录",
        "Designated medical institutions and pharmacies",
        "医保定点医疗机构和零售药店的编码、名称、类型、定点类别和地址",
        fmt="csv",
        file="定点医药机构名录.csv",
        weight=3_000,
        columns="机构编码 机构名称 统一社会信用代码 机构类型 定点类别 所属区县 地址 "
        "定点起始日期 联系电话",
        build=institutions,
        key="机构编码",
        themes=("医疗卫生", "社会保障"),
        tags=("医保", "定点机构"),
        share_type="无条件共享",
        open_type="无条件开放",
    ),
    feed(
        "330400-WJW-0001",
        "门诊就诊记录",
        "Outpatient visits",
        "全市医疗机构门诊就诊明细：患者、科室、就诊时间、诊断和费用",
        fmt="csv-gbk",
        file="门诊就诊记录.csv",
        weight=3_000_000,
        columns="就诊流水号 医疗机构代码 医疗机构名称 患者姓名 身份证号 性别 年龄 "
        "就诊科室 就诊时间 诊断编码 诊断名称 接诊医生 费用总额",
        build=visits,
        key="就诊流水号",
        themes=("医疗卫生",),
        tags=("门诊", "诊疗"),
        key_fields=("身份证号",),
        update_cycle="每日",
        **HEALTH_META,
    ),
    feed(
        "330400-WJW-0002",
        "出生医学证明信息",
        "Birth certificates",
        "新生儿出生医学证明：出生日期、体重、孕周、出生地点和父母身份信息",
        fmt="csv",
        file="出生医学证明信息.csv",
        weight=45_000,
        columns="出生医学证明编号 新生儿姓名 新生儿性别 出生日期 出生孕周 出生体重(克) "
        "出生地点 母亲姓名 母亲身份证号 父亲姓名 父亲身份证号 签发日期",
        build=births,
        key="出生医学证明编号",
        themes=("人口", "医疗卫生"),
        tags=("出生", "妇幼"),
        key_fields=("母亲身份证号",),
        **PERSON,
    ),
    feed(
        "330400-WJW-0003",
        "医疗机构分布",
        "Medical institutions",
        "医院、社区卫生服务中心、卫生院、门诊部和诊所的名称、类别、等级、床位和位置",
        fmt="geojson",
        file="医疗机构分布.geojson",
        weight=2_500,
        columns="机构名称 机构类别 医院等级 统一社会信用代码 所属区县 地址 床位数 联系电话 "
        "id geometry longitude latitude",
        build=facilities,
        key="id",
        themes=("医疗卫生", "空间地理"),
        tags=("医院", "医疗资源"),
        key_fields=("统一社会信用代码",),
        share_type="无条件共享",
        open_type="无条件开放",
        update_cycle="每季度",
    ),
]
