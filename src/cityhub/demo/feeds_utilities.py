"""Feeds of the utilities and of construction: power and water accounts (households and firms)
with their monthly readings, building permits and new-home sales contracts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cityhub.demo import feedkit as kit
from cityhub.demo import text
from cityhub.demo.people import HEAVY, LIGHT
from cityhub.demo.spec import Ctx, Link, Rows, feed

UTILITY = "仅限政府部门用于经济运行监测、社会救助核查和城市治理"


def accounts(ctx: Ctx, code: str, every: int) -> tuple[np.ndarray, np.ndarray]:
    """Account holders of a utility: every `every`-th account is a firm's, the others a
    household's (distinct adults). Returns (is_firm, owner id) per account."""

    def make() -> tuple[np.ndarray, np.ndarray]:
        quota = ctx.quota[code]
        firm = np.arange(quota) % every == 0
        owner = np.empty(quota, np.int64)
        f, pp = ctx.firms, ctx.people
        owner[firm] = ctx.distinct(code + ":firms", kit.market(ctx), int(firm.sum()), f.n)
        owner[~firm] = ctx.distinct(code + ":homes", ctx.adults(), int((~firm).sum()), pp.n)
        return firm, owner

    return ctx.memo("accounts:" + code, make)


def _holders(
    ctx: Ctx, rng: np.random.Generator, firm: np.ndarray, owner: np.ndarray, heavy: bool
) -> tuple[pa.Array, pa.Array, pa.Array, np.ndarray]:
    """户名, 证件号码, 联系电话 and the place of account holders, persons and firms mixed."""
    f, pp = ctx.firms, ctx.people
    noise = HEAVY if heavy else LIGHT
    fo, po = owner[firm], owner[~firm]
    name = text.scatter(firm, f.names(rng, fo, 0.4), pp.names(rng, po, noise))
    codes = f.codes(rng, fo, missing=0.05, old=0.1 if heavy else 0.0, old_style="org")
    ident = text.scatter(firm, codes, pp.id_numbers(rng, po, noise))
    landline = text.join("0573-", text.number(rng.integers(82000000, 89999999, len(fo))))
    phone = text.scatter(firm, landline, pp.phones(rng, po, noise))
    place = np.where(firm, f.place[np.where(firm, owner, 0)], pp.place[np.where(firm, 0, owner)])
    return name, ident, phone, place


def _owner_links(
    firm: np.ndarray, owner: np.ndarray, field: str, place_field: str, place: np.ndarray
) -> list[Link]:
    return [
        Link("enterprise", field, np.where(firm, owner, -1)),
        Link("person", field, np.where(firm, -1, owner)),
        Link("place", place_field, place),
    ]


def power_accounts(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    firm, owner = (a[start : start + n] for a in accounts(ctx, "330400-GDGS-0001", 5))
    name, ident, phone, place = _holders(ctx, rng, firm, owner, heavy=False)
    rooms = np.where(firm, 0, ctx.people.room[np.where(firm, 0, owner)])
    cols = {
        "用电户号": text.join("330", text.digits(np.arange(start, start + n), 7)),
        "户名": name,
        "证件类型": text.where(firm, "统一社会信用代码", "居民身份证"),
        "证件号码": ident,
        "用电地址": ctx.places.written(rng, place, 0.5, rooms),
        "用电类别": text.where(
            firm, text.where(rng.random(n) < 0.2, "大工业用电", "一般工商业用电"), "居民生活用电"
        ),
        "电压等级": text.where(
            firm, text.where(rng.random(n) < 0.3, "交流10kV", "交流380V"), "交流220V"
        ),
        "合同容量(千伏安)": np.where(firm, rng.integers(50, 2000, n), rng.integers(4, 16, n)),
        "立户日期": text.date_text(
            kit.day_of(kit.moments(rng, n, first=np.datetime64("1998-01-01")))
        ),
        "联系电话": phone,
        "所属供电所": text.join(ctx.places.town_name(place), "供电所"),
    }
    return Rows(cols, _owner_links(firm, owner, "证件号码", "用电地址", place))


def _monthly(
    ctx: Ctx, code: str, every: int, only_firms: bool, start: int, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of accounts × months, the latest month first: (account position, months back)."""
    firm, _ = accounts(ctx, code, every)
    chosen = np.flatnonzero(firm) if only_firms and firm.any() else np.arange(len(firm))
    k = np.arange(start, start + n)
    return chosen[k % len(chosen)], k // len(chosen)


def _month(back: np.ndarray) -> np.ndarray:
    return (np.datetime64("2017-10", "M") - back.astype("timedelta64[M]")).astype("datetime64[D]")


def power_use(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """企业月度用电量: enterprise accounts, month by month back from 2017-10; larger firms
    (by registered capital) use more."""
    pos, back = _monthly(ctx, "330400-GDGS-0001", 5, True, start, n)
    firm, owner = accounts(ctx, "330400-GDGS-0001", 5)
    firm, owner = firm[pos], owner[pos]
    f, pp = ctx.firms, ctx.people
    size = np.where(firm, f.capital[np.where(firm, owner, 0)], 1.0)
    month = _month(back)
    kwh = np.round(rng.lognormal(np.log(2000), 0.5, n) * np.sqrt(size + 1)).astype(np.int64)
    peak = np.round(kwh * rng.uniform(0.35, 0.5, n)).astype(np.int64)
    cols = {
        "用电户号": text.join("330", text.digits(pos, 7)),
        "户名": text.scatter(
            firm, pc.take(f.name, pa.array(owner[firm])), pp.names(rng, owner[~firm])
        ),
        "抄表年月": text.month_text(month),
        "有功电量(千瓦时)": kwh,
        "峰时电量": peak,
        "谷时电量": kwh - peak,
        "电费金额(元)": np.round(kwh * 0.78, 2),
        "抄表日期": text.date_text(month + rng.integers(20, 28, n).astype("timedelta64[D]")),
    }
    return Rows(cols)


def water_accounts(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    firm, owner = (a[start : start + n] for a in accounts(ctx, "330400-SWJT-0001", 7))
    name, ident, phone, place = _holders(ctx, rng, firm, owner, heavy=True)
    rooms = np.where(firm, 0, ctx.people.room[np.where(firm, 0, owner)])
    cols = {
        "用户号": text.join("SW", text.digits(np.arange(start, start + n), 9)),
        "户名": name,
        "证件号码": ident,
        "联系电话": phone,
        "用水地址": ctx.places.written(rng, place, 0.7, rooms),
        "用水性质": text.where(
            firm, text.where(rng.random(n) < 0.05, "特种用水", "非居民用水"), "居民生活用水"
        ),
        "水表口径": text.where(
            firm,
            text.choose(rng, ["DN25", "DN50", "DN100"], n),
            text.choose(rng, ["DN15", "DN20"], n, [9, 1]),
        ),
        "开户日期": text.date_text(
            kit.day_of(kit.moments(rng, n, first=np.datetime64("1995-01-01"))), "slash"
        ),
        "所属营业所": text.join(ctx.places.county_name(place), "营业所"),
        "账户状态": text.choose(rng, ["正常", "停水", "销户"], n, [95, 2, 3]),
    }
    return Rows(cols, _owner_links(firm, owner, "证件号码", "用水地址", place))


def water_use(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """月度抄表记录: every account, month by month back from 2017-10."""
    pos, back = _monthly(ctx, "330400-SWJT-0001", 7, False, start, n)
    firm, _ = accounts(ctx, "330400-SWJT-0001", 7)
    used = np.round(rng.gamma(2.0, np.where(firm[pos], 60.0, 7.0))).astype(np.int64)
    before = (pos * 37 % 900 + (40 - back) * 14).astype(np.int64)
    cols = {
        "用户号": text.join("SW", text.digits(pos, 9)),
        "抄表月份": text.month_text(_month(back)),
        "上期读数": before,
        "本期读数": before + used,
        "用水量(吨)": used,
        "水费(元)": np.round(used * np.where(firm[pos], 4.6, 2.9), 2),
        "抄表员": text.join("抄表员", text.digits(pos % 97, 3)),
    }
    return Rows(cols)


UTILITY_META: dict[str, Any] = {"share_condition": UTILITY, "open_type": "不予开放"}
FEEDS = [
    feed(
        "330400-GDGS-0001",
        "电力用户档案",
        "Electricity accounts",
        "居民和企业用电户的户号、户名、证件、用电地址、用电类别、电压等级和合同容量",
        fmt="csv",
        file="电力用户档案.csv",
        weight=600_000,
        columns="用电户号 户名 证件类型 证件号码 用电地址 用电类别 电压等级 合同容量(千伏安) "
        "立户日期 联系电话 所属供电所",
        build=power_accounts,
        key="用电户号",
        themes=("能源", "城市管理"),
        tags=("电力", "用电户"),
        key_fields=("用电户号", "证件号码"),
        **UTILITY_META,
    ),
    feed(
        "330400-GDGS-0002",
        "企业月度用电量",
        "Monthly electricity use of enterprises",
        "企业用电户逐月有功电量、峰谷电量和电费，用于经济运行监测",
        fmt="csv",
        file="企业月度用电量.csv",
        weight=2_000_000,
        columns="用电户号 户名 抄表年月 有功电量(千瓦时) 峰时电量 谷时电量 电费金额(元) 抄表日期",
        build=power_use,
        themes=("能源", "经济运行"),
        tags=("电力", "用电量", "经济运行"),
        key_fields=("用电户号", "抄表年月"),
        share_type="有条件共享",
        share_condition="仅限经济运行监测和亩均效益评价使用",
        open_type="有条件开放",
        open_condition="按行业、区县汇总后开放",
    ),
    feed(
        "330400-SWJT-0001",
        "用水户信息",
        "Water accounts",
        "自来水用户的用户号、户名、证件号码、用水地址、用水性质、水表口径和账户状态",
        fmt="csv-gbk",
        file="用水户信息.csv",
        weight=700_000,
        columns="用户号 户名 证件号码 联系电话 用水地址 用水性质 水表口径 开户日期 所属营业所 "
        "账户状态",
        build=water_accounts,
        key="用户号",
        themes=("城市管理", "能源"),
        tags=("供水", "用水户"),
        key_fields=("用户号", "证件号码"),
        **UTILITY_META,
    ),
    feed(
        "330400-SWJT-0002",
        "月度抄表记录",
        "Monthly water meter readings",
        "用水户逐月抄表读数、用水量和水费",
        fmt="csv",
        file="月度抄表记录.csv",
        weight=1_400_000,
        columns="用户号 抄表月份 上期读数 本期读数 用水量(吨) 水费(元) 抄表员",
        build=water_use,
        themes=("城市管理", "能源"),
        tags=("供水", "抄表"),
        key_fields=("用户号", "抄表月份"),
        **UTILITY_META,
    ),
]
