"""Feeds of civil affairs (市民政局): the subsistence allowance roll as the districts hand it in
(one Excel sheet each), marriage registrations, and elderly-care homes on the map."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cityhub.demo import feedkit as kit
from cityhub.demo import text
from cityhub.demo.feeds_people import NATIVE, PERSON
from cityhub.demo.people import HEAVY, LIGHT
from cityhub.demo.spec import Ctx, Excel, Link, Rows, feed
from cityhub.demo.writers import point_geometry


def allowance(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """低保: household heads, the allowance paid per member (800 元 standard in 2017)."""
    pp, pl = ctx.people, ctx.places
    quota = ctx.quota["330400-MZ-0001"]
    idx = ctx.distinct("allowance", pp.eligible(30, 95), quota, pp.n)[start : start + n]
    place = pp.place[idx]
    town = pl.town_name(place)
    members = text.pick(rng, [35, 30, 20, 10, 5], n) + 1
    amount = np.round(members * rng.uniform(300, 800, n) / 10) * 10
    approved = kit.day_of(kit.moments(rng, n, first=np.datetime64("2012-01-01")))
    cols = {
        "救助证编号": text.join(
            "DB",
            text.take(kit.COUNTY_CODES, pl.county[place]),
            text.digits(np.arange(start, start + n), 6),
        ),
        "户主信息_姓名": pp.names(rng, idx, HEAVY),
        "户主信息_身份证号": pp.id_numbers(rng, idx, HEAVY),
        "户主信息_性别": pp.genders(idx),
        "户主信息_联系电话": pp.phones(rng, idx, HEAVY),
        "保障信息_保障类别": text.where(
            pc.ends_with(town, "街道").to_numpy(zero_copy_only=False), "城市低保", "农村低保"
        ),
        "保障信息_家庭人口": members,
        "保障信息_月保障金额": amount,
        "保障信息_批准日期": text.days(approved),
        "地址信息_所属区县": pl.county_name(place),
        "地址信息_所属乡镇街道": town,
        "地址信息_家庭住址": pp.addresses(rng, pl, idx, HEAVY),
    }
    return Rows(cols, kit.person_links(idx, "户主信息_身份证号", "地址信息_家庭住址", ctx))


def marriages(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    pp = ctx.people
    men, women = pp.eligible(22, 65), pp.eligible(20, 60)
    men, women = men[pp.male[men]], women[~pp.male[women]]
    husband = men[rng.integers(0, len(men), n)] if len(men) else rng.integers(0, pp.n, n)
    wife = women[rng.integers(0, len(women), n)] if len(women) else rng.integers(0, pp.n, n)
    office = pp.county[wife]
    kinds = text.pick(rng, [70, 25, 5], n)
    cols = {
        "登记证字号": text.join(
            "J",
            text.take(kit.COUNTY_CODES, office),
            "-2017-",
            text.digits(np.arange(start, start + n), 6),
        ),
        "登记类型": text.take(text.table(["结婚登记", "离婚登记", "补领结婚证"]), kinds),
        "登记日期": text.date_text(kit.day_of(kit.moments(rng, n)), "slash"),
        "登记机关": kit.in_county_text(office, "民政局婚姻登记处"),
        "男方姓名": pp.names(rng, husband, LIGHT),
        "男方身份证号": pp.id_numbers(rng, husband, LIGHT),
        "男方户籍地": text.choose(rng, NATIVE, n),
        "女方姓名": pp.names(rng, wife, LIGHT),
        "女方身份证号": pp.id_numbers(rng, wife, LIGHT),
        "女方户籍地": text.choose(rng, NATIVE, n),
    }
    links = [Link("person", "男方身份证号", husband), Link("person", "女方身份证号", wife)]
    return Rows(cols, links)


def care_homes(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    f, pl = ctx.firms, ctx.places
    ids = f.in_range("homes")[start : start + n]
    beds = rng.integers(30, 400, n)
    cols = {
        "机构名称": pc.take(f.name, pa.array(ids)),
        "机构性质": text.where(f.kind[ids] == 6, "公办", "民办"),
        "统一社会信用代码": pc.take(f.credit, pa.array(ids)),
        "所属区县": text.take(kit.COUNTY_NAMES, f.county[ids]),
        "地址": pl.written(rng, f.place[ids], 0.3),
        "床位数": beds,
        "入住人数": np.rint(beds * rng.uniform(0.4, 0.95, n)).astype(np.int64),
        "联系电话": text.join("0573-", text.number(rng.integers(82000000, 89999999, n))),
        "id": np.arange(start, start + n) + 1,
        "geometry": point_geometry(pl.lon[f.place[ids]], pl.lat[f.place[ids]]),
    }
    links = [Link("enterprise", "统一社会信用代码", ids), Link("place", "地址", f.place[ids])]
    return Rows(cols, links)


FEEDS = [
    feed(
        "330400-MZ-0001",
        "最低生活保障对象",
        "Subsistence allowance recipients",
        "城乡最低生活保障家庭的户主、家庭人口、保障类别、月保障金额和住址（各区县报送）",
        fmt="xlsx",
        file="最低生活保障对象.xlsx",
        weight=4_000,
        columns="序号 救助证编号 户主信息_姓名 户主信息_身份证号 户主信息_性别 "
        "户主信息_联系电话 保障信息_保障类别 保障信息_家庭人口 保障信息_月保障金额 "
        "保障信息_批准日期 地址信息_所属区县 地址信息_所属乡镇街道 地址信息_家庭住址",
        build=allowance,
        key="救助证编号",
        excel=Excel(
            title="{sheet}最低生活保障对象花名册（2017年10月）",
            unit="填报单位：{sheet}民政局    金额单位：元",
            note="注：保障标准为每人每月800元，按家庭人均收入差额发放",
            split="地址信息_所属区县",
            totals=("保障信息_家庭人口", "保障信息_月保障金额"),
        ),
        themes=("民政", "社会保障"),
        tags=("低保", "社会救助"),
        key_fields=("户主信息_身份证号",),
        **PERSON,
    ),
    feed(
        "330400-MZ-0002",
        "婚姻登记信息",
        "Marriage registrations",
        "结婚、离婚和补领结婚证登记的当事人、登记日期和登记机关",
        fmt="csv",
        file="婚姻登记信息.csv",
        weight=48_000,
        columns="登记证字号 登记类型 登记日期 登记机关 男方姓名 男方身份证号 男方户籍地 "
        "女方姓名 女方身份证号 女方户籍地",
        build=marriages,
        key="登记证字号",
        themes=("民政", "人口"),
        tags=("婚姻登记",),
        update_cycle="每日",
        **PERSON,
    ),
    feed(
        "330400-MZ-0003",
        "养老服务机构",
        "Elderly-care homes",
        "敬老院、颐养院等养老服务机构的名称、性质、床位、入住人数和位置",
        fmt="geojson",
        file="养老服务机构.geojson",
        weight=600,
        columns="机构名称 机构性质 统一社会信用代码 所属区县 地址 床位数 入住人数 联系电话 "
        "id geometry longitude latitude",
        build=care_homes,
        key="统一社会信用代码",
        themes=("民政", "空间地理"),
        tags=("养老", "社会福利"),
        share_type="无条件共享",
        open_type="无条件开放",
        update_cycle="每季度",
    ),
]
