"""The city's enterprises and institutions (the clean master) and how departments write them.

Market entities (企业, 个体工商户, 农民专业合作社, 分公司) and the institutions other feeds need
(hospitals, schools, elderly homes) each get a valid unified social credit code (GB 32100: the
registration authority and category, a Jiaxing county code, a GB 11714 organization code with its
own check character, the check character) and a name built the way Jiaxing's firms are named.
Departments then write the names their own way: 有限责任公司 for 有限公司, half-width brackets,
the place prefix dropped, traditional characters; and the codes: missing, or the old 15-character
tax number (division code + organization code) or the hyphenated organization code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cityhub.demo import text, vocab
from cityhub.demo.places import TOWN_NAMES, Places

ALPHABET = np.frombuffer(b"0123456789ABCDEFGHJKLMNPQRTUWXY", np.uint8)
CREDIT_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]
# byte → value: credit alphabet position, and GB 11714 value (digits, then A=10 ... Z=35)
CREDIT_VALUE = np.full(256, -1, np.int32)
CREDIT_VALUE[ALPHABET] = np.arange(31)
ORG_VALUE = np.full(256, -1, np.int32)
ORG_VALUE[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10)
ORG_VALUE[np.arange(65, 91)] = np.arange(10, 36)

# kind: (label, registration authority + category, share among market entities)
KINDS = [
    ("有限责任公司", b"91", 0.50),
    ("股份有限公司", b"91", 0.03),
    ("个体工商户", b"92", 0.36),
    ("分公司", b"91", 0.04),
    ("农民专业合作社", b"93", 0.02),
    ("个人独资企业", b"91", 0.05),
    ("事业单位", b"12", 0.0),
    ("民办非企业单位", b"52", 0.0),
]
MARKET_KINDS = 6
PREFIXES = np.frombuffer(b"".join(p for _, p, _ in KINDS), np.uint8).reshape(-1, 2)
KIND_LABELS = text.table([k for k, _, _ in KINDS])
INDUSTRY_W = [3, 2, 2, 2, 1.5, 3, 2.5, 2, 1, 1.5, 1, 2, 2, 1, 3, 2, 0.5, 1.5, 1, 1, 1, 0.5, 0.5]
INDUSTRY_W += [1, 2, 0.5, 0.5]
INDUSTRY_NAMES = text.table([i[0] for i in vocab.INDUSTRIES])
SECTORS = text.table([f"{i[1]} {i[2]}" for i in vocab.INDUSTRIES])
INDUSTRIAL = np.array([i[3] for i in vocab.INDUSTRIES])
TRADE = text.table(list(vocab.TRADE_CHARS))
STATUS = text.table(["存续", "注销", "吊销"])
# institutions: (type name, kind index)
HOSPITAL_TYPES = [("人民医院", 6), ("中医院", 6), ("社区卫生服务中心", 6), ("卫生院", 6)]
HOSPITAL_TYPES += [("门诊部", 7), ("诊所", 7)]
SCHOOL_TYPES = ["中心小学", "实验小学", "初级中学", "九年一贯制学校", "高级中学"]
HOME_TYPES = ["敬老院", "颐养院"]


@dataclass
class Firms:
    """The enterprise master; index i is enterprise id i. Market entities come first, then
    hospitals, schools and elderly homes (the `ranges`)."""

    kind: np.ndarray
    subtype: np.ndarray  # institutions: index into HOSPITAL_TYPES / SCHOOL_TYPES / HOME_TYPES
    county: np.ndarray
    industry: np.ndarray
    place: np.ndarray
    legal: np.ndarray  # person id of the legal representative (负责人)
    founded: np.ndarray  # datetime64[D]
    capital: np.ndarray  # 万元
    status: np.ndarray
    name: pa.Array
    org: pa.Array  # 9-character organization code
    credit: pa.Array
    ranges: dict[str, range]

    @property
    def n(self) -> int:
        return len(self.kind)

    @classmethod
    def generate(
        cls,
        rng: np.random.Generator,
        counts: dict[str, int],
        places: Places,
        adults: np.ndarray,
    ) -> Firms:
        """`counts`: market, hospitals, schools, homes; `adults`: person ids fit to lead one."""
        sizes = [counts[k] for k in ("market", "hospitals", "schools", "homes")]
        n = sum(sizes)
        starts = np.cumsum([0, *sizes])
        ranges = {
            k: range(int(starts[i]), int(starts[i + 1]))
            for i, k in enumerate(("market", "hospitals", "schools", "homes"))
        }
        m = sizes[0]
        kind = np.concatenate(
            [
                text.pick(rng, [w for _, _, w in KINDS[:MARKET_KINDS]], m),
                np.zeros(sizes[1], np.int64),  # set per hospital type below
                np.full(sizes[2], 6),
                np.where(rng.random(sizes[3]) < 0.6, 6, 7),
            ]
        )
        county = text.pick(rng, vocab.COUNTY_WEIGHTS, n)
        # A place in the firm's own county: a business or industrial one where there is one.
        place = _places_in(rng, places, county, wanted=np.where(kind == 2, 1, 2))
        industry = text.pick(rng, INDUSTRY_W, n)
        # Shops trade or cater, cooperatives farm.
        industry = np.where(kind == 2, np.array([14, 15, 18])[rng.integers(0, 3, n)], industry)
        industry = np.where(kind == 4, 25, industry)
        founded = text.REF_DAY - rng.integers(30, 27 * 365, n).astype("timedelta64[D]")
        capital = np.round(rng.lognormal(np.log(100), 1.3, n), 1)
        status = text.pick(rng, [0.86, 0.10, 0.04], n)
        status[m:] = 0
        legal = adults[rng.integers(0, len(adults), n)] if len(adults) else np.zeros(n, np.int64)
        town = text.take(TOWN_NAMES, places.town[place])
        name, kind, subtype = _names(rng, kind, county, industry, town, ranges)
        org = _org_codes(n, founded, rng)
        credit = _credit_codes(PREFIXES[kind], county, org)
        return cls(
            kind,
            subtype,
            county,
            industry,
            place,
            legal,
            founded,
            capital,
            status,
            name,
            org,
            credit,
            ranges,
        )

    # -- how departments write firms down -------------------------------------------------------
    def names(self, rng: np.random.Generator, idx: np.ndarray, variety: float) -> pa.Array:
        """Names with a share `variety` written another way."""
        names = pc.take(self.name, pa.array(idx))
        n = len(idx)
        vary = rng.random(n) < variety
        how = rng.random(n)
        names = text.replace_where(names, vary & (how < 0.35), "有限公司", "有限责任公司")
        names = text.apply_where(
            names,
            vary & (how >= 0.35) & (how < 0.6),
            lambda v: pc.replace_substring(pc.replace_substring(v, "（", "("), "）", ")"),
        )
        names = text.apply_where(
            names,
            vary & (how >= 0.6) & (how < 0.9),
            lambda v: pc.replace_substring_regex(v, "^(浙江|嘉兴市|嘉兴)", ""),
        )
        return text.apply_where(names, vary & (how >= 0.9), _traditional)

    def codes(
        self,
        rng: np.random.Generator,
        idx: np.ndarray,
        missing: float = 0.0,
        old: float = 0.0,
        old_style: str = "tax",
    ) -> pa.Array:
        """Credit codes; a share `old` in the pre-2015 form: the 15-character tax number
        (division code + organization code) or the organization code written 12345678-9."""
        codes = pc.take(self.credit, pa.array(idx))
        n = len(idx)
        use_old = rng.random(n) < old
        if use_old.any():
            org = pc.take(self.org, pa.array(idx))
            if old_style == "tax":
                former = text.join(pc.utf8_slice_codeunits(codes, 2, 8), org)
            else:
                former = text.join(
                    pc.utf8_slice_codeunits(org, 0, 8), "-", pc.utf8_slice_codeunits(org, 8, 9)
                )
            codes = pc.if_else(pa.array(use_old), former, codes)
        return text.with_nulls(codes, rng.random(n) < missing)

    def in_range(self, key: str) -> np.ndarray:
        r = self.ranges[key]
        return np.arange(r.start, r.stop)


_TRAD_FROM = "".join(vocab.TRADITIONAL)
_TRAD_TO = "".join(vocab.TRADITIONAL.values())


def _traditional(values: pa.Array) -> pa.Array:
    for s, t in zip(_TRAD_FROM, _TRAD_TO, strict=True):
        values = pc.replace_substring(values, s, t)
    return values


def _places_in(
    rng: np.random.Generator, places: Places, county: np.ndarray, wanted: np.ndarray
) -> np.ndarray:
    """A place per firm in its county, of kind `wanted` where the county has such places."""
    out = np.empty(len(county), np.int64)
    for c in range(len(vocab.COUNTIES)):
        for k in np.unique(wanted):
            rows = np.flatnonzero((county == c) & (wanted == k))
            pool = np.flatnonzero((places.county == c) & (places.kind == k))
            if not len(pool):
                pool = np.flatnonzero(places.county == c)
            if not len(pool):
                pool = np.arange(places.n)
            out[rows] = pool[rng.integers(0, len(pool), len(rows))]
    return out


def _names(
    rng: np.random.Generator,
    kind: np.ndarray,
    county: np.ndarray,
    industry: np.ndarray,
    town: pa.Array,
    ranges: dict[str, range],
) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Names by kind; a name taken twice gets a longer 字号 until all are distinct."""
    n = len(kind)
    county_name = text.take(text.table(vocab.COUNTY_NAMES), county)
    prefix_roll = rng.random(n)
    trade = text.join(
        text.take(TRADE, rng.integers(0, len(TRADE), n)),
        text.take(TRADE, rng.integers(0, len(TRADE), n)),
    )
    shop_kind = text.take(text.table(vocab.SHOPS), rng.integers(0, len(vocab.SHOPS), n))
    for _ in range(6):
        ind = text.take(INDUSTRY_NAMES, industry)
        prefix = text.where(
            prefix_roll < 0.3,
            "嘉兴",
            text.where(
                prefix_roll < 0.4, "嘉兴市", text.where(prefix_roll < 0.72, county_name, "")
            ),
        )
        bracket = prefix_roll >= 0.86
        company = text.where(
            bracket,
            text.join(trade, ind, "（嘉兴）有限公司"),
            text.join(text.where(prefix_roll < 0.72, prefix, "浙江"), trade, ind, "有限公司"),
        )
        shop = text.join(county_name, trade, shop_kind)
        coop = text.join(
            county_name,
            town,
            trade,
            text.take(text.table(vocab.FARM_GOODS), industry % 8),
            "专业合作社",
        )
        by_kind = [
            company,
            text.join("浙江", trade, ind, "股份有限公司"),
            shop,
            text.join(
                "浙江",
                trade,
                ind,
                "有限公司嘉兴",
                text.where(prefix_roll < 0.5, "", county_name),
                "分公司",
            ),
            coop,
            text.join(county_name, trade, ind, "厂"),
        ]
        name = pc.choose(pa.array(np.minimum(kind, 5).astype(np.int8)), *by_kind)
        taken = text.rank_within(name.dictionary_encode().indices.to_numpy()) > 0
        taken[ranges["market"].stop :] = False
        if not taken.any():
            break
        extra = text.take(TRADE, rng.integers(0, len(TRADE), n))
        trade = text.where(taken, text.join(trade, extra), trade)
    # Institutions: the first of a kind in a place is plain, the next ones numbered (第二...).
    return _institutions(rng, name, kind, county_name, town, ranges)


def _institutions(
    rng: np.random.Generator,
    name: pa.Array,
    kind: np.ndarray,
    county_name: pa.Array,
    town: pa.Array,
    ranges: dict[str, range],
) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    parts = [name.slice(0, ranges["market"].stop)]
    subtype = np.full(len(kind), -1)
    h = ranges["hospitals"]
    htype = text.pick(rng, [1, 1, 3, 2, 2, 4], len(h))
    kind[h.start : h.stop] = np.array([t[1] for t in HOSPITAL_TYPES])[htype]
    place_name = text.where(
        htype < 2, county_name.slice(h.start, len(h)), town.slice(h.start, len(h))
    )
    parts.append(_numbered(place_name, htype, [t for t, _ in HOSPITAL_TYPES]))
    s = ranges["schools"]
    stype = text.pick(rng, [4, 1, 2, 1, 1], len(s))
    parts.append(_numbered(town.slice(s.start, len(s)), stype, SCHOOL_TYPES))
    e = ranges["homes"]
    etype = (kind[e.start : e.stop] == 7).astype(np.int64)
    parts.append(_numbered(town.slice(e.start, len(e)), etype, HOME_TYPES))
    for r, sub in ((h, htype), (s, stype), (e, etype)):
        subtype[r.start : r.stop] = sub
    return pa.concat_arrays(parts), kind, subtype


def _numbered(place: pa.Array, typ: np.ndarray, types: list[str]) -> pa.Array:
    key = place.dictionary_encode().indices.to_numpy().astype(np.int64) * 16 + typ
    return text.join(place, text.ordinal(text.rank_within(key)), text.take(text.table(types), typ))


def _org_codes(n: int, founded: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """Distinct GB 11714 codes: 8 digits before the 2015 reform, MA + 6 characters after,
    each a scrambled sequence number (a bijection, so no two firms share one); then the check."""
    i = np.arange(n, dtype=np.int64)
    shift_old, shift_new = int(rng.integers(0, 10**8)), int(rng.integers(0, 31**6))
    new = founded >= np.datetime64("2015-10-01")
    old_body = text.digit_grid((i * 7_368_787 + shift_old) % 10**8, 8) + 48
    seq = (i * 492_876_847 + shift_new) % 31**6
    tail = np.stack([ALPHABET[seq // 31**p % 31] for p in range(5, -1, -1)], axis=1)
    new_body = np.concatenate(
        [np.broadcast_to(np.frombuffer(b"MA", np.uint8), (n, 2)), tail], axis=1
    )
    body = np.where(new[:, None], new_body, old_body).astype(np.uint8)
    total = np.zeros(n, np.int64)
    for k, w in enumerate(ORG_WEIGHTS):
        total += ORG_VALUE[body[:, k]] * w
    c = 11 - total % 11
    check = np.where(c == 10, ord("X"), np.where(c == 11, ord("0"), c + 48)).astype(np.uint8)
    return text.fixed_width(np.concatenate([body, check[:, None]], axis=1))


def _credit_codes(prefix: np.ndarray, county: np.ndarray, org: pa.Array) -> pa.Array:
    n = len(county)
    division = np.frombuffer("".join(vocab.COUNTY_CODES).encode(), np.uint8).reshape(-1, 6)
    org_bytes = np.frombuffer(org.buffers()[2], np.uint8)[: n * 9].reshape(n, 9)
    first = np.concatenate([prefix, division[county], org_bytes], axis=1)
    total = np.zeros(n, np.int64)
    for k, w in enumerate(CREDIT_WEIGHTS):
        total += CREDIT_VALUE[first[:, k]] * w
    check = ALPHABET[(31 - total % 31) % 31]
    return text.fixed_width(np.concatenate([first, check[:, None]], axis=1))
