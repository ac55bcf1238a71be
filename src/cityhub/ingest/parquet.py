"""Parquet files: already typed and columnar, streamed batch by batch with their own types."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cityhub.errors import SourceError
from cityhub.ingest.source import SourceTable, unique_titles


def read_parquet(path: Path, batch_rows: int = 65536) -> SourceTable:
    """The file's rows in batches of `batch_rows`; column types are kept as stored."""
    file = str(path)
    try:
        pf = pq.ParquetFile(file)
        schema = pf.schema_arrow
    except (pa.ArrowException, OSError) as exc:  # bad magic bytes, truncated footer, …
        raise SourceError(
            file, "cannot read as Parquet", expected="a Parquet file", found=str(exc)
        ) from exc
    notes: list[str] = []
    titles = unique_titles(list(schema.names), file, notes)
    if titles != schema.names:  # Parquet allows repeated or empty names; our tables do not
        schema = pa.schema([f.with_name(t) for f, t in zip(schema, titles, strict=True)])

    def batches() -> Iterator[pa.RecordBatch]:
        done = 0
        try:
            for batch in pf.iter_batches(batch_size=batch_rows):
                done += batch.num_rows
                yield pa.RecordBatch.from_arrays(batch.columns, schema=schema)
        except (pa.ArrowException, OSError) as exc:  # a corrupt page or column chunk
            raise SourceError(
                file,
                "corrupt Parquet data",
                place=f"after row {done}",
                expected="readable column chunks",
                found=str(exc),
            ) from exc
        finally:
            pf.close()

    return SourceTable(file=file, columns=titles, batches=batches(), schema=schema, notes=notes)
