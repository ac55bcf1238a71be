"""Feeds of transport: road segments of the three road classes (STANDARDS.md §7), their flow
detectors and five-minute flow records with morning and evening rush hours; bus cards, bus stops
and card taps."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cityhub.demo import feedkit as kit
from cityhub.demo import text, vocab
from cityhub.demo.places import ROAD_COUNT, ROAD_NAMES, ROAD_START
from cityhub.demo.spec import Ctx, Rows, feed

CLASSES = text.table(["快速路", "主干路", "次干路"])
CLASS_W = [15, 40, 45]
FREE_SPEED = np.array([75.0, 48.0, 38.0])  # km/h
DESIGN_SPEED = np.array([80, 60, 40])
LANE_CAPACITY = np.array([150.0, 117.0, 83.0])  # vehicles per lane per 5 minutes
EXPRESSWAYS = text.words("中环东路 中环南路 中环西路 中环北路 三环东路 三环南路 嘉海公路 320国道")
DIRECTIONS = text.table(["东向西", "西向东", "南向北", "北向南"])
SLOT = np.timedelta64(5, "m")
OPEN_TRAFFIC: dict[str, Any] = {"share_type": "无条件共享", "open_type": "无条件开放"}


def segments(ctx: Ctx) -> dict[str, np.ndarray | pa.Array]:
    """The road network: segments with class, county, road, cross roads, lanes, end points and
    a demand factor (how busy the segment is relative to its capacity at rush hour)."""

    def make() -> dict[str, np.ndarray | pa.Array]:
        rng = ctx.rng("segments")
        s = ctx.quota["330400-JT-0001"]
        cls = text.pick(rng, CLASS_W, s)
        county = text.pick(rng, vocab.COUNTY_WEIGHTS, s)
        seats = np.array([(c[2], c[3]) for c in vocab.COUNTIES])
        lon0 = seats[county, 0] + rng.normal(0, 0.04, s)
        lat0 = seats[county, 1] + rng.normal(0, 0.03, s)
        heading = rng.uniform(0, 2 * np.pi, s)
        length = np.round(rng.uniform(300, 2500, s) * np.where(cls == 0, 1.8, 1.0))
        deg = length / 100_000  # about 100 km per degree here

        def road() -> pa.Array:
            return text.take(
                ROAD_NAMES, ROAD_START[county] + rng.integers(0, 1000, s) % ROAD_COUNT[county]
            )

        express = text.take(text.table(EXPRESSWAYS), rng.integers(0, len(EXPRESSWAYS), s))
        two_or_three = np.where(cls == 1, rng.choice([2, 3], s), rng.choice([1, 2], s))
        return {
            "class": cls,
            "county": county,
            "lanes": np.where(cls == 0, 6, two_or_three * 2),
            "length": length,
            "lon0": np.round(lon0, 6),
            "lat0": np.round(lat0, 6),
            "lon1": np.round(lon0 + deg * np.cos(heading), 6),
            "lat1": np.round(lat0 + deg * np.sin(heading), 6),
            "name": text.where(cls == 0, express, road()),
            "from": road(),
            "to": road(),
            "factor": rng.uniform(0.7, 1.12, s),
        }

    return ctx.memo("segments", make)


def segment_code(ids: np.ndarray) -> pa.Array:
    return text.join("LD", text.digits(ids, 5))


def detector_code(ids: np.ndarray) -> pa.Array:
    return text.join("JXD", text.digits(ids, 5))


def road_segments(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    seg = segments(ctx)
    ids = np.arange(start, start + n)
    line = text.join(
        '{"type":"LineString","coordinates":[[',
        text.number(seg["lon0"][ids]),
        ",",
        text.number(seg["lat0"][ids]),
        "],[",
        text.number(seg["lon1"][ids]),
        ",",
        text.number(seg["lat1"][ids]),
        "]]}",
    )
    cols = {
        "路段编号": segment_code(ids),
        "道路名称": pc.take(seg["name"], pa.array(ids)),
        "道路等级": text.take(CLASSES, seg["class"][ids]),
        "起点": pc.take(seg["from"], pa.array(ids)),
        "终点": pc.take(seg["to"], pa.array(ids)),
        "车道数": seg["lanes"][ids],
        "长度(米)": seg["length"][ids].astype(np.int64),
        "设计速度(km/h)": DESIGN_SPEED[seg["class"][ids]],
        "所属区县": text.take(kit.COUNTY_NAMES, seg["county"][ids]),
        "id": ids + 1,
        "geometry": line,
    }
    return Rows(cols)


def _detector_segment(ctx: Ctx, ids: np.ndarray) -> np.ndarray:
    return ids % ctx.quota["330400-JT-0001"]


def detectors(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    seg = segments(ctx)
    ids = np.arange(start, start + n)
    s = _detector_segment(ctx, ids)
    t = rng.uniform(0.2, 0.8, n)  # where along the segment it stands
    cols = {
        "检测器编号": detector_code(ids),
        "路段编号": segment_code(s),
        "道路名称": pc.take(seg["name"], pa.array(s)),
        "道路等级": text.take(CLASSES, seg["class"][s]),
        "检测方向": text.take(DIRECTIONS, rng.integers(0, 4, n)),
        "车道数": seg["lanes"][s] // 2,
        "检测器类型": text.choose(rng, ["线圈", "微波", "视频"], n, [3, 3, 4]),
        "经度": np.round(seg["lon0"][s] + t * (seg["lon1"][s] - seg["lon0"][s]), 6),
        "纬度": np.round(seg["lat0"][s] + t * (seg["lat1"][s] - seg["lat0"][s]), 6),
        "安装日期": text.date_text(
            kit.day_of(kit.moments(rng, n, first=np.datetime64("2013-01-01")))
        ),
        "设备状态": text.choose(rng, ["在线", "离线", "维修"], n, [92, 5, 3]),
    }
    return Rows(cols)


def _gauss(h: np.ndarray, mid: float, width: float) -> np.ndarray:
    return np.exp(-(((h - mid) / width) ** 2))


def demand(times: np.ndarray) -> np.ndarray:
    """Demand over capacity by time of day: morning and evening rush on working days, a flatter
    day at weekends."""
    h = (times - times.astype("datetime64[D]")).astype("timedelta64[m]").astype(np.int64) / 60
    day = (times.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 0 = Monday
    weekend = day >= 5
    daytime = 1 / (1 + np.exp(-(h - 6.5) * 2)) / (1 + np.exp((h - 21.5) * 1.5))
    work = 0.1 + 0.5 * daytime + 0.55 * _gauss(h, 8.1, 0.9) + 0.5 * _gauss(h, 17.8, 1.0)
    rest = 0.1 + 0.6 * daytime + 0.15 * _gauss(h, 15.0, 2.5)
    return np.where(weekend, rest, work)


def flows(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    """Five-minute records: row k is detector k mod D in slot k div D; the slots end on the
    reference day, so the span (about four weeks) is the same at every scale."""
    seg = segments(ctx)
    d = ctx.quota["330400-JT-0002"]
    slots = -(-ctx.quota["330400-JT-0003"] // d)
    k = np.arange(start, start + n)
    det, slot = k % d, k // d
    first = (text.REF_DAY + np.timedelta64(1, "D")).astype("datetime64[m]") - slots * SLOT
    times = first + slot * SLOT
    s = _detector_segment(ctx, det)
    cls = seg["class"][s]
    x = demand(times) * seg["factor"][s] * rng.lognormal(0, 0.08, n)
    capacity = LANE_CAPACITY[cls] * (seg["lanes"][s] // 2)
    volume = rng.poisson(capacity * np.minimum(x, 1.0) * (1 - 0.25 * np.maximum(x - 1, 0)))
    jam = x**8 / (1 + x**8)
    speed = np.clip(FREE_SPEED[cls] * (1 - 0.9 * jam) + rng.normal(0, 2.5, n), 3, 110)
    occupancy = np.clip(volume / capacity * FREE_SPEED[cls] / speed * 0.1, 0.002, 0.95)
    cols = {
        "检测器编号": detector_code(det),
        "路段编号": segment_code(s),
        "采集时间": text.timestamps(times),
        "流量": volume.astype(np.int64),
        "平均速度": np.round(speed, 1),
        "时间占有率": np.round(occupancy, 3),
    }
    return Rows(cols)


FEEDS = [
    feed(
        "330400-JT-0001",
        "道路路段",
        "Road segments",
        "城市道路路段的名称、等级（快速路/主干路/次干路）、起止点、车道数、长度和设计速度",
        fmt="geojson",
        file="道路路段.geojson",
        weight=600,
        columns="路段编号 道路名称 道路等级 起点 终点 车道数 长度(米) 设计速度(km/h) 所属区县 "
        "id geometry",
        build=road_segments,
        key="路段编号",
        themes=("交通", "空间地理"),
        tags=("路网", "道路"),
        update_cycle="每年",
        **OPEN_TRAFFIC,
    ),
    feed(
        "330400-JT-0002",
        "交通流量检测器",
        "Traffic flow detectors",
        "道路交通流量检测器的编号、所在路段、方向、车道数、类型、位置和设备状态",
        fmt="csv",
        file="交通流量检测器.csv",
        weight=1_200,
        columns="检测器编号 路段编号 道路名称 道路等级 检测方向 车道数 检测器类型 经度 纬度 "
        "安装日期 设备状态",
        build=detectors,
        key="检测器编号",
        themes=("交通",),
        tags=("检测器", "交通感知"),
        update_cycle="每月",
        **OPEN_TRAFFIC,
    ),
    feed(
        "330400-JT-0003",
        "道路交通流量监测",
        "Road traffic flow (5-minute)",
        "各检测器每5分钟的交通流量、平均速度和时间占有率，反映早晚高峰拥堵",
        fmt="parquet",
        file="道路交通流量监测.parquet",
        weight=10_085_000,
        columns="检测器编号 路段编号 采集时间 流量 平均速度 时间占有率",
        build=flows,
        themes=("交通",),
        tags=("交通流量", "拥堵", "实时"),
        key_fields=("检测器编号", "采集时间"),
        update_cycle="实时",
        **OPEN_TRAFFIC,
    ),
]
