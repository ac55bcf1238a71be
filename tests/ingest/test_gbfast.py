"""The table-driven GB18030 decoder: Python's codec byte for byte, with the newline and quote
counts the transcoding cuts its parts by, and None (never a guess) for what it leaves to iconv."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityhub.ingest import decode, gbfast
from cityhub.ingest.decode import transcode_to_utf8

FAST = gbfast.decoder("gb18030")
if FAST is None and not os.environ.get("CITYHUB_REQUIRE_SERVICES"):
    pytest.skip("the C decoder was not built here (no C compiler)", allow_module_level=True)
assert FAST is not None, "the C decoder must be built in CI"


def fast(raw: bytes, length: int | None = None) -> tuple[bytes, int, int] | None:
    """The text the decoder writes (into a buffer holding stale bytes, as a reused one does),
    with its counts."""
    assert FAST is not None
    length = len(raw) if length is None else length
    out = bytearray(b"\xee" * gbfast.room(length))
    got = FAST(raw, length, out)
    if got is None:
        return None
    size, newlines, quotes = got
    return bytes(out[:size]), newlines, quotes


def two_byte_characters() -> str:
    """Every character GB18030 writes in two bytes."""
    found = []
    for lead in range(0x81, 0xFF):
        for trail in [*range(0x40, 0x7F), *range(0x80, 0xFF)]:
            with contextlib.suppress(UnicodeDecodeError):
                found.append(bytes((lead, trail)).decode("gb18030"))
    return "".join(found)


def test_every_two_byte_character_decodes_as_pythons_codec_does() -> None:
    chars = two_byte_characters()
    assert len(chars) > 20_000
    text = "".join(f"{c}a," if i % 7 else c for i, c in enumerate(chars)) + "\n"
    raw = text.encode("gb18030")
    assert fast(raw) == (text.encode("utf-8"), 1, 0)


@given(
    st.text(
        alphabet=st.sampled_from(list('abc,019 "\n\r\t') + list("嘉兴南湖秀洲—·“”…【】℃①㎡￥€")),
        max_size=300,
    )
)
def test_text_and_counts_match_the_reference(text: str) -> None:
    raw = text.encode("gb18030")
    assert fast(raw) == (text.encode("utf-8"), text.count("\n"), text.count('"'))


def test_only_the_first_length_bytes_are_decoded() -> None:
    raw = '南湖,"a"\n秀洲\n'.encode("gb18030")
    head = raw.index(b"\n") + 1
    assert fast(raw, head) == ('南湖,"a"\n'.encode(), 1, 2)
    assert fast(raw, 0) == (b"", 0, 0)


@pytest.mark.parametrize(
    "raw",
    [
        b"ok\x80\n",  # a lone 0x80: the euro sign in GBK, nothing in GB18030
        b"ok\xff\xa1\n",  # 0xFF never leads
        b"ok,\xc4",  # a lead byte cut off at the block's end
        b"ok\x81\x20\n",  # a lead byte before a byte that cannot trail
        "¥\n".encode("gb18030"),  # a four-byte GB18030 sequence: left to iconv
    ],
)
def test_it_answers_none_rather_than_guess(raw: bytes) -> None:
    assert fast(raw) is None


@pytest.mark.parametrize("short", [1, 100])
def test_it_refuses_a_text_buffer_too_small(short: int) -> None:
    assert FAST is not None
    raw = "南湖,秀洲\n".encode("gb18030") * 10
    with pytest.raises(ValueError, match=r"smaller than 1\.5 times"):
        FAST(raw, len(raw), bytearray(gbfast.room(len(raw)) - short))
    with pytest.raises(ValueError, match="outside the data"):
        FAST(raw, len(raw) + 1, bytearray(gbfast.room(len(raw) + 1)))


def test_blocks_it_leaves_still_transcode_exactly(tmp_path: Path, monkeypatch) -> None:
    # Four-byte characters in a few blocks only: those go the careful way, the rest the fast
    # one, and the file comes out as Python's codec would write it.
    monkeypatch.setattr(decode, "BLOCK_BYTES", 1 << 12)
    lines = [f'{i},嘉兴{"¥" if i % 250 == 0 else "南湖"},"x"\n' for i in range(5000)]
    source = tmp_path / "g.csv"
    source.write_bytes("".join(lines).encode("gb18030"))
    out = tmp_path / "u.csv"
    result = transcode_to_utf8(source, "gb18030", out, workers=2)
    assert result.rejects == []
    assert out.read_bytes() == "".join(lines).encode("utf-8")


def test_the_gb_family_only() -> None:
    assert gbfast.decoder("utf-16") is None and gbfast.decoder("big5") is None
    assert gbfast.decoder("gbk") is not None
