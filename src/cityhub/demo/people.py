"""The city's residents (the clean person master) and how each department writes them down.

Every person has a valid 18-digit resident ID (GB 11643: a Jiaxing county code, the birth date,
a sequence whose parity is the gender, the check character), a name drawn by surname frequency
(compound surnames included), a mobile number and a home place. Departments copy them with
noise: homophones (同音字) and traditional characters (繁体) in names, missing, 15-digit, mistyped
or lower-case-x IDs, changed phone numbers, addresses written their own way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cityhub.demo import text, vocab
from cityhub.demo.places import Places, random_rooms

ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)
AGE_WEIGHTS = np.interp(
    np.arange(100),
    [0, 5, 15, 25, 35, 45, 55, 60, 70, 80, 90, 99],
    [0.9, 1.0, 1.0, 1.25, 1.35, 1.5, 1.45, 1.3, 1.0, 0.5, 0.15, 0.01],
)
SCHOOL_AGES = (6, 17)


def _char_tables() -> tuple[list[str], dict[str, int]]:
    """Every string a name is built of (surnames, given characters, their homophones and
    traditional forms, and '' for no second given character), each once."""
    base = [s for s, _ in vocab.SURNAMES] + list(vocab.GIVEN_MALE + vocab.GIVEN_FEMALE) + [""]
    base += list(vocab.HOMOPHONES.values())
    chars: list[str] = []
    for s in base + ["".join(vocab.TRADITIONAL.get(c, c) for c in s) for s in base]:
        if s not in chars:
            chars.append(s)
    return chars, {s: i for i, s in enumerate(chars)}


CHARS, CHAR_INDEX = _char_tables()
CHAR_TABLE = text.table(CHARS)
EMPTY = CHAR_INDEX[""]
HOMOPHONE = np.array([CHAR_INDEX[vocab.HOMOPHONES.get(s, s)] for s in CHARS])
TRADITIONAL = np.array([CHAR_INDEX["".join(vocab.TRADITIONAL.get(c, c) for c in s)] for s in CHARS])
SURNAME_IDX = np.array([CHAR_INDEX[s] for s, _ in vocab.SURNAMES])
SURNAME_W = np.array([w for _, w in vocab.SURNAMES])
MALE_IDX = np.array([CHAR_INDEX[c] for c in vocab.GIVEN_MALE])
FEMALE_IDX = np.array([CHAR_INDEX[c] for c in vocab.GIVEN_FEMALE])
COUNTY_DIGITS = np.array([[int(d) for d in code] for code in vocab.COUNTY_CODES], np.uint8)
GENDERS = text.table(["女", "男"])


@dataclass(frozen=True)
class Noise:
    """How carelessly a department copies people: the share of records with each slip."""

    homophone: float = 0.0
    traditional: float = 0.0
    id_missing: float = 0.0
    id_old: float = 0.0  # the 15-digit first-generation ID (people born 1920-1999 only)
    id_bad: float = 0.0  # a mistyped check character: the ID no longer validates
    id_lower: float = 0.0  # 'x' for a final 'X'
    phone_changed: float = 0.0
    phone_missing: float = 0.0
    address: float = 0.0  # the address written another way (see Places.written)


CLEAN = Noise()
LIGHT = Noise(0.01, 0.003, 0.005, 0.01, 0.002, 0.2, 0.05, 0.02, 0.3)
MEDIUM = Noise(0.03, 0.01, 0.02, 0.04, 0.005, 0.3, 0.12, 0.05, 0.5)
HEAVY = Noise(0.06, 0.02, 0.05, 0.10, 0.01, 0.5, 0.25, 0.10, 0.7)


@dataclass
class People:
    """The person master; index i is person id i."""

    county: np.ndarray
    birth: np.ndarray  # datetime64[D]
    male: np.ndarray
    surname: np.ndarray  # index into CHARS
    given1: np.ndarray
    given2: np.ndarray  # EMPTY: a one-character given name
    ethnic: np.ndarray  # index into vocab.ETHNIC
    phone: np.ndarray  # int64 mobile number
    place: np.ndarray  # home place id
    room: np.ndarray  # 0: none (see places.random_rooms)
    id18: pa.Array

    @property
    def n(self) -> int:
        return len(self.county)

    @classmethod
    def generate(
        cls, rng: np.random.Generator, n: int, places: Places, school_aged: int = 0
    ) -> People:
        county = text.pick(rng, vocab.COUNTY_WEIGHTS, n)
        age = text.pick(rng, AGE_WEIGHTS, n)
        lo, hi = SCHOOL_AGES
        short = school_aged - int(((age >= lo) & (age <= hi)).sum())
        if short > 0:  # enough children for the school rolls at any scale
            others = np.flatnonzero((age < lo) | (age > hi))
            chosen = rng.choice(others, size=min(short, len(others)), replace=False)
            age[chosen] = rng.integers(lo, hi + 1, len(chosen))
        birth = text.REF_DAY - (age * 365 + rng.integers(0, 365, n)).astype("timedelta64[D]")
        male = rng.random(n) < 0.505
        given1 = np.where(
            male,
            MALE_IDX[rng.integers(0, len(MALE_IDX), n)],
            FEMALE_IDX[rng.integers(0, len(FEMALE_IDX), n)],
        )
        second = np.where(
            male,
            MALE_IDX[rng.integers(0, len(MALE_IDX), n)],
            FEMALE_IDX[rng.integers(0, len(FEMALE_IDX), n)],
        )
        given2 = np.where(rng.random(n) < 0.72, second, EMPTY)
        surname = SURNAME_IDX[text.pick(rng, SURNAME_W, n)]
        ethnic = text.pick(rng, [w for _, w in vocab.ETHNIC], n)
        place = _homes(rng, places, county)
        room = np.where(places.estate[place] >= 0, random_rooms(rng, n, 1.0), 0)
        id18 = _id_numbers(rng, county, birth, male)
        return cls(
            county,
            birth,
            male,
            surname,
            given1,
            given2,
            ethnic,
            text.mobiles(rng, n),
            place,
            room,
            id18,
        )

    # -- how departments write people down ------------------------------------------------------
    def names(self, rng: np.random.Generator, idx: np.ndarray, noise: Noise = CLEAN) -> pa.Array:
        s, g1, g2 = self.surname[idx], self.given1[idx], self.given2[idx]
        n = len(idx)
        homo = rng.random(n) < noise.homophone
        if homo.any():
            where = rng.random(n)
            on_s = homo & (where < 0.15)
            on_g2 = homo & ~on_s & (g2 != EMPTY) & (where < 0.6)
            on_g1 = homo & ~on_s & ~on_g2
            s = np.where(on_s, HOMOPHONE[s], s)
            g1 = np.where(on_g1, HOMOPHONE[g1], g1)
            g2 = np.where(on_g2, HOMOPHONE[g2], g2)
        trad = rng.random(n) < noise.traditional
        if trad.any():
            s, g1, g2 = (np.where(trad, TRADITIONAL[a], a) for a in (s, g1, g2))
        return text.join(
            text.take(CHAR_TABLE, s), text.take(CHAR_TABLE, g1), text.take(CHAR_TABLE, g2)
        )

    def id_numbers(
        self, rng: np.random.Generator, idx: np.ndarray, noise: Noise = CLEAN
    ) -> pa.Array:
        ids = pc.take(self.id18, pa.array(idx))
        n = len(idx)
        roll = rng.random(n)
        year = self.birth[idx].astype("datetime64[Y]").astype(int) + 1970
        old = (roll < noise.id_old) & (year >= 1920) & (year <= 1999)
        if old.any():  # 6-digit address code + YYMMDD + sequence: no century, no check
            short = text.join(
                pc.utf8_slice_codeunits(ids, 0, 6), pc.utf8_slice_codeunits(ids, 8, 17)
            )
            ids = pc.if_else(pa.array(old), short, ids)
        bad = ~old & (roll >= noise.id_old) & (roll < noise.id_old + noise.id_bad)
        if bad.any():  # the check character mistyped: always another, invalid one
            checks = pc.utf8_slice_codeunits(ids, 17, 18)
            pos = pc.index_in(checks, value_set=text.table(list("10X98765432")))
            wrong = pc.take(text.table(list("0X98765432" + "1")), pos)
            ids = pc.if_else(
                pa.array(bad), text.join(pc.utf8_slice_codeunits(ids, 0, 17), wrong), ids
            )
        lower = rng.random(n) < noise.id_lower
        ids = pc.if_else(pa.array(lower), pc.utf8_lower(ids), ids)
        return text.with_nulls(ids, rng.random(n) < noise.id_missing)

    def phones(self, rng: np.random.Generator, idx: np.ndarray, noise: Noise = CLEAN) -> pa.Array:
        n = len(idx)
        numbers = np.where(
            rng.random(n) < noise.phone_changed, text.mobiles(rng, n), self.phone[idx]
        )
        return text.with_nulls(text.number(numbers), rng.random(n) < noise.phone_missing)

    def addresses(
        self, rng: np.random.Generator, places: Places, idx: np.ndarray, noise: Noise = CLEAN
    ) -> pa.Array:
        return places.written(rng, self.place[idx], noise.address, self.room[idx])

    def genders(self, idx: np.ndarray) -> pa.Array:
        return text.take(GENDERS, self.male[idx].astype(np.int64))

    def ages(self, idx: np.ndarray, on: np.ndarray | None = None) -> np.ndarray:
        """Whole years of age on `on` (default: the reference day)."""
        ref = text.REF_DAY if on is None else on
        return ((ref - self.birth[idx]).astype(np.int64) // 365.25).astype(np.int64)

    def eligible(self, lo: int, hi: int) -> np.ndarray:
        """Person ids aged lo..hi on the reference day."""
        age = self.ages(np.arange(self.n))
        return np.flatnonzero((age >= lo) & (age <= hi))


def _homes(rng: np.random.Generator, places: Places, county: np.ndarray) -> np.ndarray:
    """A home for each person: a dwelling in their own county for most, anywhere for the rest
    (people move, their ID keeps the county where it was issued)."""
    homes = np.flatnonzero(places.kind == 0)
    homes = homes if len(homes) else np.arange(places.n)
    place = homes[rng.integers(0, len(homes), len(county))]
    local = rng.random(len(county)) < 0.85
    for c in range(len(vocab.COUNTIES)):
        pool = homes[places.county[homes] == c]
        rows = np.flatnonzero(local & (county == c))
        if len(pool) and len(rows):
            place[rows] = pool[rng.integers(0, len(pool), len(rows))]
    return place


def _id_numbers(
    rng: np.random.Generator, county: np.ndarray, birth: np.ndarray, male: np.ndarray
) -> pa.Array:
    """Valid, distinct 18-digit IDs. The sequence is the person's rank among those sharing
    county, birth date and gender, shifted by a per-group offset, times two plus the gender."""
    day = birth.astype(np.int64)
    group = (county.astype(np.int64) * 100_000 + (day + 40_000)) * 2 + male
    rank = text.rank_within(group)
    offset = (group * 2654435761 % 2**32) % 300
    half = offset + rank
    if half.max(initial=0) >= 500:
        raise ValueError("too many people share a birth date for 3-digit ID sequences")
    seq = half * 2 + male
    y, m, d = text.civil(birth)
    grid = np.concatenate(
        [
            COUNTY_DIGITS[county],
            text.digit_grid(y * 10000 + m * 100 + d, 8),
            text.digit_grid(seq, 3),
        ],
        axis=1,
    )
    total = np.zeros(len(grid), np.int32)
    for i, w in enumerate(ID_WEIGHTS):
        total += grid[:, i].astype(np.int32) * int(w)
    ascii_grid = np.concatenate([grid + 48, ID_CHECK[total % 11][:, None]], axis=1)
    return text.fixed_width(ascii_grid)
