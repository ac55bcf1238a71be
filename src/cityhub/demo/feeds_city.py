"""Feeds about the city itself: the standard address register (every place once, the place
master's copy) and public facilities on the map (自然资源和规划), the 12345 hotline and the
government service counters (政务服务办)."""

from __future__ import annotations

import numpy as np

from cityhub.demo import feedkit as kit
from cityhub.demo import text
from cityhub.demo.feeds_people import PERSON
from cityhub.demo.people import CHAR_TABLE, LIGHT
from cityhub.demo.places import ESTATE_HEADS_TABLE, ESTATE_NAMES, KINDS, ROAD_NAMES
from cityhub.demo.spec import Ctx, Link, Plant, Rows, feed
from cityhub.demo.truth import address_codes
from cityhub.demo.writers import point_geometry

# facility type, who runs it, whether it is named after the estate (else after the road)
FACILITIES = [
    ("公园", "市综合行政执法局", True),
    ("公共厕所", "市综合行政执法局", False),
    ("停车场", "市交通运输局", False),
    ("体育场馆", "市体育局", True),
    ("图书馆", "市文化广电旅游局", True),
    ("菜市场", "市商务局", True),
    ("派出所", "市公安局", False),
    ("消防站", "市消防救援支队", False),
    ("垃圾中转站", "市综合行政执法局", False),
]
FACILITY_W = [12, 30, 20, 5, 4, 10, 4, 3, 12]
# complaint type, the unit that handles it, what callers report
COMPLAINTS = [
    ("噪音扰民", "市生态环境局", "夜间施工噪音扰民"),
    ("违章停车", "市公安局", "车辆乱停乱放堵塞通道"),
    ("道路破损", "市综合行政执法局", "路面坑洼破损"),
    ("垃圾清运", "市综合行政执法局", "生活垃圾未及时清运"),
    ("供水问题", "嘉兴市水务集团", "自来水水压低、水质发黄"),
    ("停电报修", "国网嘉兴供电公司", "小区突然停电"),
    ("公交服务", "嘉兴市公交集团", "公交车到站不停、发车间隔过长"),
    ("物业纠纷", "市住建局", "物业服务不到位"),
    ("食品安全", "市市场监管局", "餐饮店卫生条件差"),
    ("占道经营", "市综合行政执法局", "流动摊贩占道经营"),
    ("劳资纠纷", "市人力社保局", "所在单位拖欠工资"),
    ("社保咨询", "市人力社保局", "社保转移接续办理流程不清楚"),
]
PERSONAL_COMPLAINTS = 10  # from 劳资纠纷 on, the matter is the caller's, not a place's
COMPLAINT_W = [10, 12, 8, 9, 6, 5, 5, 10, 6, 8, 7, 14]
PERSON_MATTERS = [
    ("居民身份证换领", "市公安局"),
    ("户口迁移", "市公安局"),
    ("社会保障卡申领", "市人力社保局"),
    ("住房公积金提取", "市住房公积金管理中心"),
    ("不动产登记", "市自然资源和规划局"),
    ("生育登记", "市卫健委"),
    ("医保参保登记", "市医保局"),
]
FIRM_MATTERS = [
    ("企业设立登记", "市市场监管局"),
    ("食品经营许可", "市市场监管局"),
    ("建筑工程施工许可", "市住建局"),
    ("税务登记", "市税务局"),
    ("排污许可", "市生态环境局"),
    ("公共场所卫生许可", "市卫健委"),
]


def addresses(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """标准地址库: place i is row i."""
    pl = ctx.places
    idx = np.arange(start, start + n)
    estate = pl.estate[idx]
    inside = estate >= 0
    cols = {
        "地址编码": address_codes(pl, idx),
        "标准地址": pl.standard(idx),
        "省": text.take(text.table(["浙江省"]), np.zeros(n, np.int64)),
        "市": text.take(text.table(["嘉兴市"]), np.zeros(n, np.int64)),
        "区县": pl.county_name(idx),
        "乡镇街道": pl.town_name(idx),
        "社区村": text.join(
            text.take(
                ESTATE_HEADS_TABLE, (pl.town[idx] * 7 + pl.road[idx]) % len(ESTATE_HEADS_TABLE)
            ),
            "社区",
        ),
        "道路街巷": text.take(ROAD_NAMES, pl.road[idx]),
        "门牌号": text.join(text.number(pl.number[idx]), "号"),
        "小区名称": text.with_nulls(text.take(ESTATE_NAMES, np.maximum(estate, 0)), ~inside),
        "楼幢号": text.with_nulls(text.join(text.number(pl.building[idx]), "幢"), ~inside),
        "经度": pl.lon[idx],
        "纬度": pl.lat[idx],
        "地址类型": text.take(text.table(KINDS), pl.kind[idx]),
        "更新日期": text.date_text(
            kit.day_of(kit.moments(rng, n, first=np.datetime64("2016-01-01")))
        ),
    }
    return Rows(cols, [Link("place", "地址编码", idx)])


def facilities(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    pl = ctx.places
    pool = np.flatnonzero(pl.kind == 3)
    site = ctx.distinct("facilities", pool, ctx.quota["330400-ZRZY-0002"], pl.n)[start : start + n]
    kind = text.pick(rng, FACILITY_W, n)
    by_estate = np.array([f[2] for f in FACILITIES])[kind]
    head = text.take(ESTATE_HEADS_TABLE, rng.integers(0, len(ESTATE_HEADS_TABLE), n))
    types = text.table([f[0] for f in FACILITIES])
    cols = {
        "设施编号": text.join("SS", text.digits(np.arange(start, start + n), 6)),
        "设施名称": text.join(
            text.where(by_estate, head, text.take(ROAD_NAMES, pl.road[site])),
            text.take(types, kind),
        ),
        "设施类别": text.take(types, kind),
        "地址": pl.written(rng, site, 0.3),
        "所属区县": pl.county_name(site),
        "管理单位": text.take(text.table([f[1] for f in FACILITIES]), kind),
        "id": np.arange(start, start + n) + 1,
        "geometry": point_geometry(pl.lon[site], pl.lat[site]),
    }
    return Rows(cols, [Link("place", "地址", site)])


def hotline(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """12345 tickets as the hotline system's API returns them. Callers give a name (often only
    their surname and 先生/女士) and a phone number, never an ID number."""
    pp, pl = ctx.people, ctx.places
    caller = ctx.adults()[rng.integers(0, len(ctx.adults()), n)]
    kind = text.pick(rng, COMPLAINT_W, n)
    site = np.where(rng.random(n) < 0.6, pp.place[caller], rng.integers(0, pl.n, n))
    polite = text.join(
        text.take(CHAR_TABLE, pp.surname[caller]), text.where(pp.male[caller], "先生", "女士")
    )
    received = kit.moments(rng, n)
    status = text.pick(rng, [88, 10, 2], n)
    done = status != 1
    closed = received + (rng.gamma(2.0, 30, n) * 3600).astype("timedelta64[s]")
    satisfied = text.take(
        text.table(["满意", "基本满意", "不满意"]), text.pick(rng, [70, 20, 10], n)
    )
    where = pl.written(rng, site, 0.6)
    cols = {
        "工单编号": kit.keys("JX12345", start, n, 10),
        "受理时间": text.time_text(received),
        "来电人.姓名": text.where(rng.random(n) < 0.25, polite, pp.names(rng, caller, LIGHT)),
        "来电人.联系电话": pp.phones(rng, caller, LIGHT),
        "诉求类型": text.take(text.table([c[0] for c in COMPLAINTS]), kind),
        "诉求内容": text.join(
            "来电反映",
            text.where(kind >= PERSONAL_COMPLAINTS, "", text.join(where, "附近")),
            text.take(text.table([c[2] for c in COMPLAINTS]), kind),
            "，希望相关部门尽快处理。",
        ),
        "事发地址": where,
        "所属区县": pl.county_name(site),
        "处置单位.名称": text.take(text.table([c[1] for c in COMPLAINTS]), kind),
        "处置单位.联系人": text.join(
            text.take(CHAR_TABLE, pp.surname[rng.integers(0, pp.n, n)]), "工"
        ),
        "办结时间": text.with_nulls(text.time_text(closed), ~done),
        "办理状态": text.take(text.table(["已办结", "办理中", "已退回"]), status),
        "满意度评价": text.with_nulls(satisfied, status != 0),
    }
    links = [Link("person", "来电人.联系电话", caller), Link("place", "事发地址", site)]
    return Rows(cols, links)


def applications(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """政务服务办件: people (70 %) and firms apply for matters at the counters or online."""
    pp, f = ctx.people, ctx.firms
    firm = rng.random(n) < 0.3
    person = ctx.adults()[rng.integers(0, len(ctx.adults()), int((~firm).sum()))]
    market = kit.market(ctx)
    company = market[rng.integers(0, len(market), int(firm.sum()))]
    pm = rng.integers(0, len(PERSON_MATTERS), len(person))
    fm = rng.integers(0, len(FIRM_MATTERS), len(company))
    received = kit.moments(rng, n)
    finished = received + (rng.gamma(1.5, 40, n) * 3600).astype("timedelta64[s]")
    cols = {
        "办件编号": kit.keys("BJ2017", start, n, 10),
        "事项名称": text.scatter(
            firm,
            text.take(text.table([m for m, _ in FIRM_MATTERS]), fm),
            text.take(text.table([m for m, _ in PERSON_MATTERS]), pm),
        ),
        "申请人类型": text.where(firm, "法人", "自然人"),
        "申请人名称": text.scatter(firm, f.names(rng, company, 0.2), pp.names(rng, person, LIGHT)),
        "申请人证件号码": text.scatter(
            firm, f.codes(rng, company, missing=0.01), pp.id_numbers(rng, person, LIGHT)
        ),
        "受理部门": text.scatter(
            firm,
            text.take(text.table([d for _, d in FIRM_MATTERS]), fm),
            text.take(text.table([d for _, d in PERSON_MATTERS]), pm),
        ),
        "受理时间": text.time_text(received),
        "办结时间": text.time_text(finished),
        "办理结果": text.choose(rng, ["准予许可", "办结", "不予许可"], n, [45, 52, 3]),
        "办理渠道": text.choose(rng, ["窗口", "浙里办", "自助终端"], n, [55, 35, 10]),
        "是否最多跑一次": text.choose(rng, ["是", "否"], n, [92, 8]),
    }
    ids = np.empty(n, np.int64)
    ids[firm], ids[~firm] = company, person
    links = [
        Link("enterprise", "申请人证件号码", np.where(firm, ids, -1)),
        Link("person", "申请人证件号码", np.where(firm, -1, ids)),
    ]
    return Rows(cols, links)


FEEDS = [
    feed(
        "330400-ZRZY-0001",
        "标准地址库",
        "Standard addresses",
        "全市标准地址：地址编码、省市区县、乡镇街道、社区、道路、门牌、小区楼幢和经纬度",
        fmt="csv",
        file="标准地址库.csv",
        weight=600_000,
        columns="地址编码 标准地址 省 市 区县 乡镇街道 社区村 道路街巷 门牌号 小区名称 楼幢号 "
        "经度 纬度 地址类型 更新日期",
        build=addresses,
        key="地址编码",
        themes=("空间地理", "城市管理"),
        tags=("地名地址", "标准地址"),
        share_type="无条件共享",
        open_type="有条件开放",
        open_condition="门牌级地址向注册用户开放",
        data_level="important",
    ),
    feed(
        "330400-ZRZY-0002",
        "公共设施点位",
        "Public facilities",
        "公园、公共厕所、停车场、体育场馆、图书馆、菜市场等公共设施的名称、类别、地址和经纬度",
        fmt="geojson",
        file="公共设施点位.geojson",
        weight=20_000,
        columns="设施编号 设施名称 设施类别 地址 所属区县 管理单位 id geometry longitude latitude",
        build=facilities,
        key="设施编号",
        themes=("空间地理", "城市管理"),
        tags=("公共设施", "POI"),
        share_type="无条件共享",
        open_type="无条件开放",
        update_cycle="每季度",
    ),
    feed(
        "330400-ZFB-0001",
        "12345热线工单",
        "12345 hotline tickets",
        "市民通过12345政务服务热线反映的诉求：来电人、诉求类型和内容、事发地址、处置单位、"
        "办理状态和满意度",
        fmt="ndjson",
        file="12345热线工单.ndjson",
        weight=900_000,
        columns="工单编号 受理时间 来电人.姓名 来电人.联系电话 诉求类型 诉求内容 事发地址 所属区县 "
        "处置单位.名称 处置单位.联系人 办结时间 办理状态 满意度评价",
        build=hotline,
        key="工单编号",
        malformed=Plant(every=500, most=2),
        themes=("政务服务", "城市管理"),
        tags=("12345", "热线", "诉求"),
        share_type="无条件共享",
        open_type="有条件开放",
        open_condition="来电人信息脱敏后向注册用户开放",
        update_cycle="每日",
    ),
    feed(
        "330400-ZFB-0002",
        "政务服务事项办件信息",
        "Government service applications",
        "政务服务事项办件：事项名称、申请人、受理部门、受理和办结时间、办理结果和办理渠道",
        fmt="csv",
        file="政务服务事项办件信息.csv",
        weight=500_000,
        columns="办件编号 事项名称 申请人类型 申请人名称 申请人证件号码 受理部门 受理时间 "
        "办结时间 办理结果 办理渠道 是否最多跑一次",
        build=applications,
        key="办件编号",
        themes=("政务服务",),
        tags=("最多跑一次", "办件"),
        update_cycle="每日",
        **PERSON,
    ),
]
