"""Reading the audit log: search it, newest first, and export it for checking offline.

The records are written and verified by `access.audit`; an export holds every column but `id`,
so `audit.record_hash` recomputes each record's hash from a line of it.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from typing import Any, Literal, TextIO

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cityhub.access.audit import COLUMNS, TABLE, as_dict, pages, utc
from cityhub.access.models import AuditRecord
from cityhub.errors import InvalidInput

ExportFormat = Literal["jsonl", "csv"]


def _filters(
    actor: str | None = None,
    dataset: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Any]:
    """WHERE clauses; `since` inclusive, `until` exclusive, naive times taken as UTC."""
    where: list[Any] = []
    if actor is not None:
        where.append(TABLE.c.actor == actor)
    if dataset is not None:
        where.append(TABLE.c.dataset == dataset)
    if action is not None:
        where.append(TABLE.c.action == action)
    # SQLite compares the stored UTC text, so the bound must be UTC too.
    if since is not None:
        where.append(TABLE.c.at >= utc(since))
    if until is not None:
        where.append(TABLE.c.at < utc(until))
    return where


def search(
    session: Session,
    *,
    actor: str | None = None,
    dataset: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> list[AuditRecord]:
    """Matching records, newest first, at most `limit`."""
    where = _filters(actor, dataset, action, since, until)
    query = sa.select(AuditRecord).where(*where).order_by(AuditRecord.seq.desc()).limit(limit)
    return list(session.scalars(query))


def export(
    session: Session,
    out: TextIO,
    fmt: ExportFormat = "jsonl",
    *,
    actor: str | None = None,
    dataset: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """Write every matching record to `out` in seq order, as JSON lines or CSV (fields and
    detail as JSON text); returns how many were written."""
    if fmt not in ("jsonl", "csv"):
        raise InvalidInput(f"unknown export format {fmt!r}; use jsonl or csv")
    where = _filters(actor, dataset, action, since, until)
    writer = csv.DictWriter(out, fieldnames=COLUMNS) if fmt == "csv" else None
    if writer:
        writer.writeheader()
    count = 0
    # The paging of verify, for the same reason: the log may hold hundreds of millions.
    for row in pages(session, where):
        d = as_dict(row)
        if writer:
            d["fields"] = json.dumps(d["fields"], ensure_ascii=False)
            d["detail"] = json.dumps(d["detail"], ensure_ascii=False, sort_keys=True)
            writer.writerow(d)
        else:
            out.write(json.dumps(d, ensure_ascii=False, sort_keys=True) + "\n")
        count += 1
    return count
