"""The portal's operator pages (运维): the center's figures and latest syncs here; sync runs,
accounts and the audit log in the `ops_*` modules, whose routes this router carries. Only the
center's staff may open them."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import selectinload

from cityhub.catalog import service
from cityhub.catalog.models import Dataset, SyncRun
from cityhub.portal import ops_audit, ops_syncs, ops_users
from cityhub.portal.ops_web import Db, Me, Svc, show, staff_gate

router = APIRouter(include_in_schema=False)
LATEST_RUNS = 10
WAITING_SHOWN = 50


@router.get("/ops")
def overview(request: Request, me: Me, svc: Svc, db: Db) -> Response:
    if (gate := staff_gate(request, me)) is not None:
        return gate
    figures = svc.answers.get(db, ("stats",), lambda: service.stats(db))
    no_data = Dataset.current_version.is_(None)
    waiting = db.scalars(
        sa.select(Dataset)
        .where(no_data)
        .options(selectinload(Dataset.department))
        .order_by(Dataset.code)
        .limit(WAITING_SHOWN)
    ).all()
    waiting_total = db.scalar(sa.select(sa.func.count(Dataset.id)).where(no_data)) or 0
    latest, _ = ops_syncs.find_runs(db, limit=LATEST_RUNS)
    failed = db.scalar(sa.select(sa.func.count(SyncRun.id)).where(SyncRun.status == "failed"))
    return show(
        request,
        "overview.html",
        me,
        figures=figures,
        waiting=waiting,
        waiting_total=waiting_total,
        latest=latest,
        failed=failed or 0,
    )


for part in (ops_syncs, ops_users, ops_audit):
    router.include_router(part.router)
