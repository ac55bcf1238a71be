"""Downloads of a dataset or of a filtered query: CSV, JSON, NDJSON, Parquet and XLSX, streamed.

Rows leave the engine as Arrow record batches and the writers turn each batch into bytes as it
comes, so a 20-million-row table exports in the memory of a few batches, never of the result.
The writers work per column with Arrow compute (no per-row Python), except XLSX: openpyxl takes
rows one by one, writes the sheet to a temporary file, and the zip is sent once it is complete.

XLSX holds at most 1,048,576 rows per sheet. An export that would need more is refused before it
starts (`InvalidInput`, pointing to CSV or Parquet) rather than split across sheets, which Excel
users could not filter or sort as one table.

Column names are the fields' machine names, as `/rows` answers; rows come in `/rows`' order.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pydantic import BaseModel, Field, field_validator
from sqlglot import exp

from cityhub.access import TableView
from cityhub.errors import InvalidInput
from cityhub.query.build import count_sql, select_sql
from cityhub.query.run import Batches, Engine
from cityhub.query.spec import Filter

FormatName = Literal["csv", "json", "ndjson", "parquet", "xlsx"]


@dataclass(frozen=True)
class Format:
    name: FormatName
    media_type: str
    suffix: str


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("csv", "text/csv; charset=utf-8", "csv"),
        Format("json", "application/json", "json"),
        Format("ndjson", "application/x-ndjson", "ndjson"),
        Format("parquet", "application/vnd.apache.parquet", "parquet"),
        Format("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    )
}
assert set(FORMATS) == set(get_args(FormatName))

XLSX_MAX_ROWS = 1_048_576 - 1  # Excel's sheet limit, less the header row
ROWS_PER_BATCH = 16_384
PARQUET_GROUP_ROWS = 262_144  # rows per row group: larger groups read faster, smaller cost less
BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20


class ExportQuery(BaseModel):
    """What to download: the body of `POST .../query` without its paging. `limit` is optional
    (none: every row)."""

    select: list[str] | None = None  # default: every field the caller may read
    filters: list[Filter] = Field(default_factory=list)
    sort: list[str] = Field(default_factory=list)  # "-field" sorts descending
    limit: int | None = Field(None, ge=1)
    version: int | None = Field(None, ge=0)
    cursor: str | None = None  # only to refuse it: a download is not paged

    @field_validator("cursor")
    @classmethod
    def _no_cursor(cls, value: str | None) -> None:
        if value is not None:
            raise ValueError("a download is not paged: drop `cursor` (and use `limit` if needed)")
        return None


def export_sql(view: TableView, q: ExportQuery) -> exp.Select:
    """The download's SELECT: unknown fields and bad filters fail here, before any byte is sent."""
    return select_sql(view, q.select, q.filters, q.sort, q.limit)


# -- text forms of columns (vectorized) ------------------------------------------------------------


def _iso(arr: pa.Array, sep: str) -> pa.Array:
    """Dates, times and timestamps as ISO 8601 text: no fraction when it is zero (as Python's
    isoformat), offsets as +08:00."""
    text = pc.replace_substring_regex(arr.cast(pa.string()), r"\.0+([+-][0-9]{4}|Z)?$", r"\1")
    if pa.types.is_timestamp(arr.type):
        if arr.type.tz is not None:
            text = pc.replace_substring_regex(text, r"([+-][0-9]{2})([0-9]{2})$", r"\1:\2")
        if sep != " ":
            text = pc.replace_substring(text, " ", sep, max_replacements=1)
    return text


def _is_temporal(t: pa.DataType) -> bool:
    return pa.types.is_timestamp(t) or pa.types.is_time(t)


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _json_fallback(arr: pa.Array) -> pa.Array:
    """Nested and other rare types, value by value (lake tables hold flat columns)."""
    return pa.array(
        [
            None if v is None else json.dumps(v, ensure_ascii=False, default=_default)
            for v in arr.to_pylist()
        ],
        pa.string(),
    )


_ESCAPES = {chr(c): f"\\u{c:04x}" for c in range(32)} | {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _json_string(arr: pa.Array) -> pa.Array:
    text = pc.replace_substring(arr.cast(pa.string()), "\\", "\\\\")
    text = pc.replace_substring(text, '"', '\\"')
    if pc.any(pc.match_substring_regex(text, r"[\x00-\x1f]")).as_py():  # rare: one pass each
        for char, escaped in _ESCAPES.items():
            text = pc.replace_substring(text, char, escaped)
    return pc.binary_join_element_wise('"', text, '"', "")


def _json_values(arr: pa.Array) -> pa.Array:
    """Each value as JSON text (nulls: null). Chinese stays as it is, not \\u-escaped."""
    t = arr.type
    if pa.types.is_dictionary(t):
        return _json_values(arr.dictionary_decode())
    if pa.types.is_null(t):
        text = pa.nulls(len(arr), pa.string())
    elif pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_decimal(t):
        text = arr.cast(pa.string())
    elif pa.types.is_floating(t):  # NaN and infinities are not JSON
        text = pc.if_else(pc.is_finite(arr), arr, pa.scalar(None, t)).cast(pa.string())
    elif pa.types.is_date(t) or _is_temporal(t):
        text = pc.binary_join_element_wise('"', _iso(arr, "T"), '"', "")
    elif _is_text(t):
        text = _json_string(arr)
    else:
        text = _json_fallback(arr)
    return pc.fill_null(text, "null")


def _joined(rows: pa.Array) -> bytes:
    """A string array's values end to end: its data buffer, without a copy per value."""
    if len(rows) == 0:
        return b""
    offsets = np.frombuffer(rows.buffers()[1], np.int32, len(rows) + 1, rows.offset * 4)
    data = rows.buffers()[2]
    return b"" if data is None else data[int(offsets[0]) : int(offsets[-1])].to_pybytes()


def _json_rows(names: list[str], batch: pa.RecordBatch, before: str, after: str) -> bytes:
    """The batch as JSON objects, each between `before` and `after`."""
    if not names:
        return ((before + "{}" + after) * batch.num_rows).encode()
    parts: list[Any] = []
    for i, (name, column) in enumerate(zip(names, batch.columns, strict=True)):
        key = json.dumps(name, ensure_ascii=False)
        parts += [f"{before}{{{key}:" if i == 0 else f",{key}:", _json_values(column)]
    parts.append("}" + after)
    return _joined(pc.binary_join_element_wise(*parts, ""))


# -- writers: (schema, batches) -> bytes chunks ----------------------------------------------------


def ndjson_chunks(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    """One JSON object per line."""
    for batch in batches:
        if batch.num_rows:
            yield _json_rows(schema.names, batch, "", "\n")


def json_chunks(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    """One array of objects, an object per line."""
    yield b"["
    first = True
    for batch in batches:
        if batch.num_rows:
            chunk = _json_rows(schema.names, batch, ",\n", "")
            yield chunk[1:] if first else chunk  # no comma before the first object
            first = False
    yield b"\n]\n"


class _Sink(io.RawIOBase):
    """A write-only file that keeps what was written until `take()`: lets pyarrow's file writers
    hand their output over piece by piece."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._pos += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._pos

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def _csv_column(arr: pa.Array) -> pa.Array:
    t = arr.type
    if pa.types.is_dictionary(t):
        return _csv_column(arr.dictionary_decode())
    if _is_temporal(t):  # "2017-10-01 08:30:00", which Excel reads as a date and time
        return _iso(arr, " ")
    if pa.types.is_nested(t):
        return _json_fallback(arr)
    return arr


def csv_chunks(
    schema: pa.Schema, batches: Iterable[pa.RecordBatch], *, bom: bool = False
) -> Iterator[bytes]:
    """UTF-8 CSV with a header line; `bom` prefixes the byte-order mark Excel needs to read
    UTF-8 (else it decodes Chinese as the local code page). Null is an empty cell, an empty
    string is "" (strings are quoted)."""
    sink = _Sink()
    empty = [_csv_column(pa.array([], f.type)) for f in schema]
    out_schema = pa.schema([pa.field(f.name, a.type) for f, a in zip(schema, empty, strict=True)])
    writer = pacsv.CSVWriter(sink, out_schema)
    yield (BOM if bom else b"") + sink.take()
    for batch in batches:
        columns = [_csv_column(c) for c in batch.columns]
        writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=out_schema))
        yield sink.take()
    writer.close()
    if tail := sink.take():
        yield tail


def parquet_chunks(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    """Parquet (zstd) with the columns' own types; bytes leave after each row group."""
    sink = _Sink()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")
    pending: list[pa.RecordBatch] = []
    rows = 0

    def group() -> bytes:
        nonlocal rows
        writer.write_table(pa.Table.from_batches(pending, schema=schema))
        pending.clear()
        rows = 0
        return sink.take()

    for batch in batches:
        pending.append(batch)
        rows += batch.num_rows
        if rows >= PARQUET_GROUP_ROWS:
            yield group()
    if pending:
        yield group()
    writer.close()
    yield sink.take()


_ILLEGAL_XML = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"  # characters an XLSX cell cannot hold
_EXCEL_TEXT_MAX = 32_767


def _xlsx_column(arr: pa.Array) -> list[Any]:
    t = arr.type
    if pa.types.is_dictionary(t):
        return _xlsx_column(arr.dictionary_decode())
    if _is_text(t):
        if pc.any(pc.match_substring_regex(arr, _ILLEGAL_XML)).as_py():
            arr = pc.replace_substring_regex(arr, _ILLEGAL_XML, "")
        arr = pc.utf8_slice_codeunits(arr, 0, _EXCEL_TEXT_MAX)
    elif pa.types.is_timestamp(t) and t.tz is not None:  # Excel has no time zones
        arr = arr.cast(pa.timestamp(t.unit))
    elif pa.types.is_floating(t):
        arr = pc.if_else(pc.is_finite(arr), arr, pa.scalar(None, t))
    elif pa.types.is_nested(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t):
        arr = _json_fallback(arr)
    return arr.to_pylist()


def xlsx_chunks(
    schema: pa.Schema, batches: Iterable[pa.RecordBatch], *, sheet: str = "data"
) -> Iterator[bytes]:
    """One sheet, header first. Refuses past Excel's row limit (see the module's docstring)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    ws = book.create_sheet(_sheet_title(sheet))
    saved = False
    try:
        ws.append(schema.names)
        rows = 0
        for batch in batches:
            rows += batch.num_rows
            if rows > XLSX_MAX_ROWS:
                raise InvalidInput(_too_many_for_xlsx(rows))
            for row in zip(*(_xlsx_column(c) for c in batch.columns), strict=True):
                ws.append(row)
        # openpyxl writes the whole zip in one call: spool it to disk, then send it in pieces
        with tempfile.TemporaryFile() as file:
            book.save(file)
            saved = True
            file.seek(0)
            while chunk := file.read(_CHUNK):
                yield chunk
    finally:
        if not saved:  # openpyxl deletes its sheet's temporary file on save only
            _drop_sheet_file(ws)


def _drop_sheet_file(ws: Any) -> None:
    rows, writer = getattr(ws, "_rows", None), getattr(ws, "_writer", None)
    with contextlib.suppress(Exception):
        if rows is not None:  # ends the sheet's XML while its file is still open
            rows.close()
        if writer is not None:
            writer.close()
            writer.cleanup()


def _sheet_title(name: str) -> str:
    title = re.sub(r"[\[\]:*?/\\]", " ", name).strip().strip("'")[:31]
    return title or "data"


def _too_many_for_xlsx(rows: int) -> str:
    return (
        f"xlsx: an Excel sheet holds at most {XLSX_MAX_ROWS:,} rows and this export has "
        f"{rows:,}; download it as CSV or Parquet, or narrow it with filters or limit"
    )


# -- one export, from the view to the chunks -------------------------------------------------------


@dataclass
class Export:
    """A started export: its row count (known before any byte), file name and chunks. `close()`
    stops it and frees the engine's cursor; it is safe to call at any time, more than once."""

    format: Format
    rows: int
    filename: str
    chunks: Iterator[bytes]
    batches: Batches

    def close(self) -> None:
        close = getattr(self.chunks, "close", None)
        try:
            if close is not None:
                close()
        finally:
            self.batches.close()


def start(
    engine: Engine, view: TableView, q: ExportQuery, fmt: str, *, bom: bool = False
) -> Export:
    """Check and start an export; every mistake (format, field, filter, xlsx size) is raised
    here, before anything is sent."""
    form = FORMATS.get(fmt)
    if form is None:
        raise InvalidInput(f"export format {fmt!r}: use one of {', '.join(FORMATS)}")
    select = export_sql(view, q)
    counted = engine.table(count_sql(view, q.filters).sql(dialect="duckdb")).column(0)[0].as_py()
    rows = int(counted) if q.limit is None else min(int(counted), q.limit)
    if form.name == "xlsx" and rows > XLSX_MAX_ROWS:
        raise InvalidInput(_too_many_for_xlsx(rows))
    batches = engine.batches(select.sql(dialect="duckdb"), ROWS_PER_BATCH)
    writers: dict[str, Callable[[pa.Schema, Iterable[pa.RecordBatch]], Iterator[bytes]]] = {
        "csv": lambda s, b: csv_chunks(s, b, bom=bom),
        "json": json_chunks,
        "ndjson": ndjson_chunks,
        "parquet": parquet_chunks,
        "xlsx": lambda s, b: xlsx_chunks(s, b, sheet=view.name),
    }
    chunks = writers[form.name](batches.schema, batches)
    return Export(form, rows, f"{view.code}.{form.suffix}", chunks, batches)
