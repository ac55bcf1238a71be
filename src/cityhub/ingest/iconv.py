"""The C library's iconv, for decoding big blocks to UTF-8 without holding the GIL.

CPython's codecs hold the GIL while they work, so several threads cannot decode at once;
iconv called through ctypes releases it, which lets every core decode a GBK file. It is also a
little faster (GB18030 → UTF-8 in one step). Where the C library has no iconv for an encoding,
`decoder` answers None and callers use Python's codec.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
from collections.abc import Callable
from functools import cache

_SIZE_MAX = ctypes.c_size_t(-1).value
_P = ctypes.POINTER


class DecodeError(ValueError):
    def __init__(self, position: int, reason: str) -> None:
        super().__init__(f"{reason} at byte {position}")
        self.position = position


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    libc = ctypes.CDLL(name, use_errno=True)
    if not hasattr(libc, "iconv_open"):
        return None
    libc.iconv_open.restype = ctypes.c_void_p
    libc.iconv_open.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.iconv.restype = ctypes.c_size_t
    libc.iconv.argtypes = [
        ctypes.c_void_p,
        _P(ctypes.c_void_p),
        _P(ctypes.c_size_t),
        _P(ctypes.c_void_p),
        _P(ctypes.c_size_t),
    ]
    libc.iconv_close.argtypes = [ctypes.c_void_p]
    return libc


def decoder(encoding: str) -> Callable[[bytes, int], bytearray] | None:
    """A function turning the first `length` bytes of `data` from `encoding` into UTF-8
    (raising DecodeError on a bad sequence), or None when iconv cannot do this encoding here."""
    libc = _libc()
    if libc is None:
        return None
    source = encoding.upper().encode()
    probe = libc.iconv_open(b"UTF-8", source)
    if probe in (None, _SIZE_MAX):
        return None
    libc.iconv_close(probe)

    def decode(data: bytes, length: int) -> bytearray:
        cd = libc.iconv_open(b"UTF-8", source)  # one per call: a descriptor keeps state
        try:
            # GB-family to UTF-8 grows 1.5x at most (2 bytes → 3); other encodings may grow more,
            # which iconv reports as E2BIG: then the block is retried with room for 4x.
            return _convert(libc, cd, data, length, length * 3 // 2 + 16)
        except _TooSmall:
            return _convert(libc, cd, data, length, length * 4 + 16)
        finally:
            libc.iconv_close(cd)

    return decode


class _TooSmall(Exception):
    pass


def _convert(libc: ctypes.CDLL, cd: int, data: bytes, length: int, room: int) -> bytearray:
    libc.iconv(cd, None, None, None, None)  # back to the initial state
    out = bytearray(room)
    window = (ctypes.c_char * len(out)).from_buffer(out)
    in_ptr = ctypes.c_void_p(ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value)
    in_left = ctypes.c_size_t(length)
    out_ptr = ctypes.c_void_p(ctypes.addressof(window))
    out_left = ctypes.c_size_t(len(out))
    done = libc.iconv(
        cd,
        ctypes.byref(in_ptr),
        ctypes.byref(in_left),
        ctypes.byref(out_ptr),
        ctypes.byref(out_left),
    )
    failure = ctypes.get_errno()
    del window  # release the buffer export before slicing
    if done == _SIZE_MAX:
        if failure == errno.E2BIG:
            raise _TooSmall
        where = length - in_left.value
        raise DecodeError(
            where, "incomplete sequence" if failure == errno.EINVAL else "invalid sequence"
        )
    del out[len(out) - out_left.value :]  # shrinks in place: no copy
    return out
