"""Which reader a file goes to, from its name (or a forced format)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cityhub.errors import SourceError
from cityhub.ingest.source import SourceTable

FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".tab": "csv",
    ".txt": "csv",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".xls": "excel",
    ".json": "json",
    ".ndjson": "json",
    ".jsonl": "json",
    ".geojson": "geojson",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def detect_format(path: Path, forced: str | None = None) -> str:
    if forced:
        if forced not in set(FORMATS.values()):
            raise SourceError(
                str(path),
                f"unknown format {forced!r}",
                expected=" / ".join(sorted(set(FORMATS.values()))),
            )
        return forced
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SourceError(
            str(path),
            "cannot tell the file format from its name",
            expected="one of " + ", ".join(sorted(FORMATS)) + " (or --format)",
            found=path.suffix or "no extension",
        )
    return fmt


@dataclass(frozen=True)
class ReadOptions:
    """How to read the formats that need telling."""

    sheet: str | None = None  # Excel: one sheet instead of all
    nested: str = "flatten"  # JSON objects: "flatten" to parent.child columns, or "json" text
    geometry: str = "wkt"  # GeoJSON geometry: "wkt" text or "wkb" bytes


def open_tables(path: Path, fmt: str, opts: ReadOptions, batch_rows: int) -> list[SourceTable]:
    """Readers other than CSV (which the engine scans itself) give Arrow streams."""
    if not path.exists():
        raise SourceError(str(path), "file not found")
    if fmt == "excel":
        from cityhub.ingest.excel import read_excel

        return read_excel(path, sheet=opts.sheet, batch_rows=batch_rows)
    if fmt == "json":
        from cityhub.ingest.jsonfiles import read_json

        return [read_json(path, batch_rows=batch_rows, nested=opts.nested)]
    if fmt == "geojson":
        from cityhub.ingest.geojson import read_geojson

        return [read_geojson(path, geometry=opts.geometry)]
    if fmt == "parquet":
        from cityhub.ingest.parquet import read_parquet

        return [read_parquet(path, batch_rows=batch_rows)]
    raise SourceError(str(path), f"no reader for format {fmt!r}")
