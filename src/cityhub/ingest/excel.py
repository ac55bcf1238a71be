"""Excel workbooks (.xlsx, .xlsm, .xls) as departments really make them, read with python-calamine.

A department's sheet is rarely a clean table: title rows sit above the header, header cells are
merged into two levels, a totals row (合计) closes the table and notes (注：…, 制表人：…) follow it.
We find the header, flatten it to one title per column, leave titles, totals and notes out with a
note each, and hand every data cell on as canonical text: typing happens later in the pipeline.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
from python_calamine import CalamineSheet, CalamineWorkbook, SheetTypeEnum

from cityhub.errors import SourceError
from cityhub.ingest.source import PLACE_COLUMN, Reject, SourceTable, unique_titles

LOOKAHEAD = 40  # rows scanned for the header; department titles never run longer
DATA_PEEK = 10  # data rows looked at to judge a header candidate

# "合计", "合  计", "全市合计", "总计：" … as the first filled cell of a row.
TOTALS_RE = re.compile(r"^(?:全[市区县省]|本[页月年]|总)?(?:合计|总计|小计|共计)[:：]?$")
# Note lines: "注：…", "备注：…", "注1.", "数据来源：…", "制表人：张三", "单位负责人：…",
# "填报日期：…".
NOTE_RE = re.compile(
    r"^(?:注|备注|说明|附注|资料来源|数据来源|来源)\s*\d*\s*[:：.、]"
    r"|^[^:：]{0,6}?(?:制表|填表|填报|报出|审核|负责|联系|经办|统计)(?:人|日期|时间)"
)
# "key：value" cells such as "填报单位：市经信局" or "单位：万元" describe the table, they are
# not column titles (a title like "产值（单位：万元）" has a bracket before its colon: no match).
META_RE = re.compile(r"^[^:：（(]{1,12}[:：]")
# Cells that name the whole table or attachment ("附件1", "2023年企业统计表", "…名录") mark a
# title row even when split over several cells.
TITLE_RE = re.compile(r"^附件\s*\d*$|(?:表|名录|名单|清单|台账)$")

Row = list[Any]


def read_excel(path: Path, sheet: str | None = None, batch_rows: int = 65536) -> list[SourceTable]:
    """Every non-empty worksheet (or only `sheet`) as a table of text columns."""
    file = str(path)
    try:
        book = CalamineWorkbook.from_path(file)
        names = [m.name for m in book.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
    except Exception as exc:  # calamine raises its own error types for zip/xml/cfb problems
        raise SourceError(file, "cannot open as an Excel workbook", found=str(exc)) from exc
    with book:
        if sheet is not None:
            if sheet not in names:
                raise SourceError(
                    file,
                    f"no sheet named {sheet!r}",
                    found=sheet,
                    expected="one of " + ", ".join(repr(n) for n in names),
                )
            names = [sheet]
        tables: list[SourceTable] = []
        empty: list[str] = []
        for name in names:
            loaded = _load(book, file, name)
            # A lone sheet stays loaded for its rows; of several, each is loaded again when read,
            # so that only one sheet at a time is held in memory.
            table = _open_sheet(path, loaded, loaded if len(names) == 1 else None, batch_rows)
            if table is None:
                empty.append(name)
            else:
                tables.append(table)
    if not tables:
        raise SourceError(
            file,
            "no table found",
            expected="a sheet with a header and rows",
            found="only empty sheets: " + ", ".join(repr(n) for n in empty),
        )
    tables[0].notes[:0] = [f"{file}: sheet {n!r} is empty; skipped" for n in empty]
    return tables


def _load(book: CalamineWorkbook, file: str, name: str) -> CalamineSheet:
    try:
        return book.get_sheet_by_name(name)
    except Exception as exc:
        raise SourceError(
            file, "cannot read sheet", place=f"sheet {name!r}", found=str(exc)
        ) from exc


def cell_text(value: Any) -> str | None:
    """One cell as canonical text: 1.0 → "1", dates ISO, bools true/false, blanks → None."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Excel stores every number as a double; integral ones within 2**53 are integers to people.
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value) if math.isfinite(value) else None
    if isinstance(value, dt.datetime):  # before date: datetime is a date
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        return text + f".{value.microsecond:06d}".rstrip("0") if value.microsecond else text
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, dt.timedelta):  # durations ([h]:mm:ss cells)
        seconds = int(value.total_seconds())
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return str(value) if value is not None else None


def _filled(row: Row) -> list[int]:
    """Indexes of the non-blank cells."""
    return [
        i for i, v in enumerate(row) if v is not None and not (isinstance(v, str) and not v.strip())
    ]


def _title(value: Any) -> str:
    """Header text without surrounding blanks or inner line breaks ("企业\\n名称" → "企业名称")."""
    text = cell_text(value) or ""
    return "".join(part.strip() for part in text.splitlines())


class _Merges:
    """Merged ranges of one sheet, in Excel row numbers and the sheet's column indexes."""

    def __init__(self, sheet: CalamineSheet, col0: int) -> None:
        self.ranges = [
            (r0 + 1, c0 - col0, r1 + 1, c1 - col0)
            for (r0, c0), (r1, c1) in (sheet.merged_cell_ranges or [])
        ]

    def anchor(self, row: int, col: int) -> tuple[int, int] | None:
        """The top-left cell of the merge covering (row, col), unless it is that cell itself."""
        for r0, c0, r1, c1 in self.ranges:
            if r0 <= row <= r1 and c0 <= col <= c1 and (row, col) != (r0, c0):
                return r0, c0
        return None

    def covered(self, row: int, width: int) -> set[int]:
        return {c for c in range(width) if self.anchor(row, c)}

    def below(self, row: int) -> dict[tuple[int, int], tuple[int, int]]:
        """Each cell covered by a merge lying under `row`, mapped to the merge's first cell."""
        return {
            (r, c): (r0, c0)
            for r0, c0, r1, c1 in self.ranges
            if r0 > row
            for r in range(r0, r1 + 1)
            for c in range(c0, c1 + 1)
            if (r, c) != (r0, c0)
        }

    def touch(self, row: int) -> bool:
        """Whether a merge starting in `row` spans columns or reaches the next row."""
        return any(r0 == row and (c1 > c0 or r1 > r0) for r0, c0, r1, c1 in self.ranges)


def _header_candidate(rows: list[tuple[int, Row]], k: int, merges: _Merges) -> bool:
    """Header heuristic, for the k-th looked-ahead row:

    1. it has several (≥ 2, or 1 in a one-column sheet) non-empty cells, at least 60 % of them
       text, at least 70 % distinct, not mostly "key：value" cells (填报单位：…) and with no
       cell naming the table (附件1, …统计表, …名录);
    2. it spans about as many columns as the data below it: its filled or merge-covered cells
       number at least 60 % of the fullest of the next few non-blank rows; or it is the upper
       level of a two-level header, whose text-only next row spans that much.
    Title rows fail 1 (one cell) or 2 (the table below is wider); the first row passing is it.
    """
    rn, row = rows[k]
    filled = _filled(row)
    texts = [row[c].strip() for c in filled if isinstance(row[c], str)]
    if len(texts) < min(2, len(row)) or len(texts) < 0.6 * len(filled):
        return False
    if len({_title(row[c]) for c in filled}) < 0.7 * len(filled):
        return False
    if sum(bool(META_RE.match(t)) for t in texts) * 2 > len(texts):
        return False
    if any(TITLE_RE.search(t) for t in texts):
        return False
    below = [_filled(r) for _, r in rows[k + 1 :] if _filled(r)][:DATA_PEEK]
    widest = max((len(f) for f in below), default=0)
    if len(set(filled) | merges.covered(rn, len(row))) >= 0.6 * widest:
        return True
    return _is_lower_header(rows, k, widest)


def _is_lower_header(rows: list[tuple[int, Row]], k: int, widest: int) -> bool:
    """Whether the row after the k-th is text-only and as wide as the data (a 2nd header level)."""
    if k + 1 >= len(rows) or rows[k + 1][0] != rows[k][0] + 1:
        return False
    row = rows[k + 1][1]
    filled = _filled(row)
    return len(filled) >= max(2, 0.6 * widest) and all(isinstance(row[c], str) for c in filled)


def _find_header(
    rows: list[tuple[int, Row]], merges: _Merges, file: str, sheet: str, notes: list[str]
) -> tuple[int, bool]:
    """The header's index in `rows` and whether it has a second level.

    A second level exists when the next row is text-only and as wide as the data, and the first
    row has a merge (across columns, or down into the next row) or, in files that report no
    merges, blanks that the next row fills: 基本信息 | ⟨blank⟩ over 姓名 | 性别.
    """
    k = next((i for i in range(len(rows)) if _header_candidate(rows, i, merges)), None)
    if k is None:
        k = next(i for i, (_, r) in enumerate(rows) if _filled(r))
        notes.append(
            f"{file}: sheet {sheet!r}: no row looks like a header; "
            f"took row {rows[k][0]} as the header"
        )
    rn, row = rows[k]
    below = [_filled(r) for _, r in rows[k + 2 :] if _filled(r)][:DATA_PEEK]
    if not _is_lower_header(rows, k, max((len(f) for f in below), default=0)):
        return k, False
    filled = _filled(row)
    if merges.ranges:
        return k, merges.touch(rn)
    lower = set(_filled(rows[k + 1][1]))
    gaps = {c for c in range(filled[0], len(row)) if c not in filled} if filled else set()
    return k, bool(gaps & lower)


def _header_titles(
    rows: list[tuple[int, Row]], k: int, two: bool, merges: _Merges
) -> tuple[list[str], int]:
    """One title per column ("基本信息_姓名" for two levels) and the last titled column."""
    rn, upper = rows[k]
    lower = rows[k + 1][1] if two else []
    header = {rn: upper, rn + 1: lower}

    def at(r: int, c: int) -> str:  # a merge-covered cell reads as its merge's first cell
        text = _title(header[r][c])
        anchor = merges.anchor(r, c)
        if not text and anchor is not None and anchor[0] in header:
            text = _title(header[anchor[0]][anchor[1]])
        return text

    titles = []
    left = ""  # the filled upper cell a blank belongs to, when the file reports no merges
    for c in range(len(upper)):
        top = at(rn, c)
        if not top and two and not merges.ranges:
            top = left
        left = top or left
        low = at(rn + 1, c) if two else ""
        titles.append(f"{top}_{low}" if top and low and top != low else top or low)
    last = max((c for c, t in enumerate(titles) if t), default=-1)
    return titles, last


def _open_sheet(
    path: Path, sheet: CalamineSheet, keep: CalamineSheet | None, batch_rows: int
) -> SourceTable | None:
    file = str(path)
    if sheet.start is None:
        return None
    merges = _Merges(sheet, sheet.start[1])
    # iter_rows yields every row from the sheet's first (Excel row 1), cells from its first used
    # column on: row i is Excel row i + 1.
    rows: list[tuple[int, Row]] = []
    for i, row in enumerate(sheet.iter_rows()):
        if rows or _filled(row):
            rows.append((i + 1, row))
        if len(rows) >= LOOKAHEAD:
            break
    if not rows:
        return None
    where = f"{file}: sheet {sheet.name!r}"
    notes: list[str] = []
    k, two = _find_header(rows, merges, file, sheet.name, notes)
    raw_titles, last = _header_titles(rows, k, two, merges)
    header_end = rows[k][0] + (1 if two else 0)
    # Columns run from the first titled one (or the first a data row fills, for an untitled
    # leading column such as row numbers; notes and totals do not count) to the last titled one.
    starts = [c for c, t in enumerate(raw_titles) if t]
    starts += [
        f[0]
        for n, r in rows
        if n > header_end
        and len(f := _filled(r)) > 1
        and not NOTE_RE.match(lead := cell_text(r[f[0]]) or "")
        and not TOTALS_RE.match(re.sub(r"\s+", "", lead))
    ]
    first = min(starts, default=0)
    above = [repr(_title(r[_filled(r)[0]])) for _, r in rows[:k] if _filled(r)]
    if above:
        notes.append(f"{where}: rows above the header left out: " + ", ".join(above))
    if two:
        notes.append(
            f"{where}: two-level header in rows {rows[k][0]}-{header_end} "
            "flattened to 'upper_lower' titles"
        )
    titles = unique_titles(raw_titles[first : last + 1], where, notes)
    schema = pa.schema(
        [pa.field(t, pa.string()) for t in titles] + [pa.field(PLACE_COLUMN, pa.int64())]
    )
    table = SourceTable(
        file=file, columns=titles, batches=iter(()), schema=schema, sheet=sheet.name, notes=notes
    )
    span = (header_end, first, last)
    table.batches = _batches(path, sheet.name, keep, table, span, merges, batch_rows)
    return table


def _batches(
    path: Path,
    name: str,
    keep: CalamineSheet | None,
    table: SourceTable,
    span: tuple[int, int, int],
    merges: _Merges,
    batch_rows: int,
) -> Iterator[pa.RecordBatch]:
    """Data rows below the header, as batches; totals, notes and ragged rows set aside.

    Rules, in order, on each non-blank row (judged by its first filled cell):
    - after a note row everything is trailer (left out with a note, counted in rows_skipped);
    - a note row (注：…, 备注：…, 制表人：…) starts the trailer;
    - after a fully blank row, a sparse row (under half the columns filled) starts the trailer;
      a fuller one is more data (a blank spacer inside the table loses nothing);
    - a totals row (合计/总计/小计) is left out wherever it stands, with a note;
    - a row with filled cells outside the titled columns is rejected.
    Cells a merge covers in data rows take the merge's value (a 区县 merged down its rows).
    """
    file, where = str(path), f"{path}: sheet {name!r}"
    header_end, first, last = span
    width = last - first + 1
    covered = merges.below(header_end)
    anchors = set(covered.values())
    values: dict[tuple[int, int], Any] = {}  # merge anchors' values, as their rows go by
    cols: list[list[str | None]] = [[] for _ in range(width)]
    places: list[int] = []
    seen_data = blank_before = False
    trailer: list[tuple[int, str]] = []
    totals: list[tuple[int, str]] = []
    filled_in = 0
    sheet = keep
    if sheet is None:
        with CalamineWorkbook.from_path(str(path)) as book:
            sheet = _load(book, file, name)
    for i, row in enumerate(sheet.iter_rows()):
        rn = i + 1
        if rn <= header_end:
            continue
        filled = _filled(row)
        if not filled:
            blank_before = seen_data
            continue
        lead = cell_text(row[filled[0]]) or ""
        if trailer or NOTE_RE.match(lead) or (blank_before and len(filled) * 2 < width):
            trailer.append((rn, lead))
            continue
        if TOTALS_RE.match(re.sub(r"\s+", "", lead)):
            totals.append((rn, lead))
            continue
        seen_data, blank_before = True, False
        outside = [c for c in filled if c < first or c > last]
        if outside:
            table.rejects.append(
                Reject(
                    file=file,
                    sheet=name,
                    line=rn,
                    column=None,
                    reason=f"row has {len(outside)} filled cell(s) outside the header's "
                    f"{width} columns",
                    raw=" | ".join(cell_text(row[c]) or "" for c in filled)[:200],
                )
            )
            continue
        for c in range(first, last + 1):
            value = row[c]
            if (rn, c) in anchors:
                values[(rn, c)] = value
            elif (rn, c) in covered and covered[(rn, c)] in values and cell_text(value) is None:
                value = values[covered[(rn, c)]]
                filled_in += 1
            cols[c - first].append(cell_text(value))
        places.append(rn)
        if len(places) >= batch_rows:
            yield _batch(cols, places, table.schema)
            cols, places = [[] for _ in range(width)], []
    if places:
        yield _batch(cols, places, table.schema)
    _report(table, where, totals, trailer, filled_in)


def _report(
    table: SourceTable,
    where: str,
    totals: list[tuple[int, str]],
    trailer: list[tuple[int, str]],
    filled_in: int,
) -> None:
    if len(totals) <= 10:
        table.notes += [f"{where}: totals row {t!r} at row {n} left out" for n, t in totals]
    else:
        table.notes.append(
            f"{where}: {len(totals)} totals rows (合计/小计) left out, rows "
            + ", ".join(str(n) for n, _ in totals[:10])
            + ", …"
        )
    if trailer:
        table.notes.append(
            f"{where}: {len(trailer)} note row(s) under the table left out "
            f"(rows {trailer[0][0]}-{trailer[-1][0]}, first: {trailer[0][1]!r})"
        )
    if filled_in:
        table.notes.append(
            f"{where}: {filled_in} merged cell(s) in data rows took the value of their merge"
        )
    table.rows_skipped += len(totals) + len(trailer)


def _batch(cols: list[list[str | None]], places: list[int], schema: pa.Schema) -> pa.RecordBatch:
    arrays = [pa.array(c, pa.string()) for c in cols] + [pa.array(places, pa.int64())]
    return pa.record_batch(arrays, schema=schema)
