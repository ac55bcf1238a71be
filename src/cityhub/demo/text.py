"""Column builders: whole columns of text from index arrays, with Arrow kernels (no row loops)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Part: TypeAlias = pa.Array | str

#: The day the demo city's data stands at: the seed's 截至2017年10月.
REF_DAY = np.datetime64("2017-10-31", "D")
YEAR_START = np.datetime64("2017-01-01", "D")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def words(blank_separated: str) -> list[str]:
    return blank_separated.split()


def table(values: Sequence[str]) -> pa.Array:
    return pa.array(list(values), pa.string())


def take(values: pa.Array, idx: np.ndarray) -> pa.Array:
    return pc.take(values, pa.array(idx))


def join(*parts: Part) -> pa.Array:
    """Element-wise concatenation; a null part makes the result null."""
    return pc.binary_join_element_wise(*parts, "")


def fixed_width(grid: np.ndarray) -> pa.Array:
    """Rows of an (n, w) uint8 ASCII grid as n strings of width w, without a copy per row."""
    n, w = grid.shape
    offsets = np.arange(0, (n + 1) * w, w, dtype=np.int32)
    data = np.ascontiguousarray(grid, dtype=np.uint8)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def digit_grid(values: np.ndarray, width: int) -> np.ndarray:
    """Decimal digits of non-negative integers, zero-padded, as an (n, width) uint8 array."""
    v = values.astype(np.int32 if width <= 9 else np.int64)
    out = np.empty((len(v), width), np.uint8)
    for i in range(width):
        v, out[:, width - 1 - i] = np.divmod(v, 10)
    return out


def digits(values: np.ndarray, width: int) -> pa.Array:
    """Zero-padded decimal text of non-negative integers."""
    return fixed_width((digit_grid(values, width) + 48).astype(np.uint8))


def number(values: np.ndarray) -> pa.Array:
    return pa.array(values).cast(pa.string())


def fullwidth(values: pa.Array) -> pa.Array:
    """ASCII digits as full-width ones (０-９), as some clerks' input methods type them."""
    for ascii_digit in "0123456789":
        values = pc.replace_substring(values, ascii_digit, ascii_digit.translate(FULLWIDTH))
    return values


def where(mask: np.ndarray, yes: Part, no: Part) -> pa.Array:
    """`yes` where mask, else `no` (either may be a constant)."""
    return pc.if_else(pa.array(mask), yes, no)


def scatter(mask: np.ndarray, yes: pa.Array, no: pa.Array) -> pa.Array:
    """One array from two parts: `yes` fills the masked rows in order, `no` the others."""
    order = np.concatenate([np.flatnonzero(mask), np.flatnonzero(~mask)])
    whole = pa.concat_arrays([yes, no.cast(yes.type)])
    return pc.take(whole, pa.array(np.argsort(order, kind="stable")))


def with_nulls(values: pa.Array, mask: np.ndarray) -> pa.Array:
    """Values with nulls where mask is set."""
    if not mask.any():
        return values
    return pc.if_else(pa.array(mask), pa.nulls(len(values), values.type), values)


def apply_where(values: pa.Array, mask: np.ndarray, fn: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """`fn` applied to the masked values only (the others are not even looked at)."""
    if not mask.any():
        return values
    m = pa.array(mask)
    return pc.replace_with_mask(values, m, fn(values.filter(m)))


def replace_where(values: pa.Array, mask: np.ndarray, old: str, new: str) -> pa.Array:
    return apply_where(values, mask, lambda v: pc.replace_substring(v, old, new))


def days(values: np.ndarray) -> pa.Array:
    """Day numbers (datetime64[D]) as a date32 array."""
    return pa.array(values.astype("datetime64[D]"))


def civil(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day of datetime64 days, by integer arithmetic (H. Hinnant's algorithm):
    several times faster than numpy's calendar conversions."""
    z = values.astype("datetime64[D]").astype(np.int64) + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    return yoe + era * 400 + (m <= 2), m, d


def _ascii(parts: list[np.ndarray | bytes], n: int) -> pa.Array:
    """Fixed-width text from digit grids and separator bytes, side by side."""
    cols = [
        np.broadcast_to(np.frombuffer(p, np.uint8), (n, len(p)))
        if isinstance(p, bytes)
        else (p + 48).astype(np.uint8)
        for p in parts
    ]
    return fixed_width(np.concatenate(cols, axis=1))


#: Date styles departments use: separators between year, month, day (and after the day).
DATE_STYLES = {"iso": (b"-", b"-"), "compact": (b"", b""), "slash": (b"/", b"/")}


def date_text(values: np.ndarray, style: str = "iso") -> pa.Array:
    """Dates as text: iso 2017-03-01, compact 20170301, slash 2017/03/01, cn 2017年3月1日."""
    y, m, d = civil(values)
    if style == "cn":
        return join(number(y), "年", number(m), "月", number(d), "日")
    a, b = DATE_STYLES[style]
    n = len(y)
    parts: list[np.ndarray | bytes] = [digit_grid(y, 4), a, digit_grid(m, 2), b, digit_grid(d, 2)]
    return _ascii([p for p in parts if not isinstance(p, bytes) or p], n)


def month_text(values: np.ndarray) -> pa.Array:
    """Months as 2017-03."""
    y, m, _ = civil(values)
    return _ascii([digit_grid(y, 4), b"-", digit_grid(m, 2)], len(y))


def time_text(values: np.ndarray, style: str = "iso") -> pa.Array:
    """Times as text: iso 2017-03-01 08:05:09, slash 2017/03/01 08:05 (minutes)."""
    secs = values.astype("datetime64[s]").astype(np.int64)
    day = (secs // 86400).astype("datetime64[D]")
    sod = secs % 86400
    y, m, d = civil(day)
    a = b"/" if style == "slash" else b"-"
    parts: list[np.ndarray | bytes] = [digit_grid(y, 4), a, digit_grid(m, 2), a, digit_grid(d, 2)]
    parts += [b" ", digit_grid(sod // 3600, 2), b":", digit_grid(sod // 60 % 60, 2)]
    if style != "slash":
        parts += [b":", digit_grid(sod % 60, 2)]
    return _ascii(parts, len(y))


def timestamps(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype("datetime64[s]"))


def pick(rng: np.random.Generator, weights: Sequence[float] | np.ndarray, n: int) -> np.ndarray:
    """Indexes drawn by weight."""
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size=n, p=p / p.sum())


def choose(
    rng: np.random.Generator,
    values: Sequence[str],
    n: int,
    weights: Sequence[float] | None = None,
) -> pa.Array:
    """`n` of `values`, uniformly or by weight."""
    idx = pick(rng, weights, n) if weights is not None else rng.integers(0, len(values), n)
    return take(table(values), idx)


def mobiles(rng: np.random.Generator, n: int) -> np.ndarray:
    """Mainland mobile numbers (11 digits) as integers."""
    prefixes = np.array([130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 153])
    prefixes = np.concatenate([prefixes, [155, 157, 158, 159, 173, 177, 180, 181, 186, 187]])
    prefixes = np.concatenate([prefixes, [188, 189, 198, 199, 136, 139, 138, 158]])
    head = prefixes[rng.integers(0, len(prefixes), n)].astype(np.int64)
    return head * 10**8 + rng.integers(0, 10**8, n)


def money(rng: np.random.Generator, median: float, spread: float, n: int) -> np.ndarray:
    """Log-normal amounts rounded to cents."""
    return np.round(rng.lognormal(np.log(median), spread, n), 2)


def rank_within(keys: np.ndarray) -> np.ndarray:
    """0-based occurrence number of each key among equal keys, in array order."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.r_[0, np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(keys)]))
    ranks = np.empty(len(keys), dtype=np.int64)
    ranks[order] = np.arange(len(keys)) - run_start
    return ranks


_CN_DIGITS = "零一二三四五六七八九"


def chinese_numeral(k: int) -> str:
    """1-999 in Chinese numerals (第二, 第十二, 第一百零五)."""
    h, t, u = k // 100, k // 10 % 10, k % 10
    out = f"{_CN_DIGITS[h]}百" if h else ""
    if t:
        out += ("" if (t == 1 and not h) else _CN_DIGITS[t]) + "十"
    elif h and u:
        out += "零"
    return out + (_CN_DIGITS[u] if u else "")


ORDINALS = table([""] + [f"第{chinese_numeral(k)}" for k in range(2, 1000)])


def ordinal(rank: np.ndarray) -> pa.Array:
    """'' for the first of a kind, then 第二, 第三, ... (capped at 第九百九十九)."""
    return take(ORDINALS, np.minimum(rank, len(ORDINALS) - 1))
