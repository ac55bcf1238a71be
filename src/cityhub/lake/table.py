"""Versioned table storage: one Delta Lake table per dataset.

Every write is one atomic Delta commit: the data files are written first and become visible only
when the commit record lands, so a failed or killed sync never shows a partial version.
Who wrote a version and from what source travels in the commit's own metadata.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote as urlquote

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import TableNotFoundError

from cityhub.errors import InvalidInput, NotFound

Mode = Literal["replace", "append", "upsert"]
META_PREFIX = "cityhub."
# Row groups as small as DuckDB's own (122,880 rows): profiling samples a few of them spread
# over the table, and lookups skip whole groups by their statistics, for no cost in write speed.
WRITER = WriterProperties(max_row_group_size=122_880)


@dataclass(frozen=True)
class VersionInfo:
    version: int
    time: datetime
    operation: str
    source: str | None
    operator: str | None
    sync_id: int | None
    note: str | None


def _meta(entry: dict[str, Any], key: str) -> str | None:
    value = entry.get(META_PREFIX + key)
    return None if value is None else str(value)


class Lake:
    """The lake folder: `tables/<dataset>` holds data, `rejects/<dataset>` what could not be."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # -- locations ---------------------------------------------------------------------------
    def _dir(self, kind: str, code: str) -> Path:
        return self.root / kind / urlquote(code, safe="")

    def table_path(self, code: str) -> Path:
        return self._dir("tables", code)

    def rejects_path(self, code: str) -> Path:
        return self._dir("rejects", code)

    def staging(self) -> Path:
        """Scratch space on the lake's own disk (transcoded files, spills); safe to empty."""
        path = self.root / "staging"
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- reading -----------------------------------------------------------------------------
    def exists(self, code: str) -> bool:
        return DeltaTable.is_deltatable(str(self.table_path(code)))

    def table(self, code: str, version: int | None = None) -> DeltaTable:
        try:
            dt = DeltaTable(str(self.table_path(code)))
        except TableNotFoundError as exc:
            raise NotFound(f"dataset {code!r} has no data in the lake yet") from exc
        if version is not None:
            if not 0 <= version <= dt.version():
                raise NotFound(
                    f"dataset {code!r} has no version {version}; versions are 0 to {dt.version()}"
                )
            dt.load_as_version(version)
        return dt

    def version(self, code: str) -> int | None:
        return self.table(code).version() if self.exists(code) else None

    def schema(self, code: str, version: int | None = None) -> pa.Schema:
        return pa.schema(self.table(code, version).schema())

    def files(self, code: str, version: int | None = None) -> list[str]:
        return list(self.table(code, version).file_uris())

    def history(self, code: str) -> list[VersionInfo]:
        result = []
        for entry in self.table(code).history():
            sync = _meta(entry, "sync_id")
            result.append(
                VersionInfo(
                    version=int(entry["version"]),
                    time=datetime.fromtimestamp(entry["timestamp"] / 1000, UTC),
                    operation=str(entry.get("operation", "")),
                    source=_meta(entry, "source"),
                    operator=_meta(entry, "operator"),
                    sync_id=int(sync) if sync is not None else None,
                    note=_meta(entry, "note"),
                )
            )
        return sorted(result, key=lambda v: v.version, reverse=True)

    def read(self, code: str, version: int | None = None, limit: int | None = None) -> pa.Table:
        dataset = self.table(code, version).to_pyarrow_dataset()
        return dataset.head(limit) if limit is not None else dataset.to_table()

    # -- writing -----------------------------------------------------------------------------
    def write(
        self,
        code: str,
        data: pa.RecordBatchReader,
        *,
        mode: Mode,
        key: Iterable[str] = (),
        evolve: Literal["merge", "overwrite"] | None = None,
        metadata: dict[str, str | int | None] | None = None,
    ) -> int:
        """Commit `data` as a new version and return its number.

        replace: the new version holds exactly `data`; append: adds to it; upsert: rows whose
        `key` matches are updated, others inserted. `evolve` lets the schema grow ("merge") or be
        replaced ("overwrite", only with replace).
        """
        props = CommitProperties(
            custom_metadata={
                META_PREFIX + k: str(v) for k, v in (metadata or {}).items() if v is not None
            }
        )
        path = str(self.table_path(code))
        if mode == "upsert" and self.exists(code):
            keys = list(key)
            if not keys:
                raise InvalidInput(f"upsert into {code!r} needs key fields (dataset key_fields)")
            predicate = " AND ".join(f't."{k}" = s."{k}"' for k in keys)
            (
                self.table(code)
                .merge(
                    data,
                    predicate,
                    source_alias="s",
                    target_alias="t",
                    merge_schema=evolve is not None,
                    writer_properties=WRITER,
                    commit_properties=props,
                )
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute()
            )
        else:
            self.table_path(code).parent.mkdir(parents=True, exist_ok=True)
            write_deltalake(
                path,
                data,
                mode="append" if mode == "append" else "overwrite",
                schema_mode=evolve,
                writer_properties=WRITER,
                commit_properties=props,
            )
        return self.table(code).version()

    def rollback(self, code: str, version: int, metadata: dict[str, str | int | None]) -> int:
        """Make `version`'s content current again, as a new version (history is kept)."""
        dt = self.table(code)
        if not 0 <= version <= dt.version():
            raise NotFound(f"dataset {code!r} has no version {version}")
        props = CommitProperties(
            custom_metadata={META_PREFIX + k: str(v) for k, v in metadata.items() if v is not None}
        )
        dt.restore(version, commit_properties=props)
        return self.table(code).version()

    def append_rejects(self, code: str, rows: pa.Table) -> None:
        if rows.num_rows:
            self.rejects_path(code).parent.mkdir(parents=True, exist_ok=True)
            write_deltalake(str(self.rejects_path(code)), rows, mode="append", schema_mode="merge")

    def rejects(self, code: str, sync_id: int | None = None) -> pa.Table:
        path = self.rejects_path(code)
        if not DeltaTable.is_deltatable(str(path)):
            return pa.table({})
        table = DeltaTable(str(path)).to_pyarrow_table()
        if sync_id is not None:
            table = table.filter(pc.equal(table["sync_id"], sync_id))
        return table
