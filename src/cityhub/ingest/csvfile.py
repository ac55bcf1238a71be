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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb

from cityhub.errors import SourceError
from cityhub.ingest.decode import detect_encoding, normalise_encoding, transcode_to_utf8
from cityhub.ingest.infer import literal, quote
from cityhub.ingest.source import Reject, unique_titles

DELIMITERS = [",", "\t", ";", "|"]
SNIFF_LINES = 50


_CAST_VALUE = re.compile(r'Could not convert string "(.*)" to', re.DOTALL)


@dataclass
class CsvSource:
    """A CSV file prepared for the engine, which scans it with `scan_sql`."""

    file: str
    titles: list[str]
    encoding: str
    delimiter: str
    source_file: Path  # the file the engine reads: the original, or its UTF-8 transcoding
    tag: str
    header_lines: int
    rejects: list[Reject] = field(default_factory=list)  # decoding rejects, found before the scan
    notes: list[str] = field(default_factory=list)
    dropped_lines: list[int] = field(default_factory=list)  # source lines left out by decoding
    temp: Path | None = None
    expected: dict[str, str] = field(default_factory=dict)  # title → type the reader parses

    @property
    def rejects_table(self) -> str:
        return quote(f"rejects_{self.tag}")

    def scan_sql(
        self, types: dict[str, str] | None = None, expected: dict[str, str] | None = None
    ) -> str:
        """read_csv with our dialect; columns are text unless `types` (title → engine type) says
        otherwise, in which case a value that does not parse is the reader's reject, described
        by `expected` (title → what it should look like)."""
        types = types or {}
        self.expected = expected or {}
        columns = (
            "{"
            + ", ".join(f"{literal(t)}: {literal(types.get(t, 'VARCHAR'))}" for t in self.titles)
            + "}"
        )
        q = literal('"')
        return (
            f"read_csv({literal(str(self.source_file))}, auto_detect = false, header = false, "
            f"skip = {self.header_lines}, delim = {literal(self.delimiter)}, quote = {q}, "
            f"escape = {q}, columns = {columns}, strict_mode = true, "
            f"store_rejects = true, rejects_table = {self.rejects_table}, "
            # The engine's default line limit (2 MB) stays: raising it slows every scan threefold,
            # and a longer line is rejected with its reason like any other bad row.
            f"rejects_scan = {quote('scan_' + self.tag)})"
        )

    def drop_rejects(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"DROP TABLE IF EXISTS {self.rejects_table}")
        con.execute(f"DROP TABLE IF EXISTS {quote('scan_' + self.tag)}")

    def reader_rejects(self, con: duckdb.DuckDBPyConnection) -> list[Reject]:
        """Rows the CSV reader refused (ragged, bad quoting, bad UTF-8, a value that does not
        parse as its column's type), one per row, once the scan is done."""
        rows = self._rejected(con, "line, column_idx, error_type, error_message, csv_line")
        by_line: dict[int, Reject] = {}
        for line, col_idx, kind, message, raw in rows:
            column = self.titles[col_idx - 1] if col_idx and col_idx <= len(self.titles) else None
            reason = self._reason(str(kind), str(message), column)
            seen = by_line.get(int(line))
            if seen is not None:  # several faults in one row: one reject naming them all
                by_line[int(line)] = replace(seen, reason=f"{seen.reason}; {reason}")
                continue
            by_line[int(line)] = Reject(
                file=self.file,
                line=self.source_line(int(line)),
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

    def _rejected(self, con: duckdb.DuckDBPyConnection, columns: str) -> list[tuple]:
        # The engine creates its rejects table only when the scan refused something.
        try:
            return con.sql(f"SELECT {columns} FROM {self.rejects_table} ORDER BY line").fetchall()
        except duckdb.CatalogException:
            return []

    def source_line(self, engine_line: int) -> int:
        """The file's own line for a line number of the (possibly transcoded) engine input."""
        line = engine_line
        for dropped in self.dropped_lines:  # few: only lines that did not decode
            if dropped <= line:
                line += 1
        return line

    def record_lines(self, con: duckdb.DuckDBPyConnection) -> Callable[[int], int]:
        """Maps the k-th parsed record (0-based) to its line, skipping lines the reader refused."""
        refused = sorted({int(r[0]) for r in self._rejected(con, "line")})

        def line_of(k: int) -> int:
            # The reader numbers records from 1 with the header included.
            line = self.header_lines + 1 + k
            while True:
                shifted = self.header_lines + 1 + k + bisect_right(refused, line)
                if shifted == line:
                    return self.source_line(line)
                line = shifted

        return line_of

    def cleanup(self) -> None:
        if self.temp is not None:
            self.temp.unlink(missing_ok=True)


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

    source_file, temp, rejects, dropped = path, None, [], []
    if enc not in {"utf-8", "ascii"}:
        temp = staging / f"{tag}.utf8.csv"
        done = transcode_to_utf8(path, enc, temp, progress)
        source_file, rejects, dropped = temp, done.rejects, done.dropped_lines
        notes.append(f"{file}: decoded from {enc}")

    return CsvSource(
        file=file,
        titles=titles,
        encoding=enc,
        delimiter=delim,
        source_file=source_file,
        tag=tag,
        header_lines=skip_rows + 1,
        rejects=rejects,
        notes=notes,
        dropped_lines=dropped,
        temp=temp,
    )
