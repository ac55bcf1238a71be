"""JSON and NDJSON files as Arrow tables.

NDJSON streams in blocks (at most `batch_rows` lines and `BLOCK_BYTES` of text), in two passes: the
first learns the columns (the union of keys, in first-seen order) and each column's type, the
second converts. Two passes because a key first seen, or a type first changing, in the last block
must shape the schema of the first batch. Each block is parsed by pyarrow's C++ JSON reader; only a
block it refuses (a bad line, a column changing type, integers past 2**53 it would round to
doubles, nested values wanted as JSON text) goes through the stdlib `json` line by line, which
finds a bad line and keeps its number.
Not DuckDB's read_json: it cannot name a malformed line and go on (it only skips silently), and it
turns date-like strings into dates where JSON strings must stay text.

A JSON document (an array of objects, or an object wrapping one) is parsed whole with `json`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from cityhub.errors import SourceError
from cityhub.ingest.source import PLACE_COLUMN, Reject, SourceTable, unique_titles

Key = tuple[str, ...]  # a key path: ("parent", "child") is the column "parent.child"
SNIFF_LIMIT = 1 << 24  # longest first line still taken as an NDJSON record
# Text per block, whatever `batch_rows` says. A block in flight costs several times its text
# (lines, their join, pyarrow's parse, the flattened columns) on each engine thread pulling
# batches, and allocators keep much of it: blocks of 131,072 lines of ~600 bytes took a sync to
# ~1.6 GiB, 4 MiB blocks to ~1.05 GiB. Smaller blocks are no slower down to a few MiB.
BLOCK_BYTES = 4 << 20
# fmt: off
# Wrapper keys where an empty list means "no records" rather than a value of one record.
WRAPPER_KEYS = {"data", "records", "rows", "items", "list", "result", "results", "datas",
                "content", "datalist"}
# Kinds of values a column may hold and keep a type; any other mix is kept as text.
SIMPLE = {frozenset(): pa.string(), frozenset({"int"}): pa.int64(),
          frozenset({"float"}): pa.float64(), frozenset({"int", "float"}): pa.float64(),
          frozenset({"bool"}): pa.bool_(), frozenset({"str"}): pa.string()}
ARROW_KINDS = [(pa.types.is_integer, "int"), (pa.types.is_floating, "float"),
               (pa.types.is_boolean, "bool"), (pa.types.is_list, "list"),
               (pa.types.is_null, "null")]  # anything else pyarrow infers is a string
# fmt: on


class _Slow(Exception):
    """A block pyarrow's reader cannot give exactly; it takes the line-by-line route."""


def value_kind(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return "int" if -(2**63) <= value < 2**63 else "big"  # past int64: kept as text
    kinds = {type(None): "null", bool: "bool", float: "float", list: "list", dict: "obj"}
    return kinds.get(type(value), "str")


def value_text(value: Any) -> str | None:
    """A value as text in a column of mixed types (JSON text for numbers, lists and objects)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class _Columns:
    """What the file's records hold: key paths in first-seen order and the kinds of their values."""

    def __init__(self, flatten: bool) -> None:
        self.flatten = flatten
        self.kinds: dict[Key, set[str]] = {}
        self.expand: set[Key] = set()  # objects whose members become columns
        self.types: dict[Key, pa.DataType] = {}  # the columns, in order
        self.text: set[Key] = set()  # columns of mixed values, kept as text

    def add_value(self, key: Key, value: Any) -> None:
        kind = value_kind(value)
        self.kinds.setdefault(key, set()).add(kind)
        if kind == "obj" and self.flatten:
            for k, v in value.items():
                self.add_value((*key, k), v)

    def add_array(self, key: Key, arr: pa.Array) -> None:
        t = arr.type
        if pa.types.is_struct(t):
            self.kinds.setdefault(key, set()).add("obj")
            if not self.flatten:
                raise _Slow  # JSON text of objects comes exact only from the parsed value
            for field, child in zip(t, arr.flatten(), strict=True):
                self.add_array((*key, field.name), child)
            return
        if pa.types.is_floating(t) and (pc.max(pc.abs(arr)).as_py() or 0) >= 2**53:
            raise _Slow
        if pa.types.is_list(t) and _has_struct(t):
            raise _Slow  # lists of objects: pyarrow fills absent members with nulls
        kind = next((k for test, k in ARROW_KINDS if test(t)), "str")
        self.kinds.setdefault(key, set()).add(kind)

    def resolve(self) -> list[str]:
        """Fix each column's type; returns the column titles (duplicates not yet made unique)."""
        for key, kinds in self.kinds.items():
            if any(key[:i] not in self.expand for i in range(1, len(key))):
                continue  # inside an object kept whole
            kinds = kinds - {"null"}
            if kinds == {"obj"} and self.flatten:
                self.expand.add(key)
                continue
            self.types[key] = SIMPLE.get(frozenset(kinds), pa.string())
            if frozenset(kinds) not in SIMPLE:
                self.text.add(key)
        return [".".join(k) for k in self.types]

    def from_records(self, records: list[dict[str, Any]]) -> list[pa.Array]:
        cols: dict[Key, list[Any]] = {k: [None] * len(records) for k in self.types}
        for i, rec in enumerate(records):
            for key, value in self._flat(rec, ()):
                if key in cols:
                    cols[key][i] = value
        return [
            pa.array([value_text(v) for v in cols[k]] if k in self.text else cols[k], t)
            for k, t in self.types.items()
        ]

    def _flat(self, rec: dict[str, Any], prefix: Key) -> Iterator[tuple[Key, Any]]:
        for k, v in rec.items():
            key = (*prefix, k)
            if isinstance(v, dict) and key in self.expand:
                yield from self._flat(v, key)
            else:
                yield key, v

    def from_table(self, table: pa.Table) -> list[pa.Array]:
        found: dict[Key, pa.Array] = {}
        for name, col in zip(table.column_names, table.columns, strict=True):
            self._emit((name,), col.combine_chunks(), found)
        return [found.get(k, pa.nulls(table.num_rows, t)) for k, t in self.types.items()]

    def _emit(self, key: Key, arr: pa.Array, found: dict[Key, pa.Array]) -> None:
        if key in self.expand:
            if pa.types.is_struct(arr.type):
                for field, child in zip(arr.type, arr.flatten(), strict=True):
                    self._emit((*key, field.name), child, found)
        elif key in self.text:
            if pa.types.is_struct(arr.type) or (
                pa.types.is_list(arr.type) and _has_struct(arr.type)
            ):
                raise _Slow
            found[key] = (
                arr
                if pa.types.is_string(arr.type)
                else pa.array([value_text(v) for v in arr.to_pylist()], pa.string())
            )
        elif key in self.types:
            found[key] = arr.cast(self.types[key])


def _has_struct(t: pa.DataType) -> bool:
    if pa.types.is_struct(t):
        return True
    return pa.types.is_list(t) and _has_struct(t.value_type)


def _no_timestamps(t: pa.DataType) -> pa.DataType:
    """The inferred type with strings pyarrow took for timestamps back to strings."""
    if pa.types.is_timestamp(t):
        return pa.string()
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _no_timestamps(f.type)) for f in t])
    if pa.types.is_list(t):
        return pa.list_(_no_timestamps(t.value_type))
    return t


def _arrow_block(lines: list[bytes], schema: pa.Schema | None) -> tuple[pa.Table, pa.Schema]:
    """A block parsed by pyarrow, and the schema to parse it with next time (inferred types,
    timestamps back to strings). Without `schema` the table may hold timestamps: the first pass
    only learns kinds from it, where a timestamp is a string as well, so it is not parsed again."""
    data = b"".join(ln if ln.endswith(b"\n") else ln + b"\n" for ln in lines)
    size = max(1 << 20, 2 * max(map(len, lines)))  # a record must fit in one reader block
    try:
        table = pj.read_json(
            io.BytesIO(data),
            read_options=pj.ReadOptions(block_size=size),
            parse_options=pj.ParseOptions(explicit_schema=schema),
        )
    except pa.ArrowInvalid as exc:
        raise _Slow from exc
    return table, pa.schema([pa.field(f.name, _no_timestamps(f.type)) for f in table.schema])


def _parse_lines(
    file: str,
    lines: list[bytes],
    nums: list[int],
    rejects: list[Reject] | None,
    keep: bool = True,
) -> tuple[list[dict[str, Any]], list[int]]:
    """Records of the lines that parse to objects (unless not `keep`); the others become rejects
    (when collecting)."""
    records, places = [], []
    for num, line in zip(nums, lines, strict=True):
        try:
            value = json.loads(line.decode("utf-8").rstrip())
            problem = (
                None
                if isinstance(value, dict)
                else (f"expected a JSON object, found {type(value).__name__}")
            )
        except UnicodeDecodeError as exc:
            problem = f"not valid UTF-8 at byte {exc.start + 1}"
        except json.JSONDecodeError as exc:
            problem = f"malformed JSON: {exc.msg} at column {exc.colno}"
        if problem is None:
            if keep:
                records.append(value)
                places.append(num)
        elif rejects is not None:
            raw = line.decode("utf-8", "replace").strip()[:200]
            rejects.append(Reject(file=file, line=num, reason=problem, raw=raw))
    return records, places


def _blocks(path: Path, batch_rows: int) -> Iterator[tuple[list[bytes], list[int]]]:
    """Non-blank lines with their numbers, at most `batch_rows` lines and about `BLOCK_BYTES`
    of text at a time (the same blocks on every pass: the plans of the first follow them)."""
    with path.open("rb") as f:
        lines: list[bytes] = []
        nums: list[int] = []
        size = 0
        for num, line in enumerate(f, start=1):
            if num == 1:
                line = line.removeprefix(b"\xef\xbb\xbf")
            if line.strip():
                lines.append(line)
                nums.append(num)
                size += len(line)
            if len(lines) >= batch_rows or size >= BLOCK_BYTES:
                yield lines, nums
                lines, nums, size = [], [], 0
        if lines:
            yield lines, nums


def read_json(path: Path, batch_rows: int = 65536, nested: str = "flatten") -> SourceTable:
    """A JSON array of objects, an object wrapping one, or NDJSON (told apart by content)."""
    file = str(path)
    if nested not in ("flatten", "json"):
        raise SourceError(
            file, "unknown way to keep nested objects", expected="flatten or json", found=nested
        )
    if _is_ndjson(path):
        return _read_ndjson(path, batch_rows, nested == "flatten")
    records, rejects = _find_records(file, load_document(path))
    return records_table(file, records, nested == "flatten", batch_rows, rejects)


def _is_ndjson(path: Path) -> bool:
    """One object per line: the first line is a whole object (or line-shaped but malformed),
    and either more lines follow or it wraps no list of records (a one-record file)."""
    with path.open("rb") as f:
        first = b""
        while not first and (line := f.readline(SNIFF_LIMIT)):
            first = line.removeprefix(b"\xef\xbb\xbf").strip()
        if not (first.startswith(b"{") and first.endswith(b"}")):
            return False
        more = any(line.strip() for line in iter(lambda: f.readline(SNIFF_LIMIT), b""))
    if more:
        return True
    try:
        return not any(_candidates(json.loads(first), ()))
    except (ValueError, UnicodeDecodeError):
        return True


def _read_ndjson(path: Path, batch_rows: int, flatten: bool) -> SourceTable:
    file = str(path)
    cols = _Columns(flatten)
    rejects: list[Reject] = []

    def scan(lines: list[bytes], nums: list[int]) -> tuple[pa.Schema | None, set[int]]:
        """Learn a block's columns; its schema for pyarrow (None: the slow route), bad lines."""
        bad: set[int] = set()
        for attempt in (1, 2):
            saved = {k: set(v) for k, v in cols.kinds.items()}
            try:
                table, fixed = _arrow_block(lines, None)
                for name, col in zip(table.column_names, table.columns, strict=True):
                    cols.add_array((name,), col.combine_chunks())
                return fixed, bad
            except _Slow:
                cols.kinds = saved
                if attempt == 2:
                    break
                # Find the bad lines by parsing each (keeping no records: a block is large);
                # pyarrow may then take the others.
                found = len(rejects)
                _parse_lines(file, lines, nums, rejects, keep=False)
                bad = {r.line for r in rejects[found:] if r.line is not None}
                lines, nums = _keep(lines, nums, bad)
                if not bad or not lines:
                    break
        for record in _parse_lines(file, lines, nums, None)[0]:  # the slow route
            for k, v in record.items():
                cols.add_value((k,), v)
        return None, bad

    plans = [scan(lines, nums) for lines, nums in _blocks(path, batch_rows)]
    notes: list[str] = []
    titles = unique_titles(cols.resolve(), file, notes)
    schema = pa.schema(
        [pa.field(t, ty) for t, ty in zip(titles, cols.types.values(), strict=True)]
        + [pa.field(PLACE_COLUMN, pa.int64())]
    )

    def batches() -> Iterator[pa.RecordBatch]:
        for (lines, nums), (known, bad) in zip(_blocks(path, batch_rows), plans, strict=True):
            lines, nums = _keep(lines, nums, bad)
            arrays: list[pa.Array] | None = None
            if known is not None:
                try:
                    arrays, places = cols.from_table(_arrow_block(lines, known)[0]), nums
                except _Slow:
                    arrays = None
            if arrays is None:
                records, places = _parse_lines(file, lines, nums, None)
                arrays = cols.from_records(records)
            yield pa.record_batch([*arrays, pa.array(places, pa.int64())], schema=schema)

    return SourceTable(
        file=file, columns=titles, batches=batches(), schema=schema, rejects=rejects, notes=notes
    )


def _keep(lines: list[bytes], nums: list[int], bad: set[int]) -> tuple[list[bytes], list[int]]:
    if not bad:
        return lines, nums
    keep = [i for i, n in enumerate(nums) if n not in bad]
    return [lines[i] for i in keep], [nums[i] for i in keep]


def load_document(path: Path) -> Any:
    """The whole document: arrays and wrapped lists come from APIs, at sizes memory holds."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        found = repr(data[exc.start : exc.start + 8])
        raise SourceError(
            str(path), "not UTF-8", place=f"byte {exc.start + 1}", expected="UTF-8", found=found
        ) from exc
    if not text.strip():
        raise SourceError(str(path), "the file is empty", expected="JSON")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        found = repr(exc.doc[exc.pos : exc.pos + 30]) if exc.pos < len(exc.doc) else "end of file"
        expected = exc.msg.removeprefix("Expecting ") if "Expecting" in exc.msg else "valid JSON"
        place = f"line {exc.lineno}, column {exc.colno}"
        problem = f"malformed JSON ({exc.msg})"
        raise SourceError(str(path), problem, place=place, expected=expected, found=found) from exc


def _candidates(obj: Any, key: Key) -> tuple[list[Key], list[Key]]:
    """Paths of non-empty lists of objects inside nested objects, and of empty wrapper lists."""
    full: list[Key] = []
    empty: list[Key] = []
    for k, v in obj.items() if isinstance(obj, dict) else ():
        if isinstance(v, list) and v and sum(isinstance(x, dict) for x in v) * 2 > len(v):
            full.append((*key, k))
        elif isinstance(v, list) and not v and k.lower() in WRAPPER_KEYS:
            empty.append((*key, k))
        elif isinstance(v, dict):
            f, e = _candidates(v, (*key, k))
            full += f
            empty += e
    return full, empty


def _find_records(file: str, doc: Any) -> tuple[list[dict[str, Any]], list[Reject]]:
    """The records: the array itself, the single list of objects an object wraps, or the object."""
    if isinstance(doc, dict):
        full, empty = _candidates(doc, ())
        if len(full) > 1:
            raise SourceError(
                file,
                "more than one list of records",
                expected="a single list of objects",
                found=", ".join(".".join(k) for k in full),
            )
        if not full:
            return ([] if empty else [doc]), []
        for k in full[0]:
            doc = doc[k]
    records = [r for r in doc if isinstance(r, dict)] if isinstance(doc, list) else []
    if not isinstance(doc, list) or (doc and not records):
        kind = f"a list of {type(doc[0]).__name__}" if isinstance(doc, list) else type(doc).__name__
        raise SourceError(file, "no records", expected="an array of objects", found=kind)
    bad = [
        (i, json.dumps(r, ensure_ascii=False)[:200])
        for i, r in enumerate(doc, 1)
        if not isinstance(r, dict)
    ]
    rejects = [Reject(file, f"element {i} of the list is not an object", raw=r) for i, r in bad]
    return records, rejects


def records_table(
    file: str,
    records: list[dict[str, Any]],
    flatten: bool,
    batch_rows: int,
    rejects: list[Reject],
    extra: dict[str, pa.Array] | None = None,
) -> SourceTable:
    """A table of records already in memory; `extra` columns (GeoJSON's) go after theirs."""
    cols = _Columns(flatten)
    for record in records:
        for k, v in record.items():
            cols.add_value((k,), v)
    notes: list[str] = []
    extra = extra or {}
    titles = unique_titles(cols.resolve() + list(extra), file, notes)
    table = pa.Table.from_arrays([*cols.from_records(records), *extra.values()], names=titles)
    return SourceTable(
        file=file,
        columns=titles,
        schema=table.schema,
        batches=iter(table.to_batches(max_chunksize=batch_rows)),
        rejects=rejects,
        notes=notes,
    )


# GeoJSON ------------------------------------------------------------------------------------
