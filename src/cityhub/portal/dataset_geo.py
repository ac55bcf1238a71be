"""Points for the dataset page's map: from longitude/latitude values, or one representative
point per geometry (the lake keeps GeoJSON geometries as WKT text or ISO WKB bytes).

A representative point is the centre of a geometry's bounding box: good enough to place a road
or a district on a dot map, which is all the page draws (no tile server, no shapes), and unlike
the mean of its positions not pulled towards a ring's repeated closing vertex.
"""

from __future__ import annotations

import math
import re
import struct
from typing import Any

_WKT_NUMBER_GROUPS = re.compile(r"[(),]")
# ISO WKB adds 1000 (Z), 2000 (M) or 3000 (ZM) to the type code; EWKB sets high bits instead.
_EWKB_Z, _EWKB_M, _EWKB_SRID = 0x80000000, 0x40000000, 0x20000000


def coordinate(value: Any) -> float | None:
    """A longitude or latitude as a finite float, or None (text columns hold junk too)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def point_of(value: Any) -> tuple[float, float] | None:
    """The representative (lon, lat) of a WKT string or WKB bytes; None when it has none."""
    try:
        if isinstance(value, (bytes, bytearray, memoryview)):
            positions = _wkb(bytes(value))
        elif isinstance(value, str):
            positions = _wkt(value)
        else:
            return None
    except (struct.error, ValueError, IndexError):
        return None
    found = [(x, y) for x, y in positions if math.isfinite(x) and math.isfinite(y)]
    if not found:
        return None
    xs, ys = [x for x, _ in found], [y for _, y in found]
    return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2


def _wkt(text: str) -> list[tuple[float, float]]:
    """Positions of a WKT geometry: every run of numbers between brackets and commas."""
    start = text.find("(")
    if start < 0:  # "POINT EMPTY" and the like
        return []
    out = []
    for part in _WKT_NUMBER_GROUPS.split(text[start:]):
        numbers = part.split()
        if len(numbers) >= 2:
            out.append((float(numbers[0]), float(numbers[1])))
    return out


def _wkb(data: bytes) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    _wkb_read(data, 0, out)
    return out


def _wkb_read(data: bytes, at: int, out: list[tuple[float, float]]) -> int:
    """Read one geometry starting at `at`, appending its positions; returns where it ends."""
    order = "<" if data[at] == 1 else ">"
    (code,) = struct.unpack_from(order + "I", data, at + 1)
    at += 5
    dims = 2
    if code & (_EWKB_Z | _EWKB_M | _EWKB_SRID):
        dims += bool(code & _EWKB_Z) + bool(code & _EWKB_M)
        if code & _EWKB_SRID:
            at += 4
        code &= 0x0FFFFFFF
    else:
        dims += {1: 1, 2: 1, 3: 2}.get(code // 1000, 0)
        code %= 1000
    step = 8 * dims

    def positions(at: int) -> int:
        (n,) = struct.unpack_from(order + "I", data, at)
        at += 4
        for _ in range(n):
            x, y = struct.unpack_from(order + "2d", data, at)
            out.append((x, y))
            at += step
        return at

    if code == 1:
        x, y = struct.unpack_from(order + "2d", data, at)
        out.append((x, y))
        return at + step
    if code == 2:
        return positions(at)
    if code == 3:
        (rings,) = struct.unpack_from(order + "I", data, at)
        at += 4
        for _ in range(rings):
            at = positions(at)
        return at
    if code in (4, 5, 6, 7):
        (parts,) = struct.unpack_from(order + "I", data, at)
        at += 4
        for _ in range(parts):
            at = _wkb_read(data, at, out)
        return at
    raise ValueError(f"unsupported WKB geometry type {code}")
