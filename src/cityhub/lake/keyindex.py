"""Lookup indexes: a version's rows sorted by one key field, for lookups in a fraction of a ms.

Scanning a version's Parquet files for one ID number reads every row group (their statistics
cannot skip much of a key in random order). A key index is a second copy of one version, sorted
by the dataset's first key field and kept as an uncompressed Arrow file that the server maps into
memory: a lookup is a binary search over the sorted keys and a slice of the rows, which then go
through the same SQL (and so the same access rules) as any other rows, only over a handful of
candidate rows instead of the whole table.

Each row keeps its place in the version (file, row number), so pages and cursors are the same
whichever way the rows were found. An index belongs to one version: a new sync leaves the old
index for the old version (time travel) until the next one for the same key replaces it; an
index is never needed for correctness, only for speed, and a version without one is scanned.
"""

from __future__ import annotations

import bisect
import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote as urlquote

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

log = logging.getLogger(__name__)

FILE, ROW = "__file", "file_row_number"  # the same place columns the query builder uses
_TEXT = (pa.string(), pa.large_string())


def index_path(root: Path, code: str, version: int, key: str) -> Path:
    return root / "indexes" / urlquote(code, safe="") / f"v{version}.{urlquote(key, safe='')}.arrow"


def build(
    con: duckdb.DuckDBPyConnection, files: list[str], key: str, path: Path, batch_rows: int
) -> Path:
    """Write the rows of `files` sorted by `key` (nulls last) with their places to `path`,
    streamed in batches (the engine sorts within its memory limit, spilling to disk), and
    published by an atomic rename so a reader never maps half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    rel = con.read_parquet(files, filename=True, file_row_number=True, union_by_name=True)
    rel = rel.project(f'* EXCLUDE (filename), filename AS "{FILE}"')
    rel = rel.order(f'"{key.replace(chr(34), chr(34) * 2)}" ASC NULLS LAST, "{FILE}", "{ROW}"')
    reader = rel.to_arrow_reader(batch_size=batch_rows)
    try:
        with pa.OSFile(str(scratch), "wb") as sink, pa.ipc.new_file(sink, reader.schema) as out:
            for batch in reader:
                out.write_batch(batch)
        os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)
    return path


class KeyIndex:
    """One mapped index file: rows by key value."""

    def __init__(self, path: Path, key: str, sample_every: int = 512) -> None:
        self.path = path
        self.key = key
        self.table = pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()  # zero-copy
        keys = self.table.column(key)
        self._keys = keys
        self._n = len(keys) - keys.null_count  # nulls sit at the end
        # Every `sample_every`th key as a Python list, searched at C speed: the search of the
        # mapped column is then within one stretch of that many rows (9 probes instead of 22
        # over four million rows, each probe a Python value made from the column).
        self._every = sample_every
        self._sample = keys.take(pa.array(range(0, self._n, sample_every))).to_pylist()

    def _bound(self, value: Any, right: bool) -> int:
        find = bisect.bisect_right if right else bisect.bisect_left
        # sample[i] is keys[i * every]: the bound lies after the first row of the stretch the
        # sample points to, and at most at the first row of the next one.
        stretch = find(self._sample, value)
        lo = max(0, (stretch - 1) * self._every)
        hi = min(self._n, stretch * self._every)
        return find(_Values(self._keys), value, lo, hi)

    def find(self, values: Iterable[Any]) -> pa.Table:
        """The rows whose key equals one of `values` (already of the key's Python type), in
        their place order (file, row), as a scan would find them."""
        spans = []
        for v in sorted(set(values)):
            lo = self._bound(v, right=False)
            hi = self._bound(v, right=True)
            if hi > lo:
                spans.append(self.table.slice(lo, hi - lo))
        if not spans:
            return self.table.schema.empty_table()
        if len(spans) == 1:
            return spans[0]  # the rows of one key are sorted by place already (see `build`)
        rows = pa.concat_tables(spans)
        return rows.take(pc.sort_indices(rows, [(FILE, "ascending"), (ROW, "ascending")]))


class _Values:
    """The key column as a sequence of Python values, for `bisect`."""

    def __init__(self, keys: pa.ChunkedArray) -> None:
        self._keys = keys

    def __len__(self) -> int:
        return len(self._keys)

    def __getitem__(self, i: int) -> Any:
        return self._keys[i].as_py()


def same_type(value: Any, arrow_type: pa.DataType) -> Any:
    """A filter value as the key column's Python type, or None when it cannot be one (then no
    row can match, and the caller's own query says so)."""
    if isinstance(value, str) and arrow_type in _TEXT:
        return value  # an ID number asked of a text key: nothing to convert (a cast costs more)
    try:
        return pc.cast(pa.scalar(value), arrow_type).as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError):
        return None
