"""GeoJSON files: features as rows, geometry kept as WKT text (or ISO WKB) beside the properties."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import pyarrow as pa

from cityhub.errors import SourceError
from cityhub.ingest.jsonfiles import load_document, records_table, value_kind, value_text
from cityhub.ingest.source import Reject, SourceTable

WKB_CODES = {
    "Point": 1,
    "LineString": 2,
    "Polygon": 3,
    "MultiPoint": 4,
    "MultiLineString": 5,
    "MultiPolygon": 6,
    "GeometryCollection": 7,
}
DEPTH = {
    "Point": 0,
    "LineString": 1,
    "MultiPoint": 1,
    "Polygon": 2,
    "MultiLineString": 2,
    "MultiPolygon": 3,
}  # nesting of positions in each geometry's coordinates
PART = {
    "LineString": "Point",
    "MultiPoint": "Point",
    "Polygon": "LineString",
    "MultiLineString": "LineString",
    "MultiPolygon": "Polygon",
}


class BadGeometry(ValueError):
    """A geometry that is not valid GeoJSON."""


def _checked(kind: str, coords: Any, depth: int, dims: set[int]) -> Any:
    """Coordinates of `kind`, checked for nesting, numbers, dimensions, line and ring sizes."""
    if depth == 0:
        if not (
            isinstance(coords, list)
            and len(coords) in (2, 3)
            and all(
                isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
                for x in coords
            )
        ):
            raise BadGeometry(f"{kind}: a position must be 2 or 3 numbers, found {coords!r:.60}")
        dims.add(len(coords))
        return coords
    if not isinstance(coords, list):
        raise BadGeometry(f"{kind}: expected a list of coordinates, found {coords!r:.60}")
    parts = [_checked(kind, c, depth - 1, dims) for c in coords]
    line = kind in ("LineString", "MultiLineString") and depth == 1
    ring = kind in ("Polygon", "MultiPolygon") and depth == 1
    if line and len(parts) < 2:
        raise BadGeometry(f"{kind}: a line needs at least 2 positions, found {len(parts)}")
    if ring and (len(parts) < 4 or parts[0] != parts[-1]):
        raise BadGeometry(
            f"{kind}: a ring needs at least 4 positions, the last equal to the "
            f"first; found {len(parts)}" + ("" if len(parts) < 4 else ", not closed")
        )
    return parts


def _parse_geometry(g: Any, dims: set[int]) -> tuple[str, Any]:
    if not isinstance(g, dict) or g.get("type") not in WKB_CODES:
        found = g.get("type") if isinstance(g, dict) else type(g).__name__
        raise BadGeometry(f"unknown geometry type {found!r}")
    kind = g["type"]
    if kind == "GeometryCollection":
        members = g.get("geometries")
        if not isinstance(members, list):
            raise BadGeometry("GeometryCollection without a 'geometries' list")
        return kind, [_parse_geometry(m, dims) for m in members]
    if "coordinates" not in g:
        raise BadGeometry(f"{kind} without coordinates")
    coords = g["coordinates"]
    if coords == []:  # an empty geometry
        return kind, coords
    return kind, _checked(kind, coords, DEPTH[kind], dims)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 2**53 else repr(float(x))


def _wkt_body(kind: str, c: Any, z: bool) -> str:
    """The parenthesised coordinates: (1 2), (1 2, 3 4), ((…), (…)) … or EMPTY."""
    if not c:
        return "EMPTY"
    if kind == "GeometryCollection":
        return "(" + ", ".join(_wkt(k, m, z) for k, m in c) + ")"
    if kind == "Point":
        return "(" + " ".join(map(_num, c)) + ")"
    parts = [_wkt_body(PART[kind], x, z) for x in c]
    if kind == "LineString":  # positions go bare: (1 2, 3 4), not ((1 2), (3 4))
        parts = [p[1:-1] for p in parts]
    return "(" + ", ".join(parts) + ")"


def _wkt(kind: str, coords: Any, z: bool) -> str:
    return f"{kind.upper()}{' Z' if z else ''} {_wkt_body(kind, coords, z)}"


def _wkb(kind: str, c: Any, z: bool) -> bytes:
    """ISO WKB, little-endian: Z geometries add 1000 to the type code."""
    out = struct.pack("<BI", 1, WKB_CODES[kind] + (1000 if z else 0))
    n = 3 if z else 2
    if kind == "Point":
        return out + struct.pack(f"<{n}d", *(c if c else [math.nan] * n))
    if kind == "GeometryCollection" or kind.startswith("Multi"):
        part = kind.removeprefix("Multi")
        items = c if kind == "GeometryCollection" else [(part, x) for x in c]
        return out + struct.pack("<I", len(items)) + b"".join(_wkb(k, x, z) for k, x in items)

    def points(ps: list[list[float]]) -> bytes:
        return struct.pack("<I", len(ps)) + b"".join(struct.pack(f"<{n}d", *p) for p in ps)

    if kind == "LineString":
        return out + points(c)
    return out + struct.pack("<I", len(c)) + b"".join(points(r) for r in c)


def encode_geometry(g: dict[str, Any], wkb: bool = False) -> str | bytes:
    """A GeoJSON geometry as ISO WKT text (or WKB bytes); BadGeometry says what is wrong."""
    dims: set[int] = set()
    kind, coords = _parse_geometry(g, dims)
    if len(dims) > 1:
        raise BadGeometry("mixes 2D and 3D positions")
    return (_wkb if wkb else _wkt)(kind, coords, dims == {3})


def read_geojson(path: Path, geometry: str = "wkt") -> SourceTable:
    """Features as rows: properties (flattened as in read_json), `id`, `geometry` (WKT text or
    WKB bytes) and, where geometries are points, `longitude`/`latitude`."""
    file = str(path)
    if geometry not in ("wkt", "wkb"):
        raise SourceError(file, "unknown geometry encoding", expected="wkt or wkb", found=geometry)
    doc = load_document(path)
    kind = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
    if kind == "FeatureCollection" and isinstance(doc.get("features"), list):
        features = doc["features"]
    elif kind == "Feature":
        features = [doc]
    else:
        raise SourceError(
            file,
            "not GeoJSON features",
            expected="a FeatureCollection or a Feature",
            found=repr(kind),
        )
    rejects: list[Reject] = []
    props, ids, shapes, points = [], [], [], []
    for i, feature in enumerate(features, start=1):
        try:
            if not isinstance(feature, dict) or feature.get("type") != "Feature":
                raise BadGeometry("not a GeoJSON Feature")
            g = feature.get("geometry")
            shape = None if g is None else encode_geometry(g, wkb=geometry == "wkb")
        except BadGeometry as exc:
            raw = json.dumps(
                feature.get("geometry") if isinstance(feature, dict) else feature,
                ensure_ascii=False,
            )[:200]
            rejects.append(
                Reject(
                    file=file,
                    column="geometry",
                    raw=raw,
                    reason=f"feature {i} (index {i - 1}): invalid geometry: {exc}",
                )
            )
            continue
        props.append(feature.get("properties") or {})
        ids.append(feature.get("id"))
        shapes.append(shape)
        points.append(
            g["coordinates"][:2]
            if g and g["type"] == "Point" and g["coordinates"]
            else [None, None]
        )
    extra: dict[str, pa.Array] = {}
    if any(x is not None for x in ids):
        id_type = pa.int64() if {value_kind(x) for x in ids} <= {"int", "null"} else pa.string()
        extra["id"] = pa.array(
            [x if id_type == pa.int64() else value_text(x) for x in ids], id_type
        )
    extra["geometry"] = pa.array(shapes, pa.string() if geometry == "wkt" else pa.binary())
    keys = {k for p in props for k in p}
    if any(p[0] is not None for p in points) and not keys & {"longitude", "latitude"}:
        extra["longitude"] = pa.array([p[0] for p in points], pa.float64())
        extra["latitude"] = pa.array([p[1] for p in points], pa.float64())
    return records_table(file, props, True, 65536, rejects, extra)
