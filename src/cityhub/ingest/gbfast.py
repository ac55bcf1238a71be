"""GB18030 (and so GBK) to UTF-8 at memory speed: a C loop over a table of every two-byte
character, with an eight-byte ASCII fast path, run without the GIL.

iconv decodes GB18030 at about a quarter of a gigabyte a second per core, which made a GBK file
cost half as much again as the same file in UTF-8. The table is built here from Python's own
codec (the reference the rest of the decoding follows), once per process. The C part is an
optional extension (`_gbfast`): where it could not be compiled, `decoder` answers None and iconv
does the work as before. It decodes ASCII and two-byte characters only and answers None at
anything else (a bad byte, a four-byte GB18030 sequence), so the caller decodes that block the
careful way.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from functools import cache
from types import ModuleType

_gbfast: ModuleType | None
try:
    from cityhub.ingest import _gbfast
except ImportError:  # built without a C compiler
    _gbfast = None

_GB = {"gb18030", "gbk", "gb2312"}
# The first `length` bytes of a block as UTF-8 into `out` (at least `room(length)` bytes): the
# text's length with its newline and double-quote counts, or None.
Decoder = Callable[[bytes | bytearray, int, bytearray], tuple[int, int, int] | None]


def room(length: int) -> int:
    """The bytes `out` must hold for a block of `length` bytes: two bytes become three at most."""
    return length + length // 2 + 1


@cache
def _table() -> bytes:
    """65536 uint32 in the machine's own byte order (as the C code reads them), by
    (lead << 8 | trail): the UTF-8 bytes, first one lowest, and their count in the top byte."""
    table = array("I", bytes(4 * 65536))
    if table.itemsize != 4:  # pragma: no cover - every platform cityhub runs on has 4
        raise RuntimeError("array('I') is not 32-bit here")
    for lead in range(0x81, 0xFF):
        for trail in range(0x40, 0xFF):
            if trail == 0x7F:
                continue
            try:
                utf8 = bytes((lead, trail)).decode("gb18030").encode("utf-8")
            except UnicodeDecodeError:
                continue
            if len(utf8) > 3:  # not a two-byte character of the BMP: left to the careful way
                continue
            table[lead << 8 | trail] = int.from_bytes(utf8, "little") | len(utf8) << 24
    return table.tobytes()


def decoder(encoding: str) -> Decoder | None:
    """For the GB family, a function writing the first `length` bytes of a block as UTF-8 into
    `out` (answering its length and the block's newline and quote counts), or None for a block
    it leaves to another decoder; None when the extension is missing or the encoding is
    another."""
    if _gbfast is None or encoding.lower().replace("-", "") not in _GB:
        return None
    table = _table()
    fast = _gbfast.decode_into

    def decode(data: bytes | bytearray, length: int, out: bytearray) -> tuple[int, int, int] | None:
        return fast(data, length, table, out)

    return decode
