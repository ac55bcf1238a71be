"""CSV and TSV files, read by DuckDB's parallel CSV reader after our own encoding and dialect
checks.

We read the header ourselves (so duplicate or empty titles are reported, not silently renamed) and
hand DuckDB an explicit dialect with every column as text; type conversion happens afterwards in
one SQL pass (infer.py). Ragged rows and bad quoting land in DuckDB's rejects table, which we map
back to the source file's lines.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import pyarrow as pa

from cityhub.errors import SourceError
from cityhub.ingest.decode import Part, Transcoding, detect_encoding, normalise_encoding
from cityhub.ingest.infer import literal, quote
from cityhub.ingest.source import Reject, unique_titles

DELIMITERS = [",", "\t", ";", "|"]
SNIFF_LINES = 50


_CAST_VALUE = re.compile(r'Could not convert string "(.*)" to', re.DOTALL)


@dataclass
class _Scanned:
    """A part of the engine's input, once scanned."""

    part: Part
    records: int  # records the reader gave (refused ones not counted)


@dataclass
class CsvSource:
    """A CSV file prepared for the engine: UTF-8 as it is, or transcoded in the background into
    parts the engine scans one after another (`stream`)."""

    file: str
    titles: list[str]
    encoding: str
    delimiter: str
    tag: str
    header_lines: int
    original: Path
    transcoding: Transcoding | None = None
    notes: list[str] = field(default_factory=list)
    expected: dict[str, str] = field(default_factory=dict)  # title → type the reader parses
    scanned: list[_Scanned] = field(default_factory=list)

    def _part(self, index: int) -> Part | None:
        if self.transcoding is not None:
            return self.transcoding.part(index)
        return Part(self.original, 0, 0) if index == 0 else None

    def _rejects_table(self, index: int) -> str:
        return quote(f"rejects_{self.tag}_{index}")

    def _scan_sql(self, part: Part, types: dict[str, str]) -> str:
        """read_csv of one part with our dialect; columns are text unless `types` (title →
        engine type) says otherwise, in which case a value that does not parse is the reader's
        reject. The header is in the first part only."""
        columns = (
            "{"
            + ", ".join(f"{literal(t)}: {literal(types.get(t, 'VARCHAR'))}" for t in self.titles)
            + "}"
        )
        q = literal('"')
        skip = self.header_lines if part.index == 0 else 0
        return (
            f"read_csv({literal(str(part.path))}, auto_detect = false, header = false, "
            f"skip = {skip}, delim = {literal(self.delimiter)}, quote = {q}, "
            f"escape = {q}, columns = {columns}, strict_mode = true, "
            f"store_rejects = true, rejects_table = {self._rejects_table(part.index)}, "
            # The engine's default line limit (2 MB) stays: raising it slows every scan threefold,
            # and a longer line is rejected with its reason like any other bad row.
            f"rejects_scan = {quote(f'scan_{self.tag}_{part.index}')})"
        )

    def sample_sql(self) -> str:
        """Scans the first part, every column as text (for type inference)."""
        part = self._part(0)
        if part is None:  # the transcoding failed before its first part; say why
            raise SourceError(self.file, "nothing could be decoded", expected=self.encoding)
        return self._scan_sql(part, {})

    def stream(
        self,
        con: duckdb.DuckDBPyConnection,
        select: Callable[[str], str],
        batch_rows: int,
        types: dict[str, str] | None = None,
        expected: dict[str, str] | None = None,
    ) -> pa.RecordBatchReader:
        """The rows of `select(scan)` over every part in turn, each part scanned as soon as it
        is decoded. `types` and `expected` as in `_scan_sql`; `expected` says what a value the
        reader refused should have looked like."""
        types, self.expected, self.scanned = types or {}, expected or {}, []
        head = self._part(0)
        assert head is not None  # the sample was taken from it
        first = con.sql(select(self._scan_sql(head, types))).to_arrow_reader(batch_rows)

        def batches() -> Iterator[pa.RecordBatch]:
            reader, part = first, head
            while True:
                # Noted before the scan, so a part cut short still has its rejects read.
                scanned = _Scanned(part, 0)
                self.scanned.append(scanned)
                for batch in reader:
                    scanned.records += batch.num_rows
                    yield batch
                if self.transcoding is not None:  # read whole: room for the next part
                    self.transcoding.release(part)
                following = self._part(part.index + 1)
                if following is None:
                    return
                part = following
                reader = con.sql(select(self._scan_sql(part, types))).to_arrow_reader(batch_rows)

        return pa.RecordBatchReader.from_batches(first.schema, batches())

    def drop_rejects(self, con: duckdb.DuckDBPyConnection) -> None:
        """Forget the reader's rejects of the sample."""
        con.execute(f"DROP TABLE IF EXISTS {self._rejects_table(0)}")
        con.execute(f"DROP TABLE IF EXISTS {quote(f'scan_{self.tag}_0')}")

    def decoding_rejects(self) -> list[Reject]:
        """Lines that did not decode (waits for, or stops, the transcoding)."""
        return self.transcoding.finish().rejects if self.transcoding else []

    def reader_rejects(self, con: duckdb.DuckDBPyConnection) -> list[Reject]:
        """Rows the CSV reader refused (ragged, bad quoting, bad UTF-8, a value that does not
        parse as its column's type), one per row, once the scan is done."""
        by_line: dict[int, Reject] = {}
        for line, col_idx, kind, message, raw in self._rejected(
            con, "line, column_idx, error_type, error_message, csv_line"
        ):
            column = self.titles[col_idx - 1] if col_idx and col_idx <= len(self.titles) else None
            reason = self._reason(str(kind), str(message), column)
            seen = by_line.get(line)
            if seen is not None:  # several faults in one row: one reject naming them all
                by_line[line] = replace(seen, reason=f"{seen.reason}; {reason}")
                continue
            by_line[line] = Reject(
                file=self.file,
                line=self.source_line(line),
                column=column,
                reason=reason,
                raw=(raw or "")[:200],
            )
        return list(by_line.values())

    def _reason(self, kind: str, message: str, column: str | None) -> str:
        found = _CAST_VALUE.search(message)
        if kind == "CAST" and column in self.expected and found:
            return f"{column}: expected {self.expected[column]}, found '{found.group(1)[:80]}'"
        return f"{kind.lower()}: {message}"

    def _rejected_in(self, con: duckdb.DuckDBPyConnection, index: int, columns: str) -> list[tuple]:
        # The engine creates its rejects table only when the scan refused something.
        try:
            return con.sql(
                f"SELECT {columns} FROM {self._rejects_table(index)} ORDER BY line"
            ).fetchall()
        except duckdb.CatalogException:
            return []

    def _rejected(self, con: duckdb.DuckDBPyConnection, columns: str) -> list[tuple]:
        """Rows of every scanned part's rejects table, `line` (first) made a line of the whole
        engine input."""
        rows = []
        for s in self.scanned:
            for line, *rest in self._rejected_in(con, s.part.index, columns):
                rows.append((s.part.lines_before + int(line), *rest))
        return rows

    def source_line(self, engine_line: int) -> int:
        """The file's own line for a line number of the (possibly transcoded) engine input."""
        line = engine_line
        dropped = self.transcoding.finish().dropped_lines if self.transcoding else []
        for d in dropped:  # few: only lines that did not decode
            if d <= line:
                line += 1
        return line

    def record_lines(self, con: duckdb.DuckDBPyConnection) -> Callable[[int], int]:
        """Maps the k-th record the reader gave (0-based, over all parts) to its line, skipping
        lines the reader refused."""
        starts, refused = [], []
        first = 0
        for s in self.scanned:
            starts.append(first)
            first += s.records
            refused.append(
                sorted({int(r[0]) for r in self._rejected_in(con, s.part.index, "line")})
            )

        def line_of(k: int) -> int:
            at = max(bisect_right(starts, k) - 1, 0)
            part, local = self.scanned[at].part, k - starts[at]
            # The reader numbers a part's lines from 1, the skipped header lines included.
            skip = self.header_lines if part.index == 0 else 0
            line = skip + 1 + local
            while True:
                shifted = skip + 1 + local + bisect_right(refused[at], line)
                if shifted == line:
                    return self.source_line(part.lines_before + line)
                line = shifted

        return line_of

    def cleanup(self) -> None:
        if self.transcoding is not None:
            self.transcoding.remove()


def sniff_delimiter(lines: list[str], preferred: str | None = None) -> str:
    """The candidate that splits the sample lines into the most consistent number (>1) of fields."""
    best, best_score = preferred or ",", (-1.0, 0)
    for delim in DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delim) if row]
        if not counts or max(counts) < 2:
            continue
        mode = max(set(counts), key=counts.count)
        score = (counts.count(mode) / len(counts), mode)
        if score > best_score or (score == best_score and delim == preferred):
            best, best_score = delim, score
    return best


def _head_text(path: Path, encoding: str) -> list[str]:
    with path.open("rb") as f:
        raw = f.read(1 << 18)
    text = raw.decode(encoding, errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    return list(itertools.islice(io.StringIO(text, newline=""), SNIFF_LINES))


def open_csv(
    path: Path,
    *,
    staging: Path,
    tag: str,
    encoding: str | None = None,
    delimiter: str | None = None,
    skip_rows: int = 0,
    progress: Callable[[int], None] | None = None,
) -> CsvSource:
    """Check and describe a CSV file so the engine can scan it; transcodes non-UTF-8 files."""
    file = str(path)
    if not path.exists():
        raise SourceError(file, "file not found")
    if path.stat().st_size == 0:
        raise SourceError(
            file, "the file is empty", expected="a header line and data rows", found="0 bytes"
        )
    enc = normalise_encoding(encoding) if encoding else detect_encoding(path)
    lines = _head_text(path, "utf-8" if enc == "utf-8" else enc)[skip_rows:]
    if not any(line.strip() for line in lines):
        raise SourceError(
            file,
            "the file has no header line",
            place=f"line {skip_rows + 1}",
            expected="a header line",
            found="only blank lines",
        )
    preferred = "\t" if path.suffix.lower() in {".tsv", ".tab"} else None
    delim = delimiter or sniff_delimiter(lines, preferred)
    header = next(csv.reader([lines[0]], delimiter=delim))
    notes: list[str] = []
    titles = unique_titles([h.replace("\n", " ") for h in header], file, notes)

    transcoding = None
    if enc not in {"utf-8", "ascii"}:
        transcoding = Transcoding(path, enc, staging / f"{tag}.utf8", progress)
        notes.append(f"{file}: decoded from {enc}")

    return CsvSource(
        file=file,
        titles=titles,
        encoding=enc,
        delimiter=delim,
        tag=tag,
        header_lines=skip_rows + 1,
        original=path,
        transcoding=transcoding,
        notes=notes,
    )
