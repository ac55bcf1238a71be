"""Feeds of the bus company (公交集团): cardholders, stops on the map and card taps, with the
rush hours in them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from cityhub.demo import feedkit as kit
from cityhub.demo import text, vocab
from cityhub.demo.feeds_people import PERSON
from cityhub.demo.people import LIGHT
from cityhub.demo.places import ESTATE_HEADS_TABLE, ROAD_COUNT, ROAD_NAMES, ROAD_START
from cityhub.demo.spec import Ctx, Rows, feed
from cityhub.demo.writers import point_geometry

CARD_TYPES = text.table(["普通卡", "学生卡", "老年卡", "爱心卡"])
FARES = np.array([1.8, 1.0, 0.0, 0.0])  # yuan per tap, after the card discount


def _cardholders(ctx: Ctx) -> np.ndarray:
    pp = ctx.people
    return ctx.distinct("cards", pp.eligible(6, 100), ctx.quota["330400-GJJT-0001"], pp.n)


def _card_types(ctx: Ctx) -> np.ndarray:
    def make() -> np.ndarray:
        age = ctx.people.ages(_cardholders(ctx))
        care = ctx.rng("card-types").random(len(age)) < 0.02
        return np.select([age < 18, age >= 65, care], [1, 2, 3], 0)

    return ctx.memo("card-types", make)


def card_number(pos: np.ndarray) -> pa.Array:
    return text.join("3104", text.digits(pos * 7919 % 10**12, 12))


def cardholders(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    pp = ctx.people
    idx = _cardholders(ctx)[start : start + n]
    pos = np.arange(start, start + n)
    cols = {
        "卡号": card_number(pos),
        "卡类型": text.take(CARD_TYPES, _card_types(ctx)[pos]),
        "持卡人姓名": pp.names(rng, idx, LIGHT),
        "证件号码": pp.id_numbers(rng, idx, LIGHT),
        "联系电话": pp.phones(rng, idx, LIGHT),
        "开卡日期": text.date_text(
            kit.day_of(kit.moments(rng, n, first=np.datetime64("2010-01-01")))
        ),
        "开卡网点": text.join(text.take(kit.COUNTY_NAMES, pp.county[idx]), "市民卡服务网点"),
        "卡状态": text.choose(rng, ["正常", "挂失", "注销"], n, [95, 3, 2]),
    }
    return Rows(cols, kit.person_links(idx, "证件号码", None, ctx))


def _routes(ctx: Ctx) -> int:
    return max(1, ctx.quota["330400-GJJT-0003"] // 15)


def route_code(route: np.ndarray) -> pa.Array:
    return text.join(text.where(route % 10 == 0, "K", ""), text.number(route + 1), "路")


def stop_code(ids: np.ndarray) -> pa.Array:
    return text.join("ZD", text.digits(ids, 6))


def stops(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    ids = np.arange(start, start + n)
    county = text.pick(rng, vocab.COUNTY_WEIGHTS, n)
    seats = np.array([(c[2], c[3]) for c in vocab.COUNTIES])
    lon = np.round(seats[county, 0] + rng.normal(0, 0.04, n), 6)
    lat = np.round(seats[county, 1] + rng.normal(0, 0.03, n), 6)
    road = text.take(ROAD_NAMES, ROAD_START[county] + rng.integers(0, 1000, n) % ROAD_COUNT[county])
    head = text.take(ESTATE_HEADS_TABLE, rng.integers(0, 1000, n) % len(ESTATE_HEADS_TABLE))
    route = ids % _routes(ctx)
    cols = {
        "站点编号": stop_code(ids),
        "站点名称": text.join(road, text.where(rng.random(n) < 0.5, head, ""), "站"),
        "所属线路": route_code(route),
        "所属区县": text.take(kit.COUNTY_NAMES, county),
        "id": ids + 1,
        "geometry": point_geometry(lon, lat),
    }
    return Rows(cols)


def taps(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """Taps of the last three months: frequent riders tap far more (a skewed card choice),
    mostly at rush hours; ordered by time within each delivered batch."""
    cards = ctx.quota["330400-GJJT-0001"]
    pos = np.minimum((rng.random(n) ** 1.8 * cards).astype(np.int64), cards - 1)
    when = np.sort(
        kit.moments(rng, n, kit.RUSH_HOURS, first=text.REF_DAY - np.timedelta64(91, "D"))
    )
    stop = rng.integers(0, ctx.quota["330400-GJJT-0003"], n)
    route = stop % _routes(ctx)
    kind = _card_types(ctx)[pos]
    cols = {
        "交易流水号": np.arange(start, start + n, dtype=np.int64) + 1,
        "卡号": card_number(pos),
        "卡类型": text.take(CARD_TYPES, kind),
        "交易时间": text.timestamps(when),
        "线路编号": route_code(route),
        "车辆编号": text.join("JX", text.digits(route * 20 + rng.integers(0, 20, n), 5)),
        "上车站点编号": stop_code(stop),
        "交易金额": FARES[kind],
    }
    return Rows(cols)


FEEDS = [
    feed(
        "330400-GJJT-0001",
        "公交IC卡持卡人信息",
        "Bus card holders",
        "公交IC卡（市民卡）的卡号、卡类型、持卡人身份信息、开卡日期和卡状态",
        fmt="csv",
        file="公交IC卡持卡人信息.csv",
        weight=800_000,
        columns="卡号 卡类型 持卡人姓名 证件号码 联系电话 开卡日期 开卡网点 卡状态",
        build=cardholders,
        key="卡号",
        themes=("交通", "人口"),
        tags=("公交", "市民卡"),
        key_fields=("卡号", "证件号码"),
        **PERSON,
    ),
    feed(
        "330400-GJJT-0002",
        "公交IC卡刷卡记录",
        "Bus card taps",
        "公交车刷卡交易：卡号、卡类型、交易时间、线路、车辆、上车站点和金额",
        fmt="parquet",
        file="公交IC卡刷卡记录.parquet",
        weight=12_000_000,
        columns="交易流水号 卡号 卡类型 交易时间 线路编号 车辆编号 上车站点编号 交易金额",
        build=taps,
        themes=("交通",),
        tags=("公交", "刷卡", "客流"),
        key_fields=("交易流水号",),
        share_type="有条件共享",
        share_condition="仅限交通、规划部门用于客流分析",
        open_type="有条件开放",
        open_condition="卡号经不可逆脱敏后向注册用户开放",
        update_cycle="每日",
    ),
    feed(
        "330400-GJJT-0003",
        "公交站点",
        "Bus stops",
        "公交站点编号、名称、所属线路、所属区县和经纬度",
        fmt="geojson",
        file="公交站点.geojson",
        weight=3_000,
        columns="站点编号 站点名称 所属线路 所属区县 id geometry longitude latitude",
        build=stops,
        key="站点编号",
        themes=("交通", "空间地理"),
        tags=("公交", "站点"),
        share_type="无条件共享",
        open_type="无条件开放",
        update_cycle="每季度",
    ),
]
