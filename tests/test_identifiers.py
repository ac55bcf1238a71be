"""Identifier validators: checksums by property, the standards' own examples, edge dates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cityhub import identifiers as ids
from cityhub.errors import InvalidInput

# Reference rules written out again from STANDARDS.md §6, independent of the module under test.
ID_W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
ID_CHECK = "10X98765432"
CREDIT_ALPHA = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_W = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
PROVINCES = [11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46]
PROVINCES += [50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82]


def ref_id_check(first17: str) -> str:
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_W, strict=True)) % 11]


def ref_credit_check(first17: str) -> str:
    total = sum(CREDIT_ALPHA.index(c) * w for c, w in zip(first17, CREDIT_W, strict=True))
    return CREDIT_ALPHA[(31 - total % 31) % 31]


def ref_luhn_ok(number: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(number)):
        d = int(c) * (2 if i % 2 else 1)
        total += d // 10 + d % 10
    return total % 10 == 0


digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


@st.composite
def id18(draw: st.DrawFn) -> tuple[str, dt.date, int]:
    province = draw(st.sampled_from(PROVINCES))
    area = draw(st.integers(0, 9999))
    born = draw(st.dates(dt.date(1800, 1, 1), dt.date.today()))
    seq = draw(st.integers(0, 999))
    first17 = f"{province}{area:04d}{born:%Y%m%d}{seq:03d}"
    return first17 + ref_id_check(first17), born, seq


@st.composite
def credit18(draw: st.DrawFn) -> str:
    head = draw(st.text(alphabet=CREDIT_ALPHA, min_size=2, max_size=2))
    division = draw(st.text(alphabet="0123456789", min_size=6, max_size=6))
    org = draw(st.text(alphabet=CREDIT_ALPHA, min_size=9, max_size=9))
    first17 = head + division + org
    return first17 + ref_credit_check(first17)


@st.composite
def card(draw: st.DrawFn) -> str:
    length = draw(st.integers(16, 19))
    body = draw(st.text(alphabet="0123456789", min_size=length - 1, max_size=length - 1))
    return body + next(c for c in "0123456789" if ref_luhn_ok(body + c))


def flip(value: str, pos: int, alphabet: str, shift: int) -> str:
    """Replace one character by another of the alphabet (never by itself)."""
    old = alphabet.index(value[pos])
    new = alphabet[(old + 1 + shift % (len(alphabet) - 1)) % len(alphabet)]
    return value[:pos] + new + value[pos + 1 :]


def mask(fn, values: Sequence[str | None]) -> list[bool]:
    return fn(pa.array(values, pa.string())).to_pylist()


PAIRS = {
    ids.is_id_card: ids.id_card_mask,
    ids.is_credit_code: ids.credit_code_mask,
    ids.is_bank_card: ids.bank_card_mask,
    ids.is_mobile: ids.mobile_mask,
    ids.is_landline: ids.landline_mask,
    ids.is_email: ids.email_mask,
    ids.is_plate: ids.plate_mask,
    ids.is_postcode: ids.postcode_mask,
}


def check(fn, value: str | None, **kwargs) -> bool:
    """The scalar helper's verdict, after asserting the vectorized mask agrees with it."""
    scalar = fn(value, **kwargs)
    assert PAIRS[fn](pa.array([value], pa.string()), **kwargs).to_pylist() == [scalar], value
    return scalar


# --- resident ID ---------------------------------------------------------------------------


def test_standard_examples_are_valid() -> None:
    good = [
        "11010519491231002X",
        "440524188001010014",
        "11010519491231002x",
        " 440524188001010014 ",
    ]
    assert mask(ids.id_card_mask, good) == [True] * 4
    assert ids.is_id_card("11010519491231002X")
    assert ids.id_check_char("11010519491231002") == "X"
    assert ids.id_check_char("44052418800101001") == "4"


@settings(max_examples=200, deadline=None)
@given(id18())
def test_generated_ids_are_valid_and_decode(case: tuple[str, dt.date, int]) -> None:
    value, born, seq = case
    assert ids.is_id_card(value)
    assert ids.id_check_char(value[:17]) == value[17]
    assert ids.id_birth_date(value) == born
    assert ids.id_gender(value) == ("M" if seq % 2 else "F")


@settings(max_examples=200, deadline=None)
@given(id18(), st.integers(0, 17), st.integers(0, 100))
def test_any_single_substitution_is_caught(
    case: tuple[str, dt.date, int], pos: int, shift: int
) -> None:
    value = case[0]
    alphabet = "0123456789X" if pos == 17 else "0123456789"
    bad = flip(value, pos, alphabet, shift)
    assert not ids.is_id_card(bad)
    assert ids.id_birth_date(bad) is None
    assert ids.id_gender(bad) is None


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(id18(), st.integers(0, 16), st.booleans()), min_size=1, max_size=40))
def test_vectorized_mask_matches_per_value_truth(rows: list) -> None:
    values, expected = [], []
    for (value, _born, _seq), pos, corrupt in rows:
        values.append(flip(value, pos, "0123456789", 0) if corrupt else value)
        expected.append(not corrupt)
    values.append(None)
    expected.append(False)
    half = len(values) // 2
    chunked = pa.chunked_array(
        [pa.array(values[:half], pa.string()), pa.array(values[half:], pa.string())]
    )
    assert ids.id_card_mask(chunked).to_pylist() == expected
    assert mask(ids.id_card_mask, values) == expected


@pytest.mark.parametrize(
    ("first17", "why"),
    [
        ("11010519490230002", "30 February"),
        ("11010519000229002", "1900 is not a leap year"),
        ("11010517991231002", "before 1800"),
        ("11010530000101002", "born in the future"),
        ("99010519491231002", "no province 99"),
        ("10010519491231002", "no province 10"),
        ("11010519491301002", "month 13"),
    ],
)
def test_checksum_right_but_implausible(first17: str, why: str) -> None:
    assert not check(ids.is_id_card, first17 + ref_id_check(first17)), why


def test_leap_day_and_min_year() -> None:
    leap = "11010520000229002"
    assert check(ids.is_id_card, leap + ref_id_check(leap))
    assert not check(ids.is_id_card, "440524188001010014", min_year=1900)
    today = dt.date(1960, 1, 1)
    assert check(ids.is_id_card, "11010519491231002X", today=today)
    late = "11010519700101002"
    assert not check(ids.is_id_card, late + ref_id_check(late), today=today)


def test_shape_errors() -> None:
    bad = ["1101051949123100", "11010519491231002Y", "X1010519491231002X", "", "abc", None]
    assert mask(ids.id_card_mask, bad) == [False] * len(bad)
    assert [ids.is_id_card(v) for v in bad] == [False] * len(bad)
    # An 18-digit random-looking number with a wrong check character.
    assert not check(ids.is_id_card, "110105194912310021")


def test_fifteen_digit_ids() -> None:
    assert check(ids.is_id_card, "110105491231002")
    assert not check(ids.is_id_card, "110105491231002", allow_15=False)
    assert not check(ids.is_id_card, "110105490230002")  # 1949-02-30
    assert not check(ids.is_id_card, "990105491231002")  # province 99
    assert ids.upgrade_id15("110105491231002") == "11010519491231002X"
    assert ids.id_birth_date("110105491231002") == dt.date(1949, 12, 31)
    assert ids.id_gender("110105491231002") == "F"
    assert ids.id_gender("110105491231001") == "M"
    with pytest.raises(InvalidInput):
        ids.upgrade_id15("110105490230002")
    with pytest.raises(InvalidInput):
        ids.upgrade_id15("11010519491231002X")


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(PROVINCES), st.dates(dt.date(1900, 1, 1), dt.date(1999, 12, 31)))
def test_upgrade_gives_a_valid_id_with_the_same_birth_date(province: int, born: dt.date) -> None:
    old = f"{province}0402{born:%y%m%d}123"
    new = ids.upgrade_id15(old)
    assert len(new) == 18 and ids.is_id_card(new, allow_15=False)
    assert ids.id_birth_date(new) == ids.id_birth_date(old) == born


def test_normalize_id_cards() -> None:
    values = ["11010519491231002x", "110105491231002", "110105194912310021", None, "n/a"]
    out = ids.normalize_id_cards(pa.array(values)).to_pylist()
    assert out == ["11010519491231002X", "11010519491231002X", None, None, None]
    chunked = ids.normalize_id_cards(pa.chunked_array([values[:2], values[2:]]))
    assert chunked.to_pylist() == out


def test_input_types() -> None:
    as_dict = pa.array(["11010519491231002X", None, "x"]).dictionary_encode()
    assert ids.id_card_mask(as_dict).to_pylist() == [True, False, False]
    large = pa.array(["11010519491231002X"], pa.large_string())
    assert ids.id_card_mask(large).to_pylist() == [True]
    assert ids.id_card_mask(pa.array([1.5, None])).to_pylist() == [False, False]
    sliced = pa.array(["x", "11010519491231002X", "440524188001010014"]).slice(1)
    assert ids.id_card_mask(sliced).to_pylist() == [True, True]
    assert not ids.is_id_card(None)


# --- unified social credit code ------------------------------------------------------------


def test_credit_code_examples() -> None:
    values = ["91350100M000100Y43", "91440300708461136T", "91440300708461136t", None]
    assert mask(ids.credit_code_mask, values) == [True, True, True, False]
    assert ids.credit_check_char("91350100M000100Y4") == "3"
    assert ids.credit_check_char("91440300708461136") == "T"


@settings(max_examples=200, deadline=None)
@given(credit18(), st.integers(0, 17), st.integers(0, 100))
def test_credit_codes_by_property(value: str, pos: int, shift: int) -> None:
    assert ids.is_credit_code(value)
    assert ids.credit_check_char(value[:17]) == value[17]
    alphabet = "0123456789" if 2 <= pos < 8 else CREDIT_ALPHA
    assert not ids.is_credit_code(flip(value, pos, alphabet, shift))


def test_credit_code_shape() -> None:
    # I, O, S, V, Z are not in the alphabet; the division code is digits.
    for bad in ["91350100M000100YI3", "91350100O000100Y43", "913501A0M000100Y43", "9135"]:
        assert not check(ids.is_credit_code, bad)


# --- bank card -----------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(card(), st.integers(0, 18), st.integers(0, 100))
def test_luhn_by_property(value: str, pos: int, shift: int) -> None:
    assert ids.is_bank_card(value)
    assert ids.luhn_check_digit(value[:-1]) == value[-1]
    assert not ids.is_bank_card(flip(value, pos % len(value), "0123456789", shift))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(alphabet="0123456789", min_size=14, max_size=21), max_size=30))
def test_luhn_mask_agrees_with_reference(values: list[str]) -> None:
    expected = [16 <= len(v) <= 19 and ref_luhn_ok(v) for v in values]
    assert mask(ids.bank_card_mask, values) == expected


def test_bank_card_formats() -> None:
    values = ["4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "411111111111111"]
    assert mask(ids.bank_card_mask, values) == [True, True, True, False]
    assert ids.bank_card_mask(pa.array([4111111111111111])).to_pylist() == [True]


# --- shapes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "good", "bad"),
    [
        (
            ids.is_mobile,
            ["13800138000", "19912345678", "+8613800138000", "86 138 0013 8000", "138-0013-8000"],
            ["12800138000", "1380013800", "138001380000", "0573-82051234", "+8612800138000"],
        ),
        (
            ids.is_landline,
            ["0573-82051234", "057382051234", "(0573)82051234", "010-62345678", "0573-8205123"],
            ["13800138000", "0573-02051234", "573-82051234", "0573-820512345", "82051234"],
        ),
        (
            ids.is_email,
            ["zhang.san@example.cn", "Li_Si+x@jx.gov.cn", "a@b.co"],
            ["zhang@", "@example.cn", "zhang@example", "zhang san@example.cn"],
        ),
        (
            ids.is_plate,
            [
                "浙F12345",
                "浙FD12345",
                "浙F12345D",
                "浙F1234挂",
                "浙F·A1234",
                "粤B1234学",
                "浙f12345",
            ],
            ["F12345", "浙F1234", "浙FI2345", "浙1F2345", "港F12345", "浙F123456"],
        ),
        (ids.is_postcode, ["314000", "100000"], ["31400", "3140001", "31400A"]),
    ],
)
def test_shapes(fn, good: list[str], bad: list[str]) -> None:
    assert [check(fn, v) for v in good] == [True] * len(good)
    assert [check(fn, v) for v in bad] == [False] * len(bad)


def test_shape_masks_are_vectorized_over_chunks_and_integers() -> None:
    chunked = pa.chunked_array([["13800138000", None], ["0573-82051234"]])
    assert ids.mobile_mask(chunked).to_pylist() == [True, False, False]
    assert ids.landline_mask(chunked).to_pylist() == [False, False, True]
    assert ids.mobile_mask(pa.array([13800138000, 12345], pa.int64())).to_pylist() == [
        True,
        False,
    ]


@st.composite
def id15(draw: st.DrawFn) -> str:
    return str(draw(st.sampled_from(PROVINCES))) + draw(
        st.text(alphabet="0123456789", min_size=13, max_size=13)
    )


candidates = st.one_of(
    id18().map(lambda case: case[0]),
    id18().map(lambda case: case[0].lower().center(20)),
    id15(),
    credit18(),
    card(),
    st.text(alphabet="0123456789", min_size=14, max_size=20),
    st.text(alphabet="0123456789Xx -+()@.浙FDaz挂转", max_size=22),
    st.sampled_from(["13800138000", "0573-82051234", "a@b.cn", "浙F12345", "314000"]),
    st.none(),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(candidates, min_size=1, max_size=40))
def test_scalar_helpers_agree_with_vectorized_masks(values: list[str | None]) -> None:
    arr = pa.array(values, pa.string())
    for scalar, vector in PAIRS.items():
        assert vector(arr).to_pylist() == [scalar(v) for v in values], scalar.__name__
