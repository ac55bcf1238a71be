"""What the demo city is declared as: datasets with their catalog metadata, the files that feed
the connected ones, and the context every file builder draws the city's entities from.

One declaration drives both the files and the figures: a feed's `columns` are the fields the
readers will find in its file (the writers refuse a builder that produces anything else), so the
field count of the catalog is the sum of declared columns and declared fields.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from cityhub.demo.firms import Firms
from cityhub.demo.people import People
from cityhub.demo.places import Places

Format = Literal["csv", "csv-gbk", "xlsx", "ndjson", "geojson", "parquet"]
FORMAT_LABEL = {
    "csv": "CSV",
    "csv-gbk": "CSV",
    "xlsx": "XLSX",
    "ndjson": "JSON",
    "geojson": "GeoJSON",
    "parquet": "Parquet",
}
EntityKind = Literal["person", "enterprise", "place"]

#: 资源分类 of each primary theme: 类 (1 基础 / 2 主题) + 项 (2 digits); 目 is numbered in order.
THEME_CLASSES = {
    "人口": "101",
    "法人": "102",
    "空间地理": "103",
    "社会信用": "104",
    "社会保障": "201",
    "医疗卫生": "202",
    "教育": "203",
    "交通": "204",
    "生态环境": "205",
    "城乡建设": "206",
    "市场监管": "207",
    "财税": "208",
    "公共安全": "209",
    "农业农村": "210",
    "文化旅游": "211",
    "城市管理": "212",
    "气象": "213",
    "能源": "214",
    "民政": "215",
    "政务服务": "216",
    "经济运行": "217",
    "司法": "218",
    "应急管理": "219",
}


@dataclass(frozen=True)
class Meta:
    """A dataset's national catalog metadata (STANDARDS.md §1-4)."""

    code: str  # 资源代码
    name: str
    name_en: str
    summary: str
    themes: tuple[str, ...]  # the first decides the 资源分类
    share_type: str = "有条件共享"
    share_condition: str | None = None
    open_type: str = "不予开放"
    open_condition: str | None = None
    legal_basis: str | None = None
    update_cycle: str = "每月"
    tags: tuple[str, ...] = ()
    key_fields: tuple[str, ...] = ()
    data_level: str = "general"

    @property
    def department(self) -> str:
        return self.code.rsplit("-", 1)[0]

    def catalog(self, fmt: str, classification: str) -> dict[str, Any]:
        """The attributes a source file's [[datasets]] entry carries."""
        # A stable, plausible publication day in the year before the seed's report.
        day = np.datetime64("2016-11-01") + np.timedelta64(
            zlib.crc32(self.code.encode()) % 330, "D"
        )
        entry: dict[str, Any] = {
            "code": self.code,
            "department": self.department,
            "name": self.name,
            "name_en": self.name_en,
            "summary": self.summary,
            "classification": classification,
            "format": fmt,
            "share_type": self.share_type,
            "share_condition": self.share_condition,
            "share_method": "接口调用、库表交换" if self.share_type != "不予共享" else None,
            "open_type": self.open_type,
            "open_condition": self.open_condition,
            "legal_basis": self.legal_basis,
            "data_level": self.data_level,
            "update_cycle": self.update_cycle,
            "publish_date": str(day),
            "themes": list(self.themes),
            "tags": list(self.tags),
            "key_fields": list(self.key_fields),
        }
        return {k: v for k, v in entry.items() if v is not None}


@dataclass
class Link:
    """Records of a chunk naming an entity: `ids[i]` is the true entity of row i (-1: none)."""

    kind: EntityKind
    field: str  # the column that names it (identity, account, address ...)
    ids: np.ndarray


@dataclass
class Rows:
    """One chunk of a feed: its columns by title, and what they truly refer to."""

    columns: dict[str, pa.Array]
    links: list[Link] = field(default_factory=list)


Builder = Callable[["Ctx", np.random.Generator, int, int], Rows]


@dataclass(frozen=True)
class Excel:
    """How a workbook is laid out: title row, unit line, sheets split by a column, notes."""

    title: str  # "{sheet}" is replaced by the sheet's name
    unit: str
    note: str
    split: str | None = None  # column whose values name the sheets (e.g. 所属区县)
    totals: tuple[str, ...] = ()  # numeric columns the 合计 row sums


@dataclass(frozen=True)
class Plant:
    """Rows a malformed file carries besides its quota, for its reader to reject: in CSV, rows
    with a field too many or too few (a stray comma, a cut line) and rows whose value does not
    fit its column (`misfits`: column, value); in NDJSON, lines cut short. One of each kind per
    `every` records, at most `most`: always well under 1 % of the file."""

    misfits: tuple[tuple[str, str], ...] = ()
    every: int = 1000
    most: int = 3

    def counts(self, fmt: str, quota: int) -> dict[str, int]:
        k = min(self.most, quota // self.every)
        if fmt == "ndjson":
            return {"truncated": k}
        return {"ragged": k, "misfit": k if self.misfits else 0}


@dataclass(frozen=True)
class Feed:
    """A connected dataset: its metadata and how its delivered file is made."""

    meta: Meta
    fmt: Format
    file: str
    weight: int  # records at scale 1
    columns: tuple[str, ...]  # the fields its reader will find, in order
    build: Builder
    key: str | None = None  # the record key the ground truth refers to
    excel: Excel | None = None
    malformed: Plant | None = None  # rows its reader must reject, besides the quota


def feed(
    code: str,
    name: str,
    name_en: str,
    summary: str,
    *,
    fmt: Format,
    file: str,
    weight: int,
    columns: str,
    build: Builder,
    key: str | None = None,
    excel: Excel | None = None,
    malformed: Plant | None = None,
    **meta: Any,
) -> Feed:
    """A feed declared in one call; `columns` are the field titles, blank-separated."""
    meta.setdefault("tags", ())
    meta.setdefault("key_fields", (key,) if key else ())
    return Feed(
        Meta(code, name, name_en, summary, **meta),
        fmt,
        file,
        weight,
        tuple(columns.split()),
        build,
        key,
        excel,
        malformed,
    )


@dataclass(frozen=True)
class Cataloged:
    """A dataset cataloged with its fields but not connected (no data yet)."""

    meta: Meta
    fmt: str
    fields: tuple[tuple[str, str], ...]  # (title, type)


def allocate(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Split `total` records by weight, exactly: every dataset gets at least one, the ones whose
    share falls below one get one, the rest share what is left by largest remainder."""
    if total < len(weights):
        raise ValueError(f"{total} records cannot give each of {len(weights)} datasets one")
    fixed: set[str] = set()
    while True:
        free = {c: w for c, w in weights.items() if c not in fixed}
        left = total - len(fixed)
        whole = sum(free.values())
        small = {c for c, w in free.items() if left * w < whole}
        if not small:
            break
        fixed |= small
    quota = {c: 1 for c in fixed}
    rest = {c: (left * w // whole, left * w % whole) for c, w in free.items()}
    short = left - sum(q for q, _ in rest.values())
    bonus = sorted(rest, key=lambda c: (-rest[c][1], c))[:short]
    quota.update({c: q + (c in bonus) for c, (q, _) in rest.items()})
    return {c: quota[c] for c in weights}


class Ctx:
    """What builders share: the seed, each dataset's quota, and the city's entities, made once
    on first use from generators of their own (so adding a feed never changes the others)."""

    def __init__(self, seed: int, quota: dict[str, int]) -> None:
        self.seed = seed
        self.quota = quota
        self._memo: dict[str, Any] = {}

    def rng(self, tag: str, *more: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(tag.encode()), *more])

    @cached_property
    def places(self) -> Places:
        return Places.generate(self.rng("places"), self.quota["330400-ZRZY-0001"])

    @cached_property
    def people(self) -> People:
        return People.generate(
            self.rng("people"),
            self.quota["330400-GA-0001"],
            self.places,
            school_aged=self.quota["330400-JY-0001"],
        )

    @cached_property
    def firms(self) -> Firms:
        counts = {
            "market": self.quota["330400-SCJG-0001"],
            "hospitals": self.quota["330400-WJW-0003"],
            "schools": self.quota["330400-JY-0002"],
            "homes": self.quota["330400-MZ-0003"],
        }
        return Firms.generate(self.rng("firms"), counts, self.places, self.people.eligible(25, 75))

    def memo(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def distinct(self, code: str, pool: np.ndarray, size: int, universe: int) -> np.ndarray:
        """`size` distinct ids in 0..universe-1 for dataset `code`, drawn from `pool` first and
        from the others only when the pool is short (which happens at the tiniest scales)."""

        def make() -> np.ndarray:
            rng = self.rng("distinct:" + code)
            if size <= len(pool):
                return rng.choice(pool, size=size, replace=False)
            if size > universe:
                raise ValueError(f"{code}: {size} records need more than {universe} entities")
            rest = np.setdiff1d(np.arange(universe), pool)
            extra = rng.choice(rest, size=size - len(pool), replace=False)
            return rng.permutation(np.concatenate([pool, extra]))

        return self.memo("distinct:" + code, make)

    def adults(self) -> np.ndarray:
        """Person ids of adults (everyone, in a city too tiny to have any)."""

        def make() -> np.ndarray:
            adults = self.people.eligible(18, 95)
            return adults if len(adults) else np.arange(self.people.n)

        return self.memo("adults", make)
