"""Validators for Chinese identifiers (STANDARDS.md §6) and contact data.

Every ``*_mask`` function is vectorized: it takes an Arrow array (string or integer, plain,
dictionary-encoded or chunked) and returns a boolean array of the same length, False for null
or invalid values, using Arrow compute kernels only (no Python loop per value). Surrounding
whitespace is ignored and letters are compared case-insensitively (``x`` in an ID number is
common in department data).

Scalar helpers (``is_*``, ``id_birth_date``, ...) are plain Python for single values (a kernel
call per value would cost milliseconds); the tests check that both implementations agree.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar, cast

import pyarrow as pa
import pyarrow.compute as pc

from cityhub.errors import InvalidInput

ArrayLike: TypeAlias = pa.Array | pa.ChunkedArray

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"  # indexed by (weighted sum mod 11)
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # value = position (no I O S V Z)
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# GB/T 2260 province-level codes, the first two digits of an ID's address code.
PROVINCE_CODES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50}
    | {51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82}
)
PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# Checksums were valid long before 1900 (`440524188001010014` is a published example), so the
# default accepts 1800+; callers wanting stricter plausibility pass min_year.
MIN_BIRTH_YEAR = 1800

_CREDIT_CLASS = "[0-9A-HJ-NPQRTUWXY]"
_PLATE_ALNUM = "[A-HJ-NP-Z0-9]"  # plates never use I or O
_RE_ID18 = r"^\d{17}[\dX]$"
_RE_ID15 = r"^\d{15}$"
_RE_CREDIT = rf"^{_CREDIT_CLASS}{{2}}\d{{6}}{_CREDIT_CLASS}{{10}}$"
_RE_MOBILE = r"^(?:(?:\+|00)?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}$"
_RE_LANDLINE = (
    r"^(?:\+86[\s-]?(?:\(0?\d{2,3}\)|0?\d{2,3})|\(0\d{2,3}\)|0\d{2,3})"
    r"[\s-]?[2-9]\d{6,7}(?:(?:-|转|EXT\.?)\d{1,6})?$"
)
_RE_EMAIL = r"^[A-Z0-9._%+-]+@[A-Z0-9-]+(?:\.[A-Z0-9-]+)*\.[A-Z]{2,}$"
# Ordinary plates: 5 alnum; new-energy: D/F + alnum + 4 digits (small) or 5 digits + D/F
# (large); trailer/learner/police/HK/Macau plates: 4 alnum + the suffix character.
_RE_PLATE = (
    rf"^[{PLATE_PROVINCES}][A-HJ-NP-Z][·\s]?"
    rf"(?:{_PLATE_ALNUM}{{5}}|[DF]{_PLATE_ALNUM}\d{{4}}|\d{{5}}[DF]|{_PLATE_ALNUM}{{4}}[挂学警港澳])$"
)
_RE_POSTCODE = r"^\d{6}$"
_RE_CARD = r"^\d{16,19}$"

_DAYS_IN_MONTH = pa.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], pa.int32())
_PROVINCES = pa.array(sorted(PROVINCE_CODES), pa.int32())
_ID_CHECK_BYTES = pa.array(list(ID_CHECK_CHARS.encode()), pa.uint8())
_ID_CHECK_STRINGS = pa.array(list(ID_CHECK_CHARS))
# Byte value -> credit code value (null for bytes outside the alphabet).
_CREDIT_VALUE_OF_BYTE = pa.array(
    [CREDIT_ALPHABET.find(chr(b)) if chr(b) in CREDIT_ALPHABET else None for b in range(256)],
    pa.int32(),
)
_Fn = TypeVar("_Fn", bound=Callable[..., Any])


# --- plumbing -------------------------------------------------------------------------------


def as_strings(values: ArrayLike) -> ArrayLike:
    """Trimmed, upper-cased text of values; types that cannot hold an identifier become null."""
    t = values.type
    if pa.types.is_dictionary(t):
        values = values.cast(t.value_type)
        t = t.value_type
    if pa.types.is_integer(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        values = values.cast(pa.string())
    elif not pa.types.is_string(t):
        return pa.nulls(len(values), pa.string())
    return pc.utf8_upper(pc.utf8_trim_whitespace(values))


def _chunkwise(out_type: pa.DataType) -> Callable[[_Fn], _Fn]:
    """Apply an Array -> Array function chunk by chunk, so memory stays bounded per chunk."""

    def wrap(fn: _Fn) -> _Fn:
        @functools.wraps(fn)
        def run(values: ArrayLike, *args: Any, **kwargs: Any) -> ArrayLike:
            if isinstance(values, pa.ChunkedArray):
                parts = [fn(chunk, *args, **kwargs) for chunk in values.chunks]
                return pa.chunked_array(parts, type=out_type)
            return fn(values, *args, **kwargs)

        return cast(_Fn, run)

    return wrap


def _matches(s: ArrayLike, pattern: str) -> ArrayLike:
    return pc.fill_null(pc.match_substring_regex(s, pattern), False)


def _mod(n: ArrayLike, m: int) -> ArrayLike:
    # Integer divide truncates; operands are never negative here.
    return pc.subtract(n, pc.multiply(pc.divide(n, m), m))


def _byte_grid(s: pa.Array, width: int) -> list[pa.Array]:
    """Per-position byte columns (uint8) of non-null ASCII strings exactly `width` long.

    Such strings lie back to back in the data buffer, so a zero-copy fixed-size-list view
    gives column i with one kernel call instead of slicing and parsing text.
    """
    if len(s) == 0:
        return [pa.array([], pa.uint8())] * width
    first = pa.Array.from_buffers(pa.int32(), 1, [None, s.buffers()[1]], offset=s.offset)
    flat = pa.Array.from_buffers(
        pa.uint8(), len(s) * width, [None, s.buffers()[2]], offset=first[0].as_py()
    )
    grid = pa.FixedSizeListArray.from_arrays(flat, width)
    return [pc.list_element(grid, i) for i in range(width)]


def _digit_values(columns: list[pa.Array]) -> list[pa.Array]:
    return [pc.subtract(pc.cast(c, pa.int32()), 48) for c in columns]  # b"0" == 48


def _weighted_sum(values: list[pa.Array], weights: tuple[int, ...]) -> pa.Array:
    total = pc.multiply(values[0], weights[0])
    for v, w in zip(values[1:], weights[1:], strict=True):
        total = pc.add(total, pc.multiply(v, w))
    return total


def _number(digits: list[pa.Array]) -> pa.Array:
    total = digits[0]
    for d in digits[1:]:
        total = pc.add(pc.multiply(total, 10), d)
    return total


def _is_leap(year: pa.Array) -> pa.Array:
    by4 = pc.equal(_mod(year, 4), 0)
    return pc.and_(by4, pc.or_(pc.not_equal(_mod(year, 100), 0), pc.equal(_mod(year, 400), 0)))


def _valid_date(
    year: pa.Array, month: pa.Array, day: pa.Array, min_year: int, today: dt.date | None
) -> pa.Array:
    """A real calendar day between min_year-01-01 and today."""
    month_ok = pc.and_(pc.greater_equal(month, 1), pc.less_equal(month, 12))
    days = pc.take(_DAYS_IN_MONTH, pc.if_else(month_ok, month, 0))
    days = pc.add(days, pc.cast(pc.and_(pc.equal(month, 2), _is_leap(year)), pa.int32()))
    real = pc.and_(month_ok, pc.and_(pc.greater_equal(day, 1), pc.less_equal(day, days)))
    stamp = pc.add(pc.add(pc.multiply(year, 10000), pc.multiply(month, 100)), day)
    end = today or dt.date.today()
    lo, hi = min_year * 10000 + 101, end.year * 10000 + end.month * 100 + end.day
    return pc.and_(real, pc.and_(pc.greater_equal(stamp, lo), pc.less_equal(stamp, hi)))


def _checked(s: pa.Array, pattern: str, check: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """Run the costly `check` only on values of the right shape; False elsewhere."""
    shape = _matches(s, pattern)
    if not pc.any(shape).as_py():  # the usual case for most columns: a check costs ~100 kernels
        return shape
    return pc.replace_with_mask(shape, shape, check(s.filter(shape)))


def _text(value: object) -> str:
    return "" if value is None else str(value).strip().upper()


def _fits(pattern: str, value: object) -> bool:
    # ASCII: RE2 (Arrow) digits and spaces are ASCII, Python's are Unicode by default.
    return re.fullmatch(pattern, _text(value), re.ASCII) is not None


def _date_ok(y: int, m: int, d: int, min_year: int, today: dt.date | None) -> bool:
    try:
        born = dt.date(y, m, d)
    except ValueError:
        return False
    return dt.date(min_year, 1, 1) <= born <= (today or dt.date.today())


# --- resident ID number (GB 11643-1999) -----------------------------------------------------


def id_check_char(first17: str) -> str:
    """The check character for the first 17 digits of an ID number."""
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def _id_check_bytes(digits: list[pa.Array]) -> pa.Array:
    """Check characters (as bytes) of 17 digit columns."""
    return pc.take(_ID_CHECK_BYTES, _mod(_weighted_sum(digits, ID_WEIGHTS), 11))


def _province_ok(digits: list[pa.Array]) -> pa.Array:
    return pc.is_in(_number(digits[:2]), value_set=_PROVINCES)


def _id18_ok(s: pa.Array, min_year: int, today: dt.date | None) -> pa.Array:
    grid = _byte_grid(s, 18)
    d = _digit_values(grid[:17])
    check = pc.equal(_id_check_bytes(d), grid[17])
    born = _valid_date(_number(d[6:10]), _number(d[10:12]), _number(d[12:14]), min_year, today)
    return pc.and_(check, pc.and_(born, _province_ok(d)))


def _id15_ok(s: pa.Array, min_year: int, today: dt.date | None) -> pa.Array:
    d = _digit_values(_byte_grid(s, 15))
    year = pc.add(_number(d[6:8]), 1900)
    born = _valid_date(year, _number(d[8:10]), _number(d[10:12]), max(min_year, 1900), today)
    return pc.and_(born, _province_ok(d))


def _id18_mask(s: pa.Array, min_year: int, today: dt.date | None) -> pa.Array:
    return _checked(s, _RE_ID18, lambda v: _id18_ok(v, min_year, today))


def _id15_mask(s: pa.Array, min_year: int, today: dt.date | None) -> pa.Array:
    return _checked(s, _RE_ID15, lambda v: _id15_ok(v, min_year, today))


@_chunkwise(pa.bool_())
def id_card_mask(
    values: ArrayLike,
    *,
    allow_15: bool = True,
    min_year: int = MIN_BIRTH_YEAR,
    today: dt.date | None = None,
) -> ArrayLike:
    """Valid resident ID numbers.

    18 digits: check character, a real birth date from min_year to today, a province code.
    15 digits (allow_15): a real 19YYMMDD birth date and a province code (no checksum exists).
    """
    s = as_strings(values)
    mask = _id18_mask(s, min_year, today)
    if allow_15:
        mask = pc.or_(mask, _id15_mask(s, min_year, today))
    return mask


@_chunkwise(pa.string())
def normalize_id_cards(values: ArrayLike, *, min_year: int = MIN_BIRTH_YEAR) -> ArrayLike:
    """Canonical 18-character ID numbers (15-digit ones upgraded); null where invalid."""
    s = as_strings(values)
    is18, is15 = _id18_mask(s, min_year, None), _id15_mask(s, min_year, None)
    old = s.filter(is15)
    first17 = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(old, 0, 6), "19", pc.utf8_slice_codeunits(old, 6, 15), ""
    )
    check = pc.take(
        _ID_CHECK_STRINGS,
        _mod(_weighted_sum(_digit_values(_byte_grid(first17, 17)), ID_WEIGHTS), 11),
    )
    upgraded = pc.binary_join_element_wise(first17, check, "")
    nulls = pa.nulls(len(s), pa.string())
    return pc.replace_with_mask(pc.if_else(is18, s, nulls), is15, upgraded)


def is_id_card(
    value: str | None,
    *,
    allow_15: bool = True,
    min_year: int = MIN_BIRTH_YEAR,
    today: dt.date | None = None,
) -> bool:
    """One value; same rules as id_card_mask."""
    s = _text(value)
    if _fits(_RE_ID18, s):
        return (
            id_check_char(s[:17]) == s[17]
            and int(s[:2]) in PROVINCE_CODES
            and _date_ok(int(s[6:10]), int(s[10:12]), int(s[12:14]), min_year, today)
        )
    if allow_15 and _fits(_RE_ID15, s):
        born = (1900 + int(s[6:8]), int(s[8:10]), int(s[10:12]))
        return int(s[:2]) in PROVINCE_CODES and _date_ok(*born, max(min_year, 1900), today)
    return False


def upgrade_id15(value: str) -> str:
    """Turn a 15-digit ID into its 18-character form (century assumed 19xx)."""
    s = value.strip()
    if len(s) != 15 or not is_id_card(s):
        raise InvalidInput(f"{value!r} is not a valid 15-digit resident ID number")
    first17 = s[:6] + "19" + s[6:]
    return first17 + id_check_char(first17)


def id_birth_date(value: str) -> dt.date | None:
    """Birth date of a valid 15- or 18-character ID number, else None."""
    s = value.strip().upper()
    if len(s) == 15 and is_id_card(s):
        return dt.date(1900 + int(s[6:8]), int(s[8:10]), int(s[10:12]))
    if len(s) == 18 and is_id_card(s):
        return dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    return None


def id_gender(value: str) -> str | None:
    """'M' or 'F' from the sequence number's last digit (odd: male) of a valid ID, else None."""
    s = value.strip().upper()
    if len(s) not in (15, 18) or not is_id_card(s):
        return None
    seq_digit = int(s[14] if len(s) == 15 else s[16])
    return "M" if seq_digit % 2 else "F"


# --- unified social credit code (GB 32100-2015) ---------------------------------------------


def credit_check_char(first17: str) -> str:
    """The check character for the first 17 characters of a unified social credit code."""
    total = sum(
        CREDIT_ALPHABET.index(c) * w for c, w in zip(first17.upper(), CREDIT_WEIGHTS, strict=True)
    )
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def _credit_ok(s: pa.Array) -> pa.Array:
    grid = _byte_grid(s, 18)
    values = [pc.take(_CREDIT_VALUE_OF_BYTE, c) for c in grid]  # the shape regex vouches
    check = _mod(pc.subtract(31, _mod(_weighted_sum(values[:17], CREDIT_WEIGHTS), 31)), 31)
    return pc.equal(check, values[17])


@_chunkwise(pa.bool_())
def credit_code_mask(values: ArrayLike) -> ArrayLike:
    """Valid unified social credit codes: alphabet, 6-digit division code, check character."""
    return _checked(as_strings(values), _RE_CREDIT, _credit_ok)


def is_credit_code(value: str | None) -> bool:
    s = _text(value)
    return _fits(_RE_CREDIT, s) and credit_check_char(s[:17]) == s[17]


# --- bank card (Luhn) -----------------------------------------------------------------------


def luhn_check_digit(payload: str) -> str:
    """The Luhn digit that completes `payload` (all digits)."""
    total = 0
    for i, c in enumerate(reversed(payload)):
        d = int(c) * (2 if i % 2 == 0 else 1)  # the check digit itself will sit at odd parity
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def _luhn_ok(s: pa.Array) -> pa.Array:
    # Left zero-padding to 19 digits changes nothing in Luhn and gives one fixed width.
    digits = _digit_values(_byte_grid(pc.utf8_lpad(s, width=19, padding="0"), 19))
    total: pa.Array | None = None
    for i, d in enumerate(digits):
        if (18 - i) % 2 == 1:  # every second digit counted from the right is doubled
            d = pc.multiply(d, 2)
            d = pc.if_else(pc.greater(d, 9), pc.subtract(d, 9), d)
        total = d if total is None else pc.add(total, d)
    return pc.equal(_mod(total, 10), 0)


@_chunkwise(pa.bool_())
def bank_card_mask(values: ArrayLike) -> ArrayLike:
    """16-19 digits (spaces or dashes between groups allowed) passing the Luhn check."""
    return _checked(
        pc.replace_substring_regex(as_strings(values), r"[\s-]", ""), _RE_CARD, _luhn_ok
    )


def is_bank_card(value: str | None) -> bool:
    s = re.sub(r"[\s-]", "", _text(value), flags=re.ASCII)
    return _fits(_RE_CARD, s) and luhn_check_digit(s[:-1]) == s[-1]


# --- contact data and other shapes ----------------------------------------------------------


def mobile_mask(values: ArrayLike) -> ArrayLike:
    """Mainland mobile numbers: 1[3-9] + 9 digits, optional +86/86 prefix and separators."""
    return _matches(as_strings(values), _RE_MOBILE)


def landline_mask(values: ArrayLike) -> ArrayLike:
    """Fixed lines with an area code: 0573-82051234, (0573)82051234, +86 573 82051234.

    The local number has 7-8 digits and never starts with 0 or 1; an extension may follow.
    """
    return _matches(as_strings(values), _RE_LANDLINE)


def email_mask(values: ArrayLike) -> ArrayLike:
    return _matches(as_strings(values), _RE_EMAIL)


def plate_mask(values: ArrayLike) -> ArrayLike:
    """Motor vehicle plates: 浙F12345, 浙FD12345 / 浙F12345D (new energy), 浙F1234挂."""
    return _matches(as_strings(values), _RE_PLATE)


def postcode_mask(values: ArrayLike) -> ArrayLike:
    """Six digits; only meaningful together with a column-name hint."""
    return _matches(as_strings(values), _RE_POSTCODE)


def is_mobile(value: str | None) -> bool:
    return _fits(_RE_MOBILE, value)


def is_landline(value: str | None) -> bool:
    return _fits(_RE_LANDLINE, value)


def is_email(value: str | None) -> bool:
    return _fits(_RE_EMAIL, value)


def is_plate(value: str | None) -> bool:
    return _fits(_RE_PLATE, value)


def is_postcode(value: str | None) -> bool:
    return _fits(_RE_POSTCODE, value)
