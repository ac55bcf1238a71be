"""Turn a source file into something the engine can scan once, plus a sample to infer types from."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from cityhub.ingest.csvfile import open_csv
from cityhub.ingest.formats import ReadOptions, open_tables
from cityhub.ingest.infer import ColumnPlan, quote
from cityhub.ingest.source import PLACE_COLUMN, SHEET_COLUMN, Reject, SourceTable


@dataclass
class Prepared:
    """A source ready to scan once, with a sample of its first rows."""

    file: str
    # Opens the stream of converted rows: `select` wraps a FROM-expression scanning the source
    # in the converting SELECT. For CSV, given the plans, the reader parses the columns it can
    # itself (see ColumnPlan.native); a transcoded CSV is scanned part by part as it decodes.
    read: Callable[[list[ColumnPlan], Callable[[str], str], int], pa.RecordBatchReader]
    sample: pa.Table  # the first rows, columns titled as in the source, for inference
    has_place: bool  # rows carry PLACE_COLUMN; otherwise `line_of` maps record index to line
    is_csv: bool = False  # the engine's own reader scans it (and may type columns itself)
    bytes_per_row: float | None = None  # to show bytes done while the engine reads the file
    rejects: list[Reject] = field(default_factory=list)  # refused before the scan
    notes: list[str] = field(default_factory=list)
    tables: list[SourceTable] = field(default_factory=list)  # readers that report as they go
    # Answer once the scan has ended: rows the engine's own reader refused, and record → line.
    scan_rejects: Callable[[], list[Reject]] = lambda: []
    # Sources with neither lines nor rows (Parquet, JSON documents) place a record by its
    # 1-based ordinal.
    line_of: Callable[[], Callable[[int], int]] = lambda: lambda k: k + 1
    cleanup: Callable[[], None] = lambda: None

    @property
    def sheet(self) -> str | None:
        """The sheet every row comes from, when there is just one."""
        return self.tables[0].sheet if len(self.tables) == 1 else None

    def all_rejects(self) -> list[Reject]:
        return self.rejects + self.scan_rejects() + [r for t in self.tables for r in t.rejects]

    def all_notes(self) -> list[str]:
        return self.notes + [n for t in self.tables for n in t.notes]

    def rows_skipped(self) -> int:
        return sum(t.rows_skipped for t in self.tables)

    @property
    def titles(self) -> list[str]:
        return [n for n in self.sample.column_names if n not in (PLACE_COLUMN, SHEET_COLUMN)]


def prepare_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    staging: Path,
    tag: str,
    encoding: str | None,
    delimiter: str | None,
    skip_rows: int,
    sample_rows: int,
    progress: Callable[[int], None] | None,
) -> Prepared:
    src = open_csv(
        path,
        staging=staging,
        tag=tag,
        encoding=encoding,
        delimiter=delimiter,
        skip_rows=skip_rows,
        progress=progress,
    )
    sample = con.sql(f"SELECT * FROM {src.sample_sql()} LIMIT {sample_rows}").to_arrow_table()
    src.drop_rejects(con)  # the sample's; the real scan fills them anew

    def read(
        plans: list[ColumnPlan], select: Callable[[str], str], batch_rows: int
    ) -> pa.RecordBatchReader:
        native = [p for p in plans if p.native]
        return src.stream(
            con,
            select,
            batch_rows,
            {p.title: p.native for p in native if p.native},
            {p.title: p.expected for p in native if p.expected},
        )

    return Prepared(
        file=str(path),
        read=read,
        sample=sample,
        has_place=False,
        is_csv=True,
        bytes_per_row=None if src.transcoding else _bytes_per_row(sample),
        notes=src.notes,
        scan_rejects=lambda: src.decoding_rejects() + src.reader_rejects(con),
        line_of=lambda: src.record_lines(con),
        cleanup=src.cleanup,
    )


def _bytes_per_row(sample: pa.Table) -> float | None:
    """Average text bytes of a sample row, separators included (an estimate for progress)."""
    if not sample.num_rows:
        return None
    text = sum(pc.sum(pc.binary_length(col)).as_py() or 0 for col in sample.columns)
    return text / sample.num_rows + sample.num_columns


def _unify(tables: list[SourceTable]) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """Sheets (or files) of one dataset as one stream, columns united by title; with several
    sheets each row also says which sheet it came from (SHEET_COLUMN)."""
    if len(tables) == 1:
        return tables[0].schema, tables[0].batches
    fields: dict[str, pa.Field] = {}
    for t in tables:
        for f in t.schema:
            if f.name not in fields:
                fields[f.name] = f
            elif fields[f.name].type != f.type:  # differing types meet as text
                fields[f.name] = pa.field(f.name, pa.string())
    fields[SHEET_COLUMN] = pa.field(SHEET_COLUMN, pa.string())
    schema = pa.schema(list(fields.values()))

    def batches() -> Iterator[pa.RecordBatch]:
        for t in tables:
            for b in t.batches:
                cols = [
                    b.column(f.name).cast(f.type)
                    if f.name in b.schema.names
                    else pa.nulls(b.num_rows, f.type)
                    for f in list(schema)[:-1]
                ]
                cols.append(pa.array([t.sheet] * b.num_rows, pa.string()))
                yield pa.record_batch(cols, schema=schema)

    return schema, batches()


def prepare_tables(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
    *,
    tag: str,
    read: ReadOptions,
    batch_rows: int,
    sample_rows: int,
) -> Prepared:
    tables = open_tables(path, fmt, read, batch_rows)
    schema, stream = _unify(tables)
    # Hold the first batches back as the sample, then replay them ahead of the rest.
    head: list[pa.RecordBatch] = []
    rows = 0
    for batch in stream:
        head.append(batch)
        rows += batch.num_rows
        if rows >= sample_rows:
            break
    sample = pa.Table.from_batches(head, schema=schema).slice(0, sample_rows)
    reader = pa.RecordBatchReader.from_batches(schema, itertools.chain(head, stream))
    view = f"src_{tag}"
    con.register(view, reader)
    notes = []
    if len(tables) > 1:
        notes.append(
            f"{path}: {len(tables)} sheets loaded together: "
            + ", ".join(repr(t.sheet) for t in tables)
        )
    return Prepared(
        file=str(path),
        read=lambda _plans, select, batch_rows: con.sql(select(quote(view))).to_arrow_reader(
            batch_rows
        ),
        sample=sample,
        has_place=PLACE_COLUMN in schema.names,
        notes=notes,
        tables=tables,
        cleanup=lambda: _unregister(con, view),
    )


def _unregister(con: duckdb.DuckDBPyConnection, view: str) -> None:
    con.unregister(view)
