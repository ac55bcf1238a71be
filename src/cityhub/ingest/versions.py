"""A dataset's versions as people ask for them: the lake's commits joined with the sync runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cityhub.catalog import service
from cityhub.hub import Hub


@dataclass(frozen=True)
class Version:
    version: int
    time: datetime
    operation: str
    rows: int | None  # rows in the dataset at this version
    source: str | None
    source_hash: str | None
    operator: str | None
    sync_id: int | None
    note: str | None


def history(hub: Hub, code: str) -> list[Version]:
    """Newest first. Rows and the source's hash come from the sync that made each version."""
    with hub.db.session() as s:
        runs = {r.id: r for r in service.sync_runs(s, code, limit=None)}
    result = []
    for v in hub.lake.history(code):
        run = runs.get(v.sync_id) if v.sync_id is not None else None
        result.append(
            Version(
                version=v.version,
                time=v.time,
                operation=v.operation,
                rows=run.table_rows if run else None,
                source=v.source,
                source_hash=run.source_hash if run else None,
                operator=v.operator,
                sync_id=v.sync_id,
                note=v.note,
            )
        )
    return result
