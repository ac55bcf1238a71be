"""The city's places: standard addresses (标准地址) and how departments write them down.

A place is a house number on a road in a town (镇/街道) of one of Jiaxing's seven county-level
divisions, sometimes inside an estate building (梅湾花园12幢). Every place is distinct by
construction; the same place is then written many ways: with or without 浙江省 / 嘉兴市, 號 for 号,
full-width digits, a room number after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from cityhub.demo import text, vocab

TOWNS = [(c, t) for c, county in enumerate(vocab.COUNTIES) for t in county[4]]
ROADS = [(c, r) for c, county in enumerate(vocab.COUNTIES) for r in county[5]]
TOWN_NAMES = text.table([t for _, t in TOWNS])
ROAD_NAMES = text.table([r for _, r in ROADS])
COUNTY_NAMES = text.table(vocab.COUNTY_NAMES)
COUNTY_CODES = text.table(vocab.COUNTY_CODES)
ESTATE_NAMES = text.table([h + e for h in vocab.ESTATE_HEADS for e in vocab.ESTATES])
KINDS = ["住宅", "商业", "工业", "公共服务"]
KIND_WEIGHTS = [0.72, 0.14, 0.09, 0.05]


def _ranges(pairs: list[tuple[int, str]]) -> tuple[np.ndarray, np.ndarray]:
    counties = np.array([c for c, _ in pairs])
    counts = np.bincount(counties, minlength=len(vocab.COUNTIES))
    return np.r_[0, np.cumsum(counts)[:-1]], counts


TOWN_START, TOWN_COUNT = _ranges(TOWNS)
ROAD_START, ROAD_COUNT = _ranges(ROADS)


@dataclass
class Places:
    """The master list of places; index i is place id i."""

    county: np.ndarray  # index into vocab.COUNTIES
    town: np.ndarray  # index into TOWNS
    road: np.ndarray  # index into ROADS
    number: np.ndarray  # 门牌号
    estate: np.ndarray  # index into ESTATE_NAMES, -1: none
    building: np.ndarray  # 幢 inside the estate
    kind: np.ndarray  # index into KINDS
    lon: np.ndarray
    lat: np.ndarray

    @property
    def n(self) -> int:
        return len(self.county)

    @classmethod
    def generate(cls, rng: np.random.Generator, n: int) -> Places:
        county = np.sort(text.pick(rng, vocab.COUNTY_WEIGHTS, n))
        town = np.empty(n, np.int64)
        road = np.empty(n, np.int64)
        number = np.empty(n, np.int64)
        for c in range(len(vocab.COUNTIES)):
            rows = np.flatnonzero(county == c)
            towns, roads = int(TOWN_COUNT[c]), int(ROAD_COUNT[c])
            # Distinct (town, road, number) slots: numbering grows with the county's size.
            numbers = max(999, -(-2 * len(rows) // (towns * roads)))
            slots = rng.choice(towns * roads * numbers, size=len(rows), replace=False)
            town[rows] = TOWN_START[c] + slots // (roads * numbers)
            road[rows] = ROAD_START[c] + slots // numbers % roads
            number[rows] = slots % numbers + 1
        kind = text.pick(rng, KIND_WEIGHTS, n)
        in_estate = (kind == 0) & (rng.random(n) < 0.8)
        estate = np.where(in_estate, rng.integers(0, len(ESTATE_NAMES), n), -1)
        building = np.where(in_estate, rng.integers(1, 40, n), 0)
        seats = np.array([(c[2], c[3]) for c in vocab.COUNTIES])
        lon = np.round(seats[county, 0] + rng.normal(0, 0.045, n), 6)
        lat = np.round(seats[county, 1] + rng.normal(0, 0.035, n), 6)
        return cls(county, town, road, number, estate, building, kind, lon, lat)

    # -- writing places down ------------------------------------------------------------------
    def street(self, idx: np.ndarray) -> pa.Array:
        """Road, number and building: 中山东路123号梅湾花园12幢."""
        estate = self.estate[idx]
        inside = estate >= 0
        return text.join(
            text.take(ROAD_NAMES, self.road[idx]),
            text.number(self.number[idx]),
            "号",
            text.where(inside, text.take(ESTATE_NAMES, np.maximum(estate, 0)), ""),
            text.where(inside, text.join(text.number(self.building[idx]), "幢"), ""),
        )

    def standard(self, idx: np.ndarray) -> pa.Array:
        """The standard address: 浙江省嘉兴市南湖区建设街道中山东路123号梅湾花园12幢."""
        return text.join(
            "浙江省嘉兴市",
            text.take(COUNTY_NAMES, self.county[idx]),
            text.take(TOWN_NAMES, self.town[idx]),
            self.street(idx),
        )

    def written(
        self,
        rng: np.random.Generator,
        idx: np.ndarray,
        variety: float,
        rooms: np.ndarray | None = None,
    ) -> pa.Array:
        """The address as a department writes it: a share `variety` drops 浙江省 (and often
        嘉兴市), writes 號, or types full-width digits; `rooms` (0: none) adds 2单元501室."""
        n = len(idx)
        vary = rng.random(n) < variety
        how = rng.random(n)
        no_province = vary & (how < 0.8)
        no_city = no_province & (how < 0.45)
        head = text.where(no_province, text.where(no_city, "", "嘉兴市"), "浙江省嘉兴市")
        tail = self.street(idx)
        if rooms is not None:
            has_room = rooms > 0
            room_text = text.join(
                text.number(rooms // 10000), "单元", text.number(rooms % 10000), "室"
            )
            tail = text.join(tail, text.where(has_room, room_text, ""))
        out = text.join(
            head,
            text.take(COUNTY_NAMES, self.county[idx]),
            text.take(TOWN_NAMES, self.town[idx]),
            tail,
        )
        out = text.replace_where(out, vary & (how >= 0.8) & (how < 0.9), "号", "號")
        return text.apply_where(out, vary & (how >= 0.9), text.fullwidth)

    def county_name(self, idx: np.ndarray) -> pa.Array:
        return text.take(COUNTY_NAMES, self.county[idx])

    def town_name(self, idx: np.ndarray) -> pa.Array:
        return text.take(TOWN_NAMES, self.town[idx])


def random_rooms(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    """Room numbers (unit * 10000 + room: 2单元501室 → 20501) for a share of rows, else 0."""
    unit = rng.integers(1, 5, n)
    room = rng.integers(1, 27, n) * 100 + rng.integers(1, 5, n)
    return np.where(rng.random(n) < share, unit * 10000 + room, 0)


ESTATE_HEADS_TABLE = text.table(vocab.ESTATE_HEADS)
