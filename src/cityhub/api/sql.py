"""Read-only SQL over the datasets a caller may read: POST /api/v1/sql."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from cityhub.access import Caller, TableView
from cityhub.api.answer import JSONRoute
from cityhub.api.deps import Services, caller, services, session
from cityhub.catalog.models import Dataset
from cityhub.errors import NotFound
from cityhub.query import sql as user_sql

router = APIRouter(prefix="/api/v1", tags=["sql"], route_class=JSONRoute)


class SqlRequest(BaseModel):
    sql: str = Field(
        description='One SELECT over dataset codes, e.g. SELECT xing_bie, count(*) FROM "GA-001" '
        "GROUP BY 1",
        examples=['SELECT count(*) AS n FROM "330400-GA-0001"'],
    )
    limit: int | None = Field(None, ge=1, description="rows at most (capped by the server)")


def resolver(svc: Services, who: Caller, db: Session) -> Callable[[str], TableView | None]:
    """Table name → the caller's view of that dataset's current version, or None when there is
    no such dataset the caller may see (both answer "unknown table")."""

    def resolve(name: str) -> TableView | None:
        code = db.scalar(
            svc.door.datasets(who)
            .with_only_columns(Dataset.code)
            .where(sa.func.lower(Dataset.code) == name.lower())
        )
        if code is None:
            return None
        try:
            return svc.door.table(db, who, code)
        except NotFound:
            return None  # cataloged only: no table to read yet

    return resolve


def run_sql(
    svc: Services, who: Caller, db: Session, text: str, limit: int | None
) -> user_sql.Answer:
    settings = svc.hub.settings
    answer = user_sql.run(
        svc.engine,
        text,
        resolver(svc, who, db),
        max_rows=min(limit or settings.sql_max_rows, settings.sql_max_rows),
        timeout=settings.sql_timeout_seconds,
        max_length=settings.sql_max_length,
    )
    for view in answer.views:
        svc.door.record_read(who, view, len(answer.rows), f"sql {text!r}")
    return answer


@router.post("/sql", summary="Read-only SQL (one SELECT over dataset codes)")
def sql(
    body: SqlRequest,
    svc: Annotated[Services, Depends(services)],
    who: Annotated[Caller, Depends(caller)],
    db: Annotated[Session, Depends(session)],
) -> dict[str, Any]:
    answer = run_sql(svc, who, db, body.sql, body.limit)
    return {
        "columns": answer.columns,
        "rows": answer.rows,
        "row_count": len(answer.rows),
        "truncated": answer.truncated,
        "datasets": [{"code": v.code, "version": v.version} for v in answer.views],
    }
