"""Small pieces the feed builders share: keys, times of day, county-bound choices, links."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from cityhub.demo import text, vocab
from cityhub.demo.firms import INDUSTRIAL
from cityhub.demo.places import random_rooms
from cityhub.demo.spec import Ctx, Link

COUNTY_CODES = text.table(vocab.COUNTY_CODES)
COUNTY_NAMES = text.table(vocab.COUNTY_NAMES)
# Share of a weekday's activity per hour: quiet nights, a morning and an evening rush.
RUSH_HOURS = np.concatenate(
    [
        [0.3, 0.2, 0.15, 0.15, 0.3, 1.0, 3.0, 7.5, 8.0, 5.0, 4.2, 4.0],
        [4.2, 4.0, 4.0, 4.3, 5.2, 7.8, 7.2, 4.5, 3.2, 2.2, 1.2, 0.6],
    ]
)
OFFICE_HOURS = np.array(
    [0.02] * 8 + [6, 9, 9, 7, 2, 6, 9, 9, 7, 3] + [0.5, 0.3, 0.2, 0.1, 0.05, 0.02]
)


def keys(prefix: str, start: int, n: int, width: int) -> pa.Array:
    """Record keys: prefix + the record's zero-padded sequence number."""
    return text.join(prefix, text.digits(np.arange(start, start + n), width))


def moments(
    rng: np.random.Generator,
    n: int,
    hours: np.ndarray = OFFICE_HOURS,
    first: np.datetime64 = text.YEAR_START,
    last: np.datetime64 = text.REF_DAY,
) -> np.ndarray:
    """Times in [first, last] (days), the hour of day drawn from `hours` (datetime64[s])."""
    span = int((last - first).astype(int)) + 1
    day = first + rng.integers(0, span, n).astype("timedelta64[D]")
    hour = text.pick(rng, hours, n)
    secs = hour * 3600 + rng.integers(0, 3600, n)
    return day.astype("datetime64[s]") + secs.astype("timedelta64[s]")


def day_of(times: np.ndarray) -> np.ndarray:
    return times.astype("datetime64[D]")


def within_county(
    rng: np.random.Generator, pool: np.ndarray, pool_county: np.ndarray, county: np.ndarray
) -> np.ndarray:
    """For each wanted county, a random member of `pool` in that county (any, if none is)."""
    out = pool[rng.integers(0, len(pool), len(county))]
    for c in np.unique(county):
        members = pool[pool_county == c]
        if len(members):
            rows = np.flatnonzero(county == c)
            out[rows] = members[rng.integers(0, len(members), len(rows))]
    return out


def market(ctx: Ctx, where: np.ndarray | None = None) -> np.ndarray:
    """Ids of market entities (optionally those where `where`, a mask over them, holds)."""
    ids = ctx.firms.in_range("market")
    return ids if where is None else ids[where[ids]]


def industrial(ctx: Ctx) -> np.ndarray:
    """Manufacturing companies: what 规上工业, 亩均 and 排污 lists are drawn from."""
    f = ctx.firms
    return ctx.memo(
        "industrial", lambda: market(ctx, INDUSTRIAL[f.industry] & np.isin(f.kind, [0, 1]))
    )


def employer(ctx: Ctx, rng: np.random.Generator, n: int) -> np.ndarray:
    """Random employers: companies (not 个体工商户) still in business."""
    f = ctx.firms
    pool = ctx.memo(
        "employers", lambda: market(ctx, np.isin(f.kind, [0, 1, 3, 5]) & (f.status == 0))
    )
    pool = pool if len(pool) else market(ctx)
    return pool[rng.integers(0, len(pool), n)]


def rooms(rng: np.random.Generator, n: int) -> np.ndarray:
    return random_rooms(rng, n, 1.0)


def person_links(ids: np.ndarray, field: str, place_field: str | None, ctx: Ctx) -> list[Link]:
    links = [Link("person", field, ids)]
    if place_field:
        links.append(Link("place", place_field, ctx.people.place[ids]))
    return links


def in_county_text(county: np.ndarray, suffix: str) -> pa.Array:
    """Per-county office names: 南湖区 + suffix."""
    return text.join(text.take(COUNTY_NAMES, county), suffix)


def clip_int(values: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return np.clip(np.rint(values), lo, hi).astype(np.int64)
