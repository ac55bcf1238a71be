"""Feeds about the environment: hourly air quality by station (with AQI computed from the
pollutants as HJ 633-2012 does), key polluters, hourly weather observations and warnings."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cityhub.demo import feedkit as kit
from cityhub.demo import text, vocab
from cityhub.demo.firms import SECTORS
from cityhub.demo.places import TOWN_NAMES, TOWN_START
from cityhub.demo.spec import Ctx, Excel, Link, Rows, feed

HOUR = np.timedelta64(1, "h")
AIR_STATIONS = [
    ("1235A", "嘉兴学院", 0),
    ("1236A", "嘉兴监测站", 0),
    ("1237A", "清河小学", 1),
    ("1238A", "秀洲区政府", 1),
    ("1239A", "南湖街道", 0),
    ("3001A", "嘉善县城", 2),
    ("3002A", "嘉善开发区", 2),
    ("3003A", "海盐县城", 3),
    ("3004A", "海宁市区", 4),
    ("3005A", "海宁长安", 4),
    ("3006A", "平湖市区", 5),
    ("3007A", "乍浦港区", 5),
    ("3008A", "桐乡市区", 6),
    ("3009A", "乌镇", 6),
]
IAQI = [0, 50, 100, 150, 200, 300, 400, 500]
BREAKS = {  # pollutant: concentration breakpoints for the IAQI steps above
    "PM2.5": [0, 35, 75, 115, 150, 250, 350, 500],
    "PM10": [0, 50, 150, 250, 350, 420, 500, 600],
    "O3": [0, 160, 200, 300, 400, 800, 1000, 1200],
    "NO2": [0, 100, 200, 700, 1200, 2340, 3090, 3840],
    "SO2": [0, 150, 500, 650, 800, 1600, 2100, 2620],
    "CO": [0, 5, 10, 35, 60, 90, 120, 150],
}
LEVELS = text.table(["优", "良", "轻度污染", "中度污染", "重度污染", "严重污染"])
WARNINGS = text.words("暴雨 台风 高温 大风 寒潮 大雾 雷电 霾")


def _hours(
    ctx: Ctx, code: str, stations: int, start: int, n: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Row k is station k mod S in hour k div S; the hours end on the reference day."""
    hours = -(-ctx.quota[code] // stations)
    k = np.arange(start, start + n)
    first = (text.REF_DAY + np.timedelta64(1, "D")).astype("datetime64[h]") - hours * HOUR
    return k % stations, first + (k // stations) * HOUR, hours


def _daily(ctx: Ctx, tag: str, days: int) -> np.ndarray:
    """A smooth day-to-day factor shared by every station (weather moves over the whole city)."""

    def make() -> np.ndarray:
        rng = ctx.rng(tag)
        walk = np.convolve(rng.normal(0, 1, days + 6), np.ones(4) / 2, mode="same")[:days]
        return np.exp(0.35 * walk)

    return ctx.memo(f"{tag}:{days}", make)


def _day_index(times: np.ndarray, hours: int) -> np.ndarray:
    first = (text.REF_DAY + np.timedelta64(1, "D")).astype("datetime64[h]") - hours * HOUR
    return ((times - first).astype(np.int64) // 24).astype(np.int64)


def _doy_hour(times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    day = times.astype("datetime64[D]")
    doy = (day - day.astype("datetime64[Y]")).astype(np.int64)
    return doy, (times - day).astype(np.int64)


def air(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    s, times, hours = _hours(ctx, "330400-STHJ-0001", len(AIR_STATIONS), start, n)
    doy, h = _doy_hour(times)
    day = _daily(ctx, "air", hours // 24 + 2)[_day_index(times, hours)]
    winter = 1 + 0.8 * np.cos(2 * np.pi * (doy - 15) / 365)
    summer = 1 - 0.6 * np.cos(2 * np.pi * (doy - 190) / 365)
    rush = np.exp(-(((h - 8) / 1.5) ** 2)) + np.exp(-(((h - 18.5) / 2) ** 2))
    noise = rng.lognormal(0, 0.15, n)
    conc = {
        "PM2.5": np.round(28 * winter * day * noise * (1 + 0.2 * rush)),
        "O3": np.round(
            np.clip(
                70 * summer * (0.3 + np.exp(-(((h - 15) / 3) ** 2))) * rng.lognormal(0, 0.2, n),
                2,
                None,
            )
        ),
        "NO2": np.round(22 + 30 * rush * rng.lognormal(0, 0.25, n)),
        "SO2": np.round(rng.uniform(4, 16, n)),
        "CO": np.round(0.5 + 0.3 * winter * day * noise, 1),
    }
    conc["PM10"] = np.round(conc["PM2.5"] * rng.uniform(1.3, 1.8, n))
    sub = np.stack([np.interp(conc[p], BREAKS[p], IAQI) for p in BREAKS], axis=1)
    aqi = np.ceil(sub.max(axis=1)).astype(np.int64)
    names = text.table(list(BREAKS))
    primary = text.with_nulls(text.take(names, sub.argmax(axis=1)), aqi <= 50)
    level = np.searchsorted([50, 100, 150, 200, 300], aqi, side="left")
    station = np.array([c for c, _, _ in AIR_STATIONS]), np.array([nm for _, nm, _ in AIR_STATIONS])
    cols = {
        "站点.编码": text.take(text.table(list(station[0])), s),
        "站点.名称": text.take(text.table(list(station[1])), s),
        "站点.区县": text.take(kit.COUNTY_NAMES, np.array([c for _, _, c in AIR_STATIONS])[s]),
        "监测时间": text.time_text(times),
        "AQI": aqi,
        "首要污染物": primary,
        "空气质量等级": text.take(LEVELS, level),
        "污染物.pm25": conc["PM2.5"].astype(np.int64),
        "污染物.pm10": conc["PM10"].astype(np.int64),
        "污染物.o3": conc["O3"].astype(np.int64),
        "污染物.no2": conc["NO2"].astype(np.int64),
        "污染物.so2": conc["SO2"].astype(np.int64),
        "污染物.co": conc["CO"],
    }
    return Rows(cols)


def polluters(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    f, pp = ctx.firms, ctx.people
    code = "330400-STHJ-0002"
    ids = ctx.distinct(code, kit.industrial(ctx), ctx.quota[code], f.n)[start : start + n]
    credit = pc.take(f.credit, pa.array(ids))
    contact = ctx.adults()[rng.integers(0, len(ctx.adults()), n)]
    cols = {
        "单位信息_单位名称": f.names(rng, ids, 0.15),
        "单位信息_统一社会信用代码": credit,
        "单位信息_所在区县": text.take(kit.COUNTY_NAMES, f.county[ids]),
        "单位信息_行业类别": text.take(SECTORS, f.industry[ids]),
        "监管信息_重点类别": text.choose(
            rng, ["水环境", "大气环境", "土壤环境", "声环境"], n, [4, 4, 1, 1]
        ),
        "监管信息_排污许可证编号": text.join(credit, "001P"),
        "单位地址": ctx.places.written(rng, f.place[ids], 0.3),
        "联系方式_联系人": pp.names(rng, contact),
        "联系方式_联系电话": pp.phones(rng, contact),
    }
    links = [
        Link("enterprise", "单位信息_统一社会信用代码", ids),
        Link("place", "单位地址", f.place[ids]),
    ]
    return Rows(cols, links)


def weather_stations() -> tuple[pa.Array, pa.Array, np.ndarray]:
    """7 national stations (one per county) and 23 automatic ones in towns."""
    county = np.concatenate([np.arange(7), np.arange(23) % 7])
    town = TOWN_START[county] + np.concatenate([np.zeros(7, np.int64), 1 + np.arange(23) // 7])
    names = [c[1][:2] for c in vocab.COUNTIES]
    ids = [str(58450 + i) for i in range(7)] + [f"K{3301 + i}" for i in range(23)]
    auto = text.join(
        pc.replace_substring_regex(text.take(TOWN_NAMES, town[7:]), "(街道|镇)$", ""), "自动站"
    )
    return text.table(ids), pa.concat_arrays([text.table(names), auto]), county


def weather(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    ids, names, county = weather_stations()
    s, times, hours = _hours(ctx, "330400-QX-0001", len(county), start, n)
    doy, h = _doy_hour(times)
    day = np.log(_daily(ctx, "weather", hours // 24 + 2)[_day_index(times, hours)])
    temp = 16.5 + 12 * np.sin(2 * np.pi * (doy - 105) / 365) + 4 * np.sin(2 * np.pi * (h - 9) / 24)
    temp = np.round(temp + 6 * day + rng.normal(0, 0.6, n) + 0.3 * (county[s] - 3), 1)
    wet = np.clip(0.25 + 0.2 * np.exp(-(((doy - 175) / 25) ** 2)) - day * 0.4, 0.02, 0.9)
    rain = np.where(rng.random(n) < wet * 0.35, np.round(rng.gamma(0.8, 2.5, n), 1), 0.0)
    humidity = np.clip(
        np.round(78 - 1.2 * (temp - 16) + 25 * (rain > 0) + rng.normal(0, 5, n)), 20, 100
    )
    winter_wind = np.cos(2 * np.pi * (doy - 15) / 365) > 0
    cols = {
        "站点.站号": text.take(ids, s),
        "站点.站名": text.take(names, s),
        "站点.区县": text.take(kit.COUNTY_NAMES, county[s]),
        "观测时间": text.time_text(times),
        "气温": temp,
        "相对湿度": humidity.astype(np.int64),
        "降水量": rain,
        "风.风向": np.where(winter_wind, rng.integers(290, 360, n), rng.integers(100, 170, n)),
        "风.风速": np.round(rng.gamma(2.0, 1.2, n), 1),
        "气压": np.round(1013 + 9 * np.cos(2 * np.pi * (doy - 15) / 365) + rng.normal(0, 2, n), 1),
        "能见度": np.round(np.clip(30 - 0.25 * humidity + rng.normal(0, 3, n), 0.5, 30), 1),
    }
    return Rows(cols)


def warnings(ctx: Ctx, rng: np.random.Generator, start: int, n: int) -> Rows:
    kind = rng.integers(0, len(WARNINGS), n)
    level = text.pick(rng, [40, 35, 20, 5], n)
    county = text.pick(rng, vocab.COUNTY_WEIGHTS, n)
    issued = kit.moments(rng, n, kit.RUSH_HOURS)
    lifted = issued + (rng.gamma(2, 6, n) * 3600).astype("timedelta64[s]")
    office = kit.in_county_text(county, "气象台")
    what = text.join(
        text.take(text.table(WARNINGS), kind),
        text.take(text.table(["蓝色", "黄色", "橙色", "红色"]), level),
    )
    cols = {
        "预警编号": kit.keys("YJ2017", start, n, 6),
        "预警类型": text.take(text.table(WARNINGS), kind),
        "预警级别": text.take(text.table(["蓝色", "黄色", "橙色", "红色"]), level),
        "发布时间": text.time_text(issued),
        "解除时间": text.time_text(lifted),
        "影响区域": text.take(kit.COUNTY_NAMES, county),
        "发布单位": office,
        "预警内容": text.join(office, "发布", what, "预警信号，请注意防范。"),
    }
    return Rows(cols)


OPEN: dict[str, Any] = {"share_type": "无条件共享", "open_type": "无条件开放"}
FEEDS = [
    feed(
        "330400-STHJ-0001",
        "空气质量小时数据",
        "Hourly air quality",
        "各空气自动监测站逐小时AQI、首要污染物、空气质量等级和PM2.5、PM10、O3、NO2、SO2、CO浓度",
        fmt="ndjson",
        file="空气质量小时数据.ndjson",
        weight=180_000,
        columns="站点.编码 站点.名称 站点.区县 监测时间 AQI 首要污染物 空气质量等级 污染物.pm25 "
        "污染物.pm10 污染物.o3 污染物.no2 污染物.so2 污染物.co",
        build=air,
        themes=("生态环境",),
        tags=("空气质量", "AQI", "PM2.5"),
        key_fields=("站点.编码", "监测时间"),
        update_cycle="每小时",
        **OPEN,
    ),
    feed(
        "330400-STHJ-0002",
        "重点排污单位名录",
        "Key polluting units",
        "重点排污单位的名称、信用代码、行业、重点类别、排污许可证编号和地址（分区县工作表）",
        fmt="xlsx",
        file="重点排污单位名录.xlsx",
        weight=900,
        columns="序号 单位信息_单位名称 单位信息_统一社会信用代码 单位信息_所在区县 "
        "单位信息_行业类别 监管信息_重点类别 监管信息_排污许可证编号 单位地址 "
        "联系方式_联系人 联系方式_联系电话",
        build=polluters,
        key="单位信息_统一社会信用代码",
        excel=Excel(
            title="{sheet}2017年重点排污单位名录",
            unit="填报单位：市生态环境局{sheet}分局",
            note="注：依据《重点排污单位名录管理规定（试行）》确定",
            split="单位信息_所在区县",
        ),
        themes=("生态环境", "法人"),
        tags=("排污", "环境监管"),
        update_cycle="每年",
        **OPEN,
    ),
    feed(
        "330400-QX-0001",
        "逐小时气象观测数据",
        "Hourly weather observations",
        "国家站和区域自动站逐小时气温、相对湿度、降水量、风向风速、气压和能见度（气象接口）",
        fmt="ndjson",
        file="逐小时气象观测数据.ndjson",
        weight=260_000,
        columns="站点.站号 站点.站名 站点.区县 观测时间 气温 相对湿度 降水量 风.风向 风.风速 气压 "
        "能见度",
        build=weather,
        themes=("气象", "生态环境"),
        tags=("气象观测", "自动站"),
        key_fields=("站点.站号", "观测时间"),
        update_cycle="每小时",
        **OPEN,
    ),
    feed(
        "330400-QX-0002",
        "气象预警信号",
        "Weather warnings",
        "暴雨、台风、高温、大风、寒潮、大雾等气象预警信号的级别、发布和解除时间及影响区域",
        fmt="csv",
        file="气象预警信号.csv",
        weight=2_000,
        columns="预警编号 预警类型 预警级别 发布时间 解除时间 影响区域 发布单位 预警内容",
        build=warnings,
        key="预警编号",
        themes=("气象", "应急管理"),
        tags=("预警", "防灾减灾"),
        update_cycle="实时",
        **OPEN,
    ),
]
