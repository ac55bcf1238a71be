"""Feeds about enterprises: market registration and food licences (市场监管), taxpayers and the
A-grade list (税务), industrial enterprises above designated size and their per-mu efficiency
(经信). The market register holds every market entity once (the enterprise master's copy)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cityhub.demo import feedkit as kit
from cityhub.demo import text, vocab
from cityhub.demo.firms import KIND_LABELS, SECTORS
from cityhub.demo.people import LIGHT
from cityhub.demo.spec import Ctx, Excel, Link, Rows, feed

SCOPE_BY_SECTOR = {
    "C": "产品的研发、制造、加工、销售；货物及技术进出口",
    "E": "房屋建筑工程、市政公用工程施工；建筑劳务分包",
    "F": "批发、零售；日用百货销售",
    "G": "普通货运；仓储服务（不含危险品）",
    "H": "餐饮管理；餐饮服务；食品经营",
    "I": "软件开发；信息技术咨询服务；数据处理",
    "K": "房地产开发经营；物业管理",
    "L": "投资管理；企业管理咨询",
    "M": "技术开发、技术咨询、技术转让、技术服务",
    "A": "农作物种植；农产品初加工及销售",
    "R": "文化艺术交流活动策划；广告设计、制作",
}
SCOPES = text.table([i[0] + SCOPE_BY_SECTOR[i[1]] for i in vocab.INDUSTRIES])
TAX_TYPES = text.table(
    text.words(
        "私营有限责任公司 私营股份有限公司 个体工商户 其他有限责任公司 "
        "农民专业合作社 私营独资企业 事业单位 民办非企业单位"
    )
)
OPEN_REGISTRY = "依据《企业信息公示暂行条例》向社会公示的登记信息"


def register(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """市场主体登记: market entity i is row i, as the register keeps it."""
    f, pp = ctx.firms, ctx.people
    ids = np.arange(start, start + n)
    legal = f.legal[ids]
    approved = np.minimum(
        f.founded[ids] + rng.integers(0, 2000, n).astype("timedelta64[D]"), text.REF_DAY
    )
    term_end = f.founded[ids] + (rng.choice([20, 30], n) * 365).astype("timedelta64[D]")
    cols = {
        "统一社会信用代码": pc.take(f.credit, pa.array(ids)),
        "企业名称": pc.take(f.name, pa.array(ids)),
        "市场主体类型": text.take(KIND_LABELS, f.kind[ids]),
        "法定代表人": pp.names(rng, legal),
        "法定代表人证件号码": pp.id_numbers(rng, legal, LIGHT),
        "注册资本(万元)": f.capital[ids],
        "成立日期": text.date_text(f.founded[ids]),
        "登记机关": kit.in_county_text(f.county[ids], "市场监督管理局"),
        "住所": ctx.places.standard(f.place[ids]),
        "经营范围": text.take(SCOPES, f.industry[ids]),
        "行业门类": text.take(SECTORS, f.industry[ids]),
        "登记状态": text.take(text.table(["存续", "注销", "吊销"]), f.status[ids]),
        "核准日期": text.date_text(approved),
        "营业期限至": text.where(rng.random(n) < 0.45, "长期", text.date_text(term_end)),
    }
    links = [
        Link("enterprise", "统一社会信用代码", ids),
        Link("person", "法定代表人证件号码", legal),
        Link("place", "住所", f.place[ids]),
    ]
    return Rows(cols, links)


def food_licences(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    f, pp = ctx.firms, ctx.people
    pool = kit.market(ctx, (f.kind == 2) | np.isin(f.industry, [10, 14, 15, 18]))
    ids = ctx.distinct("food", pool, ctx.quota["330400-SCJG-0002"], f.n)[start : start + n]
    issued = kit.day_of(kit.moments(rng, n, first=np.datetime64("2013-01-01")))
    catering = np.isin(f.industry[ids], [18]) | (rng.random(n) < 0.3)
    cols = {
        "许可证编号": text.join(
            "JY1",
            text.take(kit.COUNTY_CODES, f.county[ids]),
            text.digits(np.arange(start, start + n), 8),
        ),
        "经营者名称": f.names(rng, ids, 0.3),
        "社会信用代码": f.codes(rng, ids, missing=0.02),
        "法定代表人（负责人）": pp.names(rng, f.legal[ids], LIGHT),
        "住所": ctx.places.written(rng, f.place[ids], 0.3),
        "经营场所": ctx.places.written(rng, f.place[ids], 0.5),
        "主体业态": text.where(catering, "餐饮服务经营者", "食品销售经营者"),
        "经营项目": text.where(
            catering, "热食类食品制售；冷食类食品制售", "预包装食品销售；散装食品销售"
        ),
        "发证机关": kit.in_county_text(f.county[ids], "市场监督管理局"),
        "发证日期": text.date_text(issued),
        "有效期至": text.date_text(issued + np.timedelta64(5 * 365, "D")),
    }
    links = [Link("enterprise", "社会信用代码", ids), Link("place", "经营场所", f.place[ids])]
    return Rows(cols, links)


def _taxpayers(ctx: Ctx) -> np.ndarray:
    f = ctx.firms
    return ctx.distinct(
        "taxpayers", kit.market(ctx, f.status == 0), ctx.quota["330400-SWJ-0001"], f.n
    )


def taxpayers(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    f, pp = ctx.firms, ctx.people
    ids = _taxpayers(ctx)[start : start + n]
    cols = {
        "纳税人识别号": f.codes(rng, ids, old=0.08),
        "纳税人名称": f.names(rng, ids, 0.25),
        "登记注册类型": text.take(TAX_TYPES, f.kind[ids]),
        "法定代表人": pp.names(rng, f.legal[ids], LIGHT),
        "生产经营地址": ctx.places.written(rng, f.place[ids], 0.5),
        "行业": text.take(SECTORS, f.industry[ids]),
        "主管税务机关": text.join("国家税务总局", kit.in_county_text(f.county[ids], "税务局")),
        "纳税人状态": text.choose(rng, ["正常", "非正常", "注销"], n, [94, 4, 2]),
        "登记日期": text.date_text(np.maximum(f.founded[ids], np.datetime64("1994-01-01"))),
        "是否一般纳税人": text.where(f.capital[ids] > 200, "是", "否"),
    }
    links = [Link("enterprise", "纳税人识别号", ids), Link("place", "生产经营地址", f.place[ids])]
    return Rows(cols, links)


def a_grade(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    f = ctx.firms
    ids = ctx.distinct("a-grade", _taxpayers(ctx), ctx.quota["330400-SWJ-0002"], f.n)[
        start : start + n
    ]
    county = f.county[ids]
    cols = {
        "纳税人信息_纳税人识别号": pc.take(f.credit, pa.array(ids)),
        "纳税人信息_纳税人名称": pc.take(f.name, pa.array(ids)),
        "纳税人信息_所属区县": text.take(kit.COUNTY_NAMES, county),
        "评价信息_评价年度": np.full(n, 2016),
        "评价信息_信用级别": text.take(text.table(["A"]), np.zeros(n, np.int64)),
        "评价信息_主管税务机关": text.join("国家税务总局", kit.in_county_text(county, "税务局")),
    }
    return Rows(cols, [Link("enterprise", "纳税人信息_纳税人识别号", ids)])


def _industrial(ctx: Ctx, code: str) -> np.ndarray:
    return ctx.distinct(code, kit.industrial(ctx), ctx.quota[code], ctx.firms.n)


def above_size(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """规上工业企业 (main business income ≥ 2000 万元)."""
    f, pp = ctx.firms, ctx.people
    ids = _industrial(ctx, "330400-JXW-0001")[start : start + n]
    output = np.round(2000 + rng.lognormal(np.log(15000), 1.1, n), 1)
    income = np.round(output * rng.uniform(0.9, 1.1, n), 1)
    staff = kit.clip_int(output / rng.uniform(60, 160, n), 20, 20000)
    contact = ctx.adults()[rng.integers(0, len(ctx.adults()), n)]
    cols = {
        "企业信息_统一社会信用代码": pc.take(f.credit, pa.array(ids)),
        "企业信息_企业名称": pc.take(f.name, pa.array(ids)),
        "企业信息_所在区县": text.take(kit.COUNTY_NAMES, f.county[ids]),
        "企业信息_行业类别": text.take(SECTORS, f.industry[ids]),
        "经营指标_工业总产值(万元)": output,
        "经营指标_营业收入(万元)": income,
        "经营指标_利润总额(万元)": np.round(income * rng.normal(0.06, 0.04, n), 1),
        "经营指标_从业人员(人)": staff,
        "经营指标_用电量(万千瓦时)": np.round(output * rng.uniform(0.02, 0.12, n), 1),
        "联系方式_联系人": pp.names(rng, contact),
        "联系方式_联系电话": pp.phones(rng, contact),
    }
    return Rows(cols, [Link("enterprise", "企业信息_统一社会信用代码", ids)])


def per_mu(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """亩均效益评价 from the provincial API: land and indicators as nested objects."""
    f = ctx.firms
    ids = _industrial(ctx, "330400-JXW-0002")[start : start + n]
    score = np.round(np.clip(rng.normal(68, 13, n), 20, 99), 1)
    grade = np.select([score >= 85, score >= 70, score >= 55], [0, 1, 2], 3)
    cols = {
        "统一社会信用代码": pc.take(f.credit, pa.array(ids)),
        "企业名称": f.names(rng, ids, 0.15),
        "所在区县": text.take(kit.COUNTY_NAMES, f.county[ids]),
        "评价年度": np.full(n, 2016),
        "用地.用地面积亩": np.round(rng.lognormal(np.log(30), 0.8, n), 2),
        "用地.容积率": np.round(rng.uniform(0.6, 2.5, n), 2),
        "指标.亩均税收万元": np.round(np.maximum(score - 20, 1) * rng.uniform(0.2, 0.6, n), 2),
        "指标.亩均增加值万元": np.round(np.maximum(score - 20, 1) * rng.uniform(1.0, 2.5, n), 2),
        "指标.单位能耗增加值": np.round(rng.lognormal(np.log(1.2), 0.4, n), 2),
        "指标.研发经费占比": np.round(rng.uniform(0.005, 0.06, n), 4),
        "综合得分": score,
        "评价等级": text.take(text.table(list("ABCD")), grade),
    }
    return Rows(cols, [Link("enterprise", "统一社会信用代码", ids)])


FIRM: dict[str, Any] = {
    "share_type": "无条件共享",
    "open_type": "无条件开放",
    "open_condition": OPEN_REGISTRY,
}
FEEDS = [
    feed(
        "330400-SCJG-0001",
        "市场主体登记信息",
        "Market entity registrations",
        "企业、个体工商户、农民专业合作社的统一社会信用代码、名称、类型、法定代表人、注册资本、"
        "住所、经营范围和登记状态",
        fmt="csv-gbk",
        file="市场主体登记信息.csv",
        weight=450_000,
        columns="统一社会信用代码 企业名称 市场主体类型 法定代表人 法定代表人证件号码 "
        "注册资本(万元) 成立日期 登记机关 住所 经营范围 行业门类 登记状态 核准日期 "
        "营业期限至",
        build=register,
        key="统一社会信用代码",
        themes=("法人", "市场监管"),
        tags=("企业", "市场主体", "工商登记"),
        share_type="无条件共享",
        open_type="有条件开放",
        open_condition="法定代表人证件号码脱敏后向注册用户开放",
        data_level="important",
        update_cycle="每日",
    ),
    feed(
        "330400-SCJG-0002",
        "食品经营许可证信息",
        "Food business licences",
        "食品经营许可证的经营者、主体业态、经营项目、经营场所和有效期",
        fmt="csv",
        file="食品经营许可证信息.csv",
        weight=60_000,
        columns="许可证编号 经营者名称 社会信用代码 法定代表人（负责人） 住所 经营场所 "
        "主体业态 经营项目 发证机关 发证日期 有效期至",
        build=food_licences,
        key="许可证编号",
        themes=("市场监管", "法人"),
        tags=("食品安全", "许可证"),
        **FIRM,
    ),
    feed(
        "330400-SWJ-0001",
        "纳税人登记信息",
        "Taxpayer registrations",
        "纳税人识别号、名称、登记注册类型、法定代表人、生产经营地址、主管税务机关和纳税人状态",
        fmt="csv",
        file="纳税人登记信息.csv",
        weight=380_000,
        columns="纳税人识别号 纳税人名称 登记注册类型 法定代表人 生产经营地址 行业 "
        "主管税务机关 纳税人状态 登记日期 是否一般纳税人",
        build=taxpayers,
        key="纳税人识别号",
        themes=("财税", "法人"),
        tags=("税务登记", "纳税人"),
        share_condition="仅限政府部门用于企业服务、信用监管和统计分析",
        legal_basis=None,
    ),
    feed(
        "330400-SWJ-0002",
        "纳税信用A级纳税人名单",
        "A-grade taxpayers",
        "年度纳税信用等级评价为A级的纳税人名单（分区县工作表）",
        fmt="xlsx",
        file="纳税信用A级纳税人名单.xlsx",
        weight=3_000,
        columns="序号 纳税人信息_纳税人识别号 纳税人信息_纳税人名称 纳税人信息_所属区县 "
        "评价信息_评价年度 评价信息_信用级别 评价信息_主管税务机关",
        build=a_grade,
        key="纳税人信息_纳税人识别号",
        excel=Excel(
            title="2016年度{sheet}纳税信用A级纳税人名单",
            unit="发布单位：国家税务总局嘉兴市税务局",
            note="注：名单依据《纳税信用管理办法（试行）》评定",
            split="纳税人信息_所属区县",
        ),
        themes=("社会信用", "财税"),
        tags=("纳税信用", "红名单"),
        update_cycle="每年",
        **FIRM,
    ),
    feed(
        "330400-JXW-0001",
        "规上工业企业名录",
        "Industrial enterprises above designated size",
        "规模以上工业企业的统一社会信用代码、名称、行业和主要经营指标（分区县工作表）",
        fmt="xlsx",
        file="规上工业企业名录.xlsx",
        weight=5_000,
        columns="序号 企业信息_统一社会信用代码 企业信息_企业名称 企业信息_所在区县 "
        "企业信息_行业类别 经营指标_工业总产值(万元) 经营指标_营业收入(万元) "
        "经营指标_利润总额(万元) 经营指标_从业人员(人) 经营指标_用电量(万千瓦时) "
        "联系方式_联系人 联系方式_联系电话",
        build=above_size,
        key="企业信息_统一社会信用代码",
        excel=Excel(
            title="2017年{sheet}规模以上工业企业名录",
            unit="填报单位：市经信局    单位：万元",
            note="注：数据来源于统计联网直报平台，截至2017年9月",
            split="企业信息_所在区县",
            totals=(
                "经营指标_工业总产值(万元)",
                "经营指标_营业收入(万元)",
                "经营指标_利润总额(万元)",
                "经营指标_从业人员(人)",
                "经营指标_用电量(万千瓦时)",
            ),
        ),
        themes=("经济运行", "法人"),
        tags=("规上工业", "企业"),
        share_type="无条件共享",
        open_type="有条件开放",
        open_condition="经营指标汇总后开放，单个企业数据不予开放",
    ),
    feed(
        "330400-JXW-0002",
        "工业企业亩均效益评价",
        "Per-mu efficiency of industrial enterprises",
        "工业企业亩均税收、亩均增加值、单位能耗增加值和研发投入的综合评价（省经信接口）",
        fmt="ndjson",
        file="工业企业亩均效益评价.ndjson",
        weight=12_000,
        columns="统一社会信用代码 企业名称 所在区县 评价年度 用地.用地面积亩 用地.容积率 "
        "指标.亩均税收万元 指标.亩均增加值万元 指标.单位能耗增加值 指标.研发经费占比 "
        "综合得分 评价等级",
        build=per_mu,
        key="统一社会信用代码",
        themes=("经济运行",),
        tags=("亩均论英雄", "资源要素"),
        share_type="有条件共享",
        share_condition="仅限经信、发改、自然资源部门用于资源要素配置",
        update_cycle="每年",
    ),
]
