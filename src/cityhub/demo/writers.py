"""Files as departments deliver them: CSV (UTF-8 or GBK), Parquet, NDJSON, GeoJSON and Excel.

Every writer takes chunks whose columns are exactly the feed's declared fields (anything else is
a bug in the builder and stops the run), streams them to disk, and leaves nothing that varies
from run to run: no timestamps in content, fixed dates inside xlsx archives, Parquet written
with the same options each time.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import openpyxl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from openpyxl.worksheet.cell_range import CellRange

from cityhub.demo import text, vocab
from cityhub.demo.spec import Excel, Feed

#: GeoJSON members a reader turns into fields of their own, besides the properties.
GEO_FIELDS = ("id", "geometry", "longitude", "latitude")
ROW_NUMBER = "序号"  # Excel: numbered per sheet by the writer
FIXED_ZIP_TIME = (2017, 10, 31, 0, 0, 0)
FIXED_STAMP = "2017-10-31T00:00:00Z"


def arrow(values: object) -> pa.Array:
    if isinstance(values, pa.Array):
        return values
    return pa.array(values)


def as_table(feed: Feed, columns: dict[str, object], optional: tuple[str, ...] = ()) -> pa.Table:
    """The chunk as a table in the declared order; refuses undeclared or missing columns."""
    declared = [c for c in feed.columns if c not in optional]
    extra = set(columns) - set(declared)
    missing = set(declared) - set(columns)
    if extra or missing:
        raise ValueError(
            f"{feed.meta.code}: builder columns differ from the declaration: "
            f"undeclared {sorted(extra)}, missing {sorted(missing)}"
        )
    return pa.table({c: arrow(columns[c]) for c in declared})


# -- CSV ------------------------------------------------------------------------------------------
def csv_bytes(table: pa.Table, header: bool, eol: str = "\n") -> bytes:
    buf = io.BytesIO()
    opts = pacsv.WriteOptions(
        include_header=header, quoting_style="none", quoting_header="none", eol=eol
    )
    pacsv.write_csv(table, buf, opts)
    return buf.getvalue()


class CsvOut:
    """A CSV file written chunk by chunk, UTF-8 (LF) or GBK (CRLF, as Windows tools save it)."""

    def __init__(self, path: Path, gbk: bool) -> None:
        self.file = path.open("wb")
        self.gbk = gbk
        self.eol = "\r\n" if gbk else "\n"
        self.header = True

    def write(self, table: pa.Table) -> None:
        self.raw(csv_bytes(table, self.header, self.eol))
        self.header = False

    def raw(self, data: bytes) -> None:
        # GBK is what departments' desktop tools save; every character we generate has a GBK
        # code, and encoding strictly proves it.
        self.file.write(data.decode("utf-8").encode("gbk") if self.gbk else data)

    def line(self, content: str) -> None:
        self.raw((content + self.eol).encode("utf-8"))

    def close(self) -> None:
        self.file.close()


# -- Parquet -------------------------------------------------------------------------------------
class ParquetOut:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        if self.writer is None:
            self.writer = pq.ParquetWriter(
                self.path, table.schema, compression="zstd", write_statistics=True
            )
        self.writer.write_table(table, row_group_size=len(table))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


# -- JSON ----------------------------------------------------------------------------------------
def json_value(values: pa.Array) -> pa.Array:
    """JSON text of each value: strings quoted and escaped, numbers and booleans bare, nulls."""
    t = values.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        escaped = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
        rendered = text.join('"', escaped, '"')
    elif pa.types.is_date(t) or pa.types.is_timestamp(t):
        rendered = text.join('"', values.cast(pa.string()), '"')
    else:
        rendered = values.cast(pa.string())
    return pc.fill_null(rendered, "null")


def _tree(columns: list[str]) -> list[tuple[str, object]]:
    """Dotted titles as nested members: a.b, a.c, d → [(a, [(b, 'a.b'), (c, 'a.c')]), (d, 'd')]."""
    tree: list[tuple[str, object]] = []
    for title in columns:
        node = tree
        parts = title.split(".")
        for part in parts[:-1]:
            child = next((v for k, v in node if k == part and isinstance(v, list)), None)
            if child is None:
                child = []
                node.append((part, child))
            node = child
        node.append((parts[-1], title))
    return tree


def json_objects(table: pa.Table, columns: list[str]) -> pa.Array:
    """One JSON object per row, nested by the dotted titles (as an API returns records)."""

    def render(node: list[tuple[str, object]]) -> pa.Array | str:
        parts: list[pa.Array | str] = []
        for i, (key, value) in enumerate(node):
            parts.append(("{" if i == 0 else ",") + f'"{key}":')
            parts.append(
                render(value)
                if isinstance(value, list)
                else json_value(table.column(str(value)).combine_chunks())
            )
        parts.append("}")
        return text.join(*parts)

    rendered = render(_tree(columns))
    assert isinstance(rendered, pa.Array)
    return rendered


class NdjsonOut:
    def __init__(self, path: Path) -> None:
        self.file = path.open("wb")

    def write(self, table: pa.Table) -> None:
        lines = text.join(json_objects(table, table.column_names), "\n")
        self.file.write(_text_bytes(lines))

    def line(self, content: str) -> None:
        self.file.write(content.encode() + b"\n")

    def close(self) -> None:
        self.file.close()


def _text_bytes(values: pa.Array) -> memoryview:
    """The concatenated bytes of a string array without nulls, straight from its buffers."""
    if len(values) == 0:
        return memoryview(b"")
    offsets = np.frombuffer(values.buffers()[1], np.int32)[
        values.offset : values.offset + len(values) + 1
    ]
    return memoryview(values.buffers()[2])[int(offsets[0]) : int(offsets[-1])]


# -- GeoJSON -------------------------------------------------------------------------------------
def point_geometry(lon: np.ndarray, lat: np.ndarray) -> pa.Array:
    return text.join(
        '{"type":"Point","coordinates":[', text.number(lon), ",", text.number(lat), "]}"
    )


def geojson_fields(properties: list[str], has_id: bool, points: bool) -> list[str]:
    """The fields the GeoJSON reader makes of such a file: the properties, `id` when features
    carry ids, `geometry`, and longitude/latitude for points when the properties lack them."""
    fields = [*properties, *(["id"] if has_id else []), "geometry"]
    if points and not {"longitude", "latitude"} & set(properties):
        fields += ["longitude", "latitude"]
    return fields


def write_geojson(path: Path, feed: Feed, tables: Iterable[pa.Table]) -> None:
    table = pa.concat_tables(list(tables))
    props = [c for c in table.column_names if c not in GEO_FIELDS]
    geometry = table.column("geometry").combine_chunks()
    points = bool(pc.any(pc.starts_with(geometry, '{"type":"Point"')).as_py())
    has_id = "id" in table.column_names
    if sorted(geojson_fields(props, has_id, points)) != sorted(feed.columns):
        raise ValueError(f"{feed.meta.code}: GeoJSON would read as other fields than declared")
    parts: list[pa.Array | str] = ['{"type":"Feature"']
    if has_id:
        parts += [',"id":', json_value(table.column("id").combine_chunks())]
    parts += [
        ',"geometry":',
        geometry,
        ',"properties":',
        json_objects(table.select(props), props),
        "}",
    ]
    features = text.join(*parts).to_pylist()
    body = ",\n".join(features)
    path.write_text(
        '{"type":"FeatureCollection","features":[\n' + body + "\n]}\n", encoding="utf-8"
    )


# -- Excel ---------------------------------------------------------------------------------------
def _sheet_values(table: pa.Table, columns: list[str]) -> list[list[object]]:
    """Rows as Python values (dates as dates): Excel tables are small by design."""
    cols = [table.column(c).to_pylist() if c in table.column_names else None for c in columns]
    n = table.num_rows
    return [
        [i + 1 if col is None else col[i] for col in cols]  # None: the 序号 column
        for i in range(n)
    ]


def write_xlsx(path: Path, feed: Feed, tables: Iterable[pa.Table]) -> None:
    layout = feed.excel or Excel(title=feed.meta.name, unit="", note="")
    table = pa.concat_tables(list(tables))
    columns = list(feed.columns)
    width = len(columns)
    groups = [c.split("_", 1)[0] if "_" in c else None for c in columns]
    two = any(groups)
    book = openpyxl.Workbook(write_only=True)
    book.properties.created = book.properties.modified = dt.datetime(2017, 10, 31)
    book.properties.creator = book.properties.lastModifiedBy = "cityhub demo"
    for name, part in _sheets(table, layout.split):
        ws = book.create_sheet(name)
        merges = [f"A1:{_col(width)}1", f"A2:{_col(width)}2"]
        ws.append([layout.title.format(sheet=name)] + [None] * (width - 1))
        ws.append([layout.unit.format(sheet=name) or None] + [None] * (width - 1))
        first: list[str | None] = [g or c for g, c in zip(groups, columns, strict=True)]
        upper = [
            u if i == 0 or u != first[i - 1] or not groups[i] else None for i, u in enumerate(first)
        ]
        ws.append(upper)
        if two:
            ws.append(
                [c.split("_", 1)[1] if g else None for g, c in zip(groups, columns, strict=True)]
            )
            merges += _header_merges(groups, columns)
        rows = _sheet_values(part, columns)
        for row in rows:
            ws.append(row)
        totals: list[object] = ["合计"] + [None] * (width - 1)
        for c in layout.totals:
            totals[columns.index(c)] = pc.sum(part.column(c)).as_py()
        if not layout.totals:
            totals[1] = f"共{len(rows)}条"
        ws.append(totals)
        ws.append([])
        ws.append([layout.note or None])
        ws.append(["制表人：王晓燕    审核人：李建国    填报日期：2017年10月31日"])
        for ref in merges:
            ws.merged_cells.add(CellRange(ref))
    buf = io.BytesIO()
    book.save(buf)
    path.write_bytes(_fixed_zip(buf.getvalue()))


def _sheets(table: pa.Table, split: str | None) -> Iterator[tuple[str, pa.Table]]:
    if split is None:
        yield "全市", table
        return
    values = table.column(split).to_pylist()
    names = [c for c in vocab.COUNTY_NAMES if c in set(values)]
    names += sorted({v for v in values if v not in names})
    for name in names:
        yield name, table.filter(pc.equal(table.column(split), name))


def _header_merges(groups: list[str | None], columns: list[str]) -> list[str]:
    merges = []
    i = 0
    while i < len(columns):
        j = i
        while groups[i] and j + 1 < len(columns) and groups[j + 1] == groups[i]:
            j += 1
        if groups[i]:
            if j > i:
                merges.append(f"{_col(i + 1)}3:{_col(j + 1)}3")
        else:
            merges.append(f"{_col(i + 1)}3:{_col(i + 1)}4")
        i = j + 1
    return merges


def _col(k: int) -> str:
    """1 → A, 27 → AA."""
    name = ""
    while k:
        k, r = divmod(k - 1, 26)
        name = chr(65 + r) + name
    return name


def _fixed_zip(data: bytes) -> bytes:
    """The workbook with every archive member dated alike and the save time fixed, so the same
    content always gives the same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", FIXED_STAMP.encode(), body)
            member = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = info.external_attr
            dst.writestr(member, body)
    return out.getvalue()
