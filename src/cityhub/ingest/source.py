"""What every file reader hands to the sync runner: tables as Arrow streams, and what it refused."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa

#: Optional column a reader adds to tell where each row stands in its file
#: (line number for text files, row number for sheets). Dropped before the data is stored.
PLACE_COLUMN = "__place"
#: Added by the sync runner when several sheets feed one dataset.
SHEET_COLUMN = "__sheet"


@dataclass(frozen=True)
class Reject:
    """A row (or value) that could not be stored, with where it was and why."""

    file: str
    reason: str
    # Line of a text file, row of a sheet, or the record's ordinal in a Parquet or JSON document
    # (1-based, as a person counts).
    line: int | None = None
    sheet: str | None = None
    column: str | None = None
    raw: str | None = None  # the offending text, cut to a readable length

    @property
    def place(self) -> str:
        where = []
        if self.sheet:
            where.append(f"sheet {self.sheet!r}")
        if self.line is not None:
            where.append(f"{'row' if self.sheet else 'line'} {self.line}")
        if self.column:
            where.append(f"column {self.column!r}")
        return ", ".join(where)


@dataclass
class SourceTable:
    """One table read from a source file.

    `batches` yields Arrow record batches whose columns are named by the source's own titles
    (`columns`, in order), plus optionally PLACE_COLUMN (int64). Text-like sources give string
    columns and leave typing to the sync runner; typed sources (Parquet, JSON numbers) keep theirs.
    Readers must stream: never hold more than a batch or so of a large file in memory.
    """

    file: str
    columns: list[str]
    batches: Iterator[pa.RecordBatch]
    schema: pa.Schema
    sheet: str | None = None
    rejects: list[Reject] = field(default_factory=list)  # filled while (or after) batches run
    notes: list[str] = field(default_factory=list)  # e.g. "totals row 合计 at row 58 left out"
    rows_skipped: int = 0  # rows deliberately left out (totals, notes), reported, not rejected

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.schema, self.batches)


def unique_titles(titles: list[str], file: str, notes: list[str]) -> list[str]:
    """Empty header cells get a positional name and duplicates a suffix, each with a note."""
    seen: dict[str, int] = {}
    result = []
    for i, raw in enumerate(titles, start=1):
        title = (raw or "").strip()
        if not title:
            title = f"column_{i}"
            notes.append(f"{file}: header of column {i} is empty; named it {title!r}")
        if title in seen:
            seen[title] += 1
            renamed = f"{title}_{seen[title]}"
            notes.append(f"{file}: header {title!r} repeats in column {i}; named it {renamed!r}")
            title = renamed
        else:
            seen[title] = 1
        result.append(title)
    return result
