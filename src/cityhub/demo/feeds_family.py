"""Feeds about families: school rolls and the schools themselves, housing fund deposits and
mortgage loans."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cityhub.demo import feedkit as kit
from cityhub.demo import text
from cityhub.demo.feeds_people import PERSON
from cityhub.demo.firms import SCHOOL_TYPES
from cityhub.demo.people import LIGHT, MEDIUM
from cityhub.demo.spec import Ctx, Excel, Link, Rows, feed

GRADES = text.table(
    text.words("一年级 二年级 三年级 四年级 五年级 六年级 七年级 八年级 九年级 高一 高二 高三")
)


def school_code(ids: np.ndarray, ctx: Ctx) -> pa.Array:
    """学校标识码: 31 + province 33 + a number for the school."""
    return text.join("3133", text.digits(ids - ctx.firms.ranges["schools"].start, 6))


def students(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """中小学学籍: school-aged children, each at a school of their county."""
    pp, f = ctx.people, ctx.firms
    quota = ctx.quota["330400-JY-0001"]
    idx = ctx.distinct("students", pp.eligible(6, 17), quota, pp.n)[start : start + n]
    schools = f.in_range("schools")
    school = kit.within_county(rng, schools, f.county[schools], pp.county[idx])
    grade = np.clip(pp.ages(idx) - 6, 0, 11)
    stage = np.select([grade >= 9, grade >= 6], [9, 6], 0)  # 小学 / 初中 / 高中 began in …
    guardians = ctx.adults()[rng.integers(0, len(ctx.adults()), n)]
    cols = {
        "全国学籍号": text.join("G", pc.take(pp.id18, pa.array(idx))),
        "姓名": pp.names(rng, idx, LIGHT),
        "性别": pp.genders(idx),
        "出生日期": text.date_text(pp.birth[idx]),
        "身份证件号": pp.id_numbers(rng, idx, LIGHT),
        "民族": text.choose(rng, ["汉族", "回族", "畲族", "土家族", "苗族"], n, [985, 3, 5, 4, 3]),
        "学校标识码": school_code(school, ctx),
        "学校名称": pc.take(f.name, pa.array(school)),
        "年级": text.take(GRADES, grade),
        "班级": text.join(text.number(rng.integers(1, 13, n)), "班"),
        "入学年月": text.join(text.number(2017 - grade + stage), "-09"),
        "就读方式": text.choose(rng, ["走读", "住宿"], n, [85, 15]),
        "是否随迁子女": text.choose(rng, ["否", "是"], n, [78, 22]),
        "监护人姓名": pp.names(rng, guardians),
        "监护人联系电话": pp.phones(rng, guardians, LIGHT),
        "家庭住址": pp.addresses(rng, ctx.places, idx, LIGHT),
    }
    links = kit.person_links(idx, "身份证件号", "家庭住址", ctx)
    links.append(Link("enterprise", "学校名称", school))
    return Rows(cols, links)


def schools(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """学校名录: one workbook, a sheet per county, the school institutions themselves."""
    f = ctx.firms
    ids = f.in_range("schools")[start : start + n]
    kind = f.subtype[ids]
    pupils = kit.clip_int(rng.normal(np.where(kind == 4, 1800, 900), 250), 120, 4000)
    cols = {
        "学校标识码": school_code(ids, ctx),
        "基本信息_学校名称": pc.take(f.name, pa.array(ids)),
        "基本信息_统一社会信用代码": pc.take(f.credit, pa.array(ids)),
        "基本信息_办学类型": text.take(text.table(SCHOOL_TYPES), kind),
        "基本信息_举办者": text.choose(rng, ["地方教育部门", "民办"], n, [9, 1]),
        "位置_所属区县": text.take(kit.COUNTY_NAMES, f.county[ids]),
        "位置_学校地址": ctx.places.written(rng, f.place[ids], 0.3),
        "规模_在校学生数": pupils,
        "规模_教职工数": kit.clip_int(pupils / rng.uniform(11, 15, n), 10, 400),
        "规模_班级数": kit.clip_int(pupils / 42, 3, 100),
        "联系电话": text.join("0573-", text.number(rng.integers(82000000, 89999999, n))),
    }
    links = [
        Link("enterprise", "基本信息_统一社会信用代码", ids),
        Link("place", "位置_学校地址", f.place[ids]),
    ]
    return Rows(cols, links)


def _depositors(ctx: Ctx) -> np.ndarray:
    pp = ctx.people
    return ctx.distinct("fund", pp.eligible(22, 60), ctx.quota["330400-GJJ-0001"], pp.n)


def fund(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """住房公积金缴存: employees with their employer's fund account."""
    pp, f = ctx.people, ctx.firms
    idx = _depositors(ctx)[start : start + n]
    employer = kit.employer(ctx, rng, n)
    base = np.round(rng.lognormal(np.log(5600), 0.4, n) / 10) * 10
    rate = np.array([0.05, 0.08, 0.10, 0.12])[text.pick(rng, [2, 3, 3, 4], n)]
    adult = np.maximum(pp.birth[idx] + np.timedelta64(22 * 365, "D"), np.datetime64("2000-01-01"))
    opened = np.minimum(adult + rng.integers(0, 2500, n).astype("timedelta64[D]"), text.REF_DAY)
    cols = {
        "个人账号": kit.keys("GJ", start, n, 12),
        "姓名": pp.names(rng, idx, MEDIUM),
        "证件号码": pp.id_numbers(rng, idx, MEDIUM),
        "单位账号": text.join("DW", text.digits(employer, 9)),
        "单位名称": f.names(rng, employer, 0.3),
        "缴存基数": base,
        "缴存比例": rate,
        "月缴存额": np.round(base * rate * 2, 2),
        "开户日期": text.date_text(opened, "compact"),
        "账户状态": text.choose(rng, ["正常", "封存", "销户"], n, [86, 11, 3]),
        "账户余额": np.round(rng.lognormal(np.log(30000), 1.0, n), 2),
        "手机号码": pp.phones(rng, idx, MEDIUM),
    }
    links = kit.person_links(idx, "证件号码", None, ctx)
    links.append(Link("enterprise", "单位账号", employer))
    return Rows(cols, links)


def loans(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """公积金贷款: borrowers among the fund's depositors, buying a home somewhere in the city."""
    pp, pl = ctx.people, ctx.places
    quota = ctx.quota["330400-GJJ-0002"]
    idx = ctx.distinct("loans", _depositors(ctx), quota, pp.n)[start : start + n]
    homes = np.flatnonzero(pl.estate >= 0)
    home = homes[rng.integers(0, len(homes), n)] if len(homes) else rng.integers(0, pl.n, n)
    price = np.round(rng.lognormal(np.log(150), 0.45, n), 1)
    cols = {
        "贷款合同号": kit.keys("GJJDK2017", start, n, 7),
        "借款人姓名": pp.names(rng, idx, LIGHT),
        "借款人证件号码": pp.id_numbers(rng, idx, LIGHT),
        "贷款金额(万元)": np.minimum(np.round(price * rng.uniform(0.3, 0.7, n), 1), 100.0),
        "贷款期限(月)": text.pick(rng, [1, 2, 3, 6], n) * 60 + 60,
        "贷款利率": np.where(rng.random(n) < 0.8, 3.25, 2.75),
        "发放日期": text.date_text(kit.day_of(kit.moments(rng, n))),
        "还款方式": text.choose(rng, ["等额本息", "等额本金"], n, [8, 2]),
        "房屋坐落": pl.written(rng, home, 0.4, rooms=kit.rooms(rng, n)),
        "购房总价(万元)": price,
    }
    links = kit.person_links(idx, "借款人证件号码", None, ctx)
    links.append(Link("place", "房屋坐落", home))
    return Rows(cols, links)


FEEDS = [
    feed(
        "330400-JY-0001",
        "中小学学生学籍信息",
        "Primary and secondary school rolls",
        "全市中小学在校学生学籍：全国学籍号、学校、年级、班级、监护人和家庭住址",
        fmt="csv",
        file="中小学学生学籍信息.csv",
        weight=420_000,
        columns="全国学籍号 姓名 性别 出生日期 身份证件号 民族 学校标识码 学校名称 "
        "年级 班级 入学年月 就读方式 是否随迁子女 监护人姓名 监护人联系电话 "
        "家庭住址",
        build=students,
        key="全国学籍号",
        themes=("教育", "人口"),
        tags=("学籍", "未成年人"),
        share_condition="涉及未成年人信息，仅限教育、民政、卫健部门履职使用",
        data_level="important",
        update_cycle="每季度",
    ),
    feed(
        "330400-JY-0002",
        "学校名录",
        "Schools",
        "全市中小学校名称、办学类型、举办者、地址、在校学生数和教职工数（分区县工作表）",
        fmt="xlsx",
        file="学校名录.xlsx",
        weight=1_200,
        columns="学校标识码 基本信息_学校名称 基本信息_统一社会信用代码 "
        "基本信息_办学类型 基本信息_举办者 位置_所属区县 位置_学校地址 "
        "规模_在校学生数 规模_教职工数 规模_班级数 联系电话",
        build=schools,
        key="学校标识码",
        excel=Excel(
            title="2017年{sheet}中小学校名录",
            unit="填报单位：市教育局    统计时点：2017年9月",
            note="注：含公办和民办学校，不含幼儿园和培训机构",
            split="位置_所属区县",
            totals=("规模_在校学生数", "规模_教职工数", "规模_班级数"),
        ),
        themes=("教育",),
        tags=("学校", "名录"),
        share_type="无条件共享",
        open_type="无条件开放",
        update_cycle="每年",
    ),
    feed(
        "330400-GJJ-0001",
        "住房公积金缴存信息",
        "Housing provident fund deposits",
        "公积金个人账户的缴存单位、缴存基数、缴存比例、月缴存额、账户状态和余额",
        fmt="csv-gbk",
        file="住房公积金缴存信息.csv",
        weight=900_000,
        columns="个人账号 姓名 证件号码 单位账号 单位名称 缴存基数 缴存比例 "
        "月缴存额 开户日期 账户状态 账户余额 手机号码",
        build=fund,
        key="个人账号",
        themes=("社会保障", "城乡建设"),
        tags=("公积金", "住房"),
        key_fields=("证件号码",),
        **PERSON,
    ),
    feed(
        "330400-GJJ-0002",
        "公积金贷款发放信息",
        "Provident fund mortgage loans",
        "公积金个人住房贷款的借款人、贷款金额、期限、利率、发放日期和房屋坐落",
        fmt="csv",
        file="公积金贷款发放信息.csv",
        weight=40_000,
        columns="贷款合同号 借款人姓名 借款人证件号码 贷款金额(万元) 贷款期限(月) "
        "贷款利率 发放日期 还款方式 房屋坐落 购房总价(万元)",
        build=loans,
        key="贷款合同号",
        themes=("社会保障", "城乡建设"),
        tags=("公积金", "贷款"),
        key_fields=("借款人证件号码",),
        **PERSON,
    ),
]
