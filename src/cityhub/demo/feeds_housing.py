"""Feeds of housing and construction (市住建局): building permits as the districts report them
(an Excel sheet each) and new-home sales contracts."""

from __future__ import annotations

import numpy as np

from cityhub.demo import feedkit as kit
from cityhub.demo import text, vocab
from cityhub.demo.feeds_people import PERSON
from cityhub.demo.people import MEDIUM
from cityhub.demo.places import ESTATE_NAMES
from cityhub.demo.spec import Ctx, Excel, Link, Rows, feed


def permits(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """施工许可: a developer and a contractor per project, on a place of the county."""
    f, pl = ctx.firms, ctx.places
    developers = kit.market(ctx, f.industry == 21)
    builders = kit.market(ctx, np.isin(f.industry, [12, 13]))
    developers = developers if len(developers) else kit.market(ctx)
    builders = builders if len(builders) else kit.market(ctx)
    owner = developers[rng.integers(0, len(developers), n)]
    contractor = builders[rng.integers(0, len(builders), n)]
    site = rng.integers(0, pl.n, n)
    issued = kit.day_of(kit.moments(rng, n))
    begin = issued + rng.integers(5, 60, n).astype("timedelta64[D]")
    project = text.take(
        text.table(vocab.PERMIT_PROJECTS), rng.integers(0, len(vocab.PERMIT_PROJECTS), n)
    )
    area = np.round(rng.lognormal(np.log(20000), 0.9, n), 1)
    cols = {
        "施工许可证编号": text.join(
            text.take(kit.COUNTY_CODES, pl.county[site]),
            text.date_text(issued, "compact"),
            text.digits(np.arange(start, start + n), 6),
        ),
        "项目信息_项目名称": text.join(
            text.take(ESTATE_NAMES, rng.integers(0, len(ESTATE_NAMES), n)), project, "项目"
        ),
        "项目信息_建设地址": pl.written(rng, site, 0.4),
        "项目信息_建设规模(平方米)": area,
        "项目信息_合同价格(万元)": np.round(area * rng.uniform(0.2, 0.45, n), 1),
        "建设单位_单位名称": f.names(rng, owner, 0.2),
        "建设单位_统一社会信用代码": f.codes(rng, owner, missing=0.02),
        "施工单位_单位名称": f.names(rng, contractor, 0.2),
        "施工单位_统一社会信用代码": f.codes(rng, contractor, missing=0.02),
        "所属区县": pl.county_name(site),
        "日期_发证日期": text.days(issued),
        "日期_计划开工日期": text.days(begin),
        "日期_计划竣工日期": text.days(begin + rng.integers(300, 1100, n).astype("timedelta64[D]")),
    }
    links = [
        Link("enterprise", "建设单位_统一社会信用代码", owner),
        Link("enterprise", "施工单位_统一社会信用代码", contractor),
        Link("place", "项目信息_建设地址", site),
    ]
    return Rows(cols, links)


def home_sales(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """商品房网签备案: buyers (adults), homes in estates, developers."""
    f, pp, pl = ctx.firms, ctx.people, ctx.places
    buyer = ctx.adults()[rng.integers(0, len(ctx.adults()), n)]
    estates = np.flatnonzero(pl.estate >= 0)
    home = estates[rng.integers(0, len(estates), n)] if len(estates) else rng.integers(0, pl.n, n)
    developers = kit.market(ctx, f.industry == 21)
    developers = developers if len(developers) else kit.market(ctx)
    dev = developers[rng.integers(0, len(developers), n)]
    area = np.round(rng.normal(105, 25, n).clip(45, 260), 2)
    cols = {
        "合同备案号": kit.keys("WQ2017", start, n, 8),
        "项目名称": text.join(text.take(ESTATE_NAMES, np.maximum(pl.estate[home], 0)), "项目"),
        "房屋坐落": pl.written(rng, home, 0.5, kit.rooms(rng, n)),
        "建筑面积(平方米)": area,
        "成交总价(万元)": np.round(area * rng.uniform(0.9, 2.2, n), 1),
        "买受人姓名": pp.names(rng, buyer, MEDIUM),
        "买受人证件号码": pp.id_numbers(rng, buyer, MEDIUM),
        "开发企业": f.names(rng, dev, 0.2),
        "开发企业统一社会信用代码": f.codes(rng, dev),
        "备案日期": text.date_text(kit.day_of(kit.moments(rng, n))),
    }
    links = [
        Link("person", "买受人证件号码", buyer),
        Link("enterprise", "开发企业统一社会信用代码", dev),
        Link("place", "房屋坐落", home),
    ]
    return Rows(cols, links)


FEEDS = [
    feed(
        "330400-JS-0001",
        "建筑工程施工许可",
        "Building permits",
        "建筑工程施工许可证的项目、建设地址、规模、合同价格、建设单位、施工单位和工期（分区县工作表）",
        fmt="xlsx",
        file="建筑工程施工许可.xlsx",
        weight=3_000,
        columns="施工许可证编号 项目信息_项目名称 项目信息_建设地址 项目信息_建设规模(平方米) "
        "项目信息_合同价格(万元) 建设单位_单位名称 建设单位_统一社会信用代码 "
        "施工单位_单位名称 施工单位_统一社会信用代码 所属区县 日期_发证日期 "
        "日期_计划开工日期 日期_计划竣工日期",
        build=permits,
        key="施工许可证编号",
        excel=Excel(
            title="{sheet}2017年建筑工程施工许可发证情况表",
            unit="填报单位：{sheet}住房和城乡建设局    金额单位：万元",
            note="注：不含限额以下小型工程",
            split="所属区县",
            totals=("项目信息_建设规模(平方米)", "项目信息_合同价格(万元)"),
        ),
        themes=("城乡建设",),
        tags=("施工许可", "建筑工程"),
        share_type="无条件共享",
        open_type="无条件开放",
    ),
    feed(
        "330400-JS-0002",
        "商品房网签备案信息",
        "New-home sales contracts",
        "商品房买卖合同网签备案：项目、房屋坐落、面积、成交价、买受人和开发企业",
        fmt="csv",
        file="商品房网签备案信息.csv",
        weight=160_000,
        columns="合同备案号 项目名称 房屋坐落 建筑面积(平方米) 成交总价(万元) 买受人姓名 "
        "买受人证件号码 开发企业 开发企业统一社会信用代码 备案日期",
        build=home_sales,
        key="合同备案号",
        themes=("城乡建设", "人口"),
        tags=("房产", "网签"),
        key_fields=("买受人证件号码",),
        update_cycle="每日",
        **PERSON,
    ),
]
