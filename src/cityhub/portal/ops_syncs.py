"""Operator pages of the sync runs: every run, filtered and paged; one run with its schema
changes and its rejected rows and their reasons; a re-run of the same source."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, cast

import pyarrow as pa
import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cityhub.access import Caller
from cityhub.api.accounts import audit
from cityhub.api.deps import Services
from cityhub.catalog import service
from cityhub.catalog.models import Dataset, SyncRun
from cityhub.errors import CityhubError, Conflict, InvalidInput, NotFound
from cityhub.ingest import SyncOptions, sync_file
from cityhub.lake import Mode
from cityhub.portal.ops_web import Db, Me, Svc, link, page_count, show, staff_gate
from cityhub.portal.web import form, gettext_for, redirect

router = APIRouter(include_in_schema=False)
RUNS_PER_PAGE = 50
REJECTS_PER_PAGE = 50
STATUSES = ("succeeded", "failed", "running")
LOADS = ("replace", "append", "upsert")  # the modes a file was loaded with (not a rollback)


@dataclass(frozen=True)
class RunRow:
    """A run with the dataset it loaded, as the lists show it."""

    run: SyncRun
    code: str
    name: str


def find_runs(
    db: Session,
    *,
    status: str | None = None,
    dataset: str | None = None,
    limit: int = RUNS_PER_PAGE,
    offset: int = 0,
) -> tuple[list[RunRow], int]:
    """Runs newest first, with how many match in all."""
    where: list[Any] = []
    if status:
        where.append(SyncRun.status == status)
    if dataset:
        where.append(Dataset.code == dataset)
    joined = sa.select(SyncRun, Dataset.code, Dataset.name).join(
        Dataset, Dataset.id == SyncRun.dataset_id
    )
    rows = db.execute(
        joined.where(*where).order_by(SyncRun.id.desc()).limit(limit).offset(offset)
    ).all()
    total = db.scalar(
        sa.select(sa.func.count(SyncRun.id))
        .join(Dataset, Dataset.id == SyncRun.dataset_id)
        .where(*where)
    )
    return [RunRow(run, code, name) for run, code, name in rows], int(total or 0)


def _run(db: Session, run_id: int) -> tuple[SyncRun, Dataset]:
    run = db.get(SyncRun, run_id)
    if run is None:
        raise NotFound(f"no sync run {run_id}")
    ds = db.get(Dataset, run.dataset_id)
    assert ds is not None  # runs go with their dataset (ON DELETE CASCADE)
    return run, ds


def why_not_rerun(run: SyncRun, _: Callable[[str], str]) -> str | None:
    """Why a run cannot be loaded again, in the page's language, or None."""
    if run.status == "running":
        return _("This run has not finished yet.")
    if run.mode not in LOADS:
        return _("A rollback is not a load of a file; roll back again from the command line.")
    if not Path(run.source).is_file():
        return _("The source file is no longer there.")
    return None


def rejects_page(
    svc: Services, code: str, run_id: int, page: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of a run's rejected rows in the order of the source, and how many there are."""
    table = svc.hub.lake.rejects(code, run_id)
    if not table.num_columns or not table.num_rows:
        return [], 0
    # Rejects are written as found (structural ones first): sorted, they read like the file.
    ordered = table.sort_by([("sheet", "ascending"), ("line", "ascending")])
    start = (page - 1) * REJECTS_PER_PAGE
    part: pa.Table = ordered.slice(start, REJECTS_PER_PAGE)
    return part.to_pylist(), ordered.num_rows


@router.get("/ops/syncs")
def runs_page(
    request: Request,
    me: Me,
    db: Db,
    status: str | None = None,
    dataset: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    if (gate := staff_gate(request, me)) is not None:
        return gate
    status = status if status in STATUSES else None
    rows, total = find_runs(
        db,
        status=status,
        dataset=dataset or None,
        offset=(page - 1) * RUNS_PER_PAGE,
    )
    # datasets that have runs, for the filter's choices
    choices = db.execute(
        sa.select(Dataset.code, Dataset.name)
        .where(Dataset.id.in_(sa.select(SyncRun.dataset_id)))
        .order_by(Dataset.code)
    ).all()
    return show(
        request,
        "syncs.html",
        me,
        runs=rows,
        total=total,
        chosen_status=status or "",
        chosen_dataset=dataset or "",
        choices=choices,
        page=page,
        pages=page_count(total, RUNS_PER_PAGE),
        link=lambda **change: link(
            "/ops/syncs", **{"status": status, "dataset": dataset, "page": page, **change}
        ),
    )


@router.get("/ops/syncs/{run_id}")
def run_page(
    request: Request,
    run_id: int,
    me: Me,
    svc: Svc,
    db: Db,
    page: Annotated[int, Query(ge=1)] = 1,
    rerun: int | None = None,
) -> Response:
    if (gate := staff_gate(request, me)) is not None:
        return gate
    run, ds = _run(db, run_id)
    changes = [c for c in service.schema_changes(db, ds.code) if c.sync_id == run.id]
    rejects, total = rejects_page(svc, ds.code, run.id, page)
    if rejects:
        # rejected rows hold the source's raw values, personal data included: a read like any
        audit(svc, None, me, "rejects.read", dataset=ds.code, rows=len(rejects), sync=run.id)
    blocked = why_not_rerun(run, gettext_for(request))
    return show(
        request,
        "sync.html",
        me,
        run=run,
        dataset=ds,
        changes=changes,
        rejects=rejects,
        rejects_total=total,
        page=page,
        pages=page_count(total, REJECTS_PER_PAGE),
        link=lambda **change: link(f"/ops/syncs/{run.id}", **{"page": page, **change}),
        rerun_of=rerun,
        blocked=blocked,
        default_ratio=svc.hub.settings.max_reject_ratio * 100,
        source_name=Path(run.source).name,
    )


def _ratio(value: object, request: Request) -> float | None:
    """The form's "at most this percent rejected", as a fraction; blank: the settings'."""
    text = str(value or "").strip().rstrip("%").strip()
    if not text:
        return None
    try:
        percent = float(text)
    except ValueError:
        percent = -1.0
    if not 0 <= percent <= 100:
        _ = gettext_for(request)
        raise InvalidInput(_("The share of rejected rows is a percent from 0 to 100."))
    return percent / 100


@router.post("/ops/syncs/{run_id}/rerun")
async def rerun(request: Request, run_id: int, me: Me, svc: Svc) -> Response:
    """Load the run's source again into its dataset, the same way; show the new run, which
    is recorded whether it succeeds or fails."""
    if (gate := staff_gate(request, me, f"/ops/syncs/{run_id}")) is not None:
        return gate
    data = await form(request)
    ratio = _ratio(data.get("max_reject_ratio"), request)
    allow_breaking = data.get("allow_breaking") == "1"
    # The load may take long: on a worker thread, not the event loop (the browser waits).
    new_id = await run_in_threadpool(_load_again, request, svc, me, run_id, ratio, allow_breaking)
    return redirect(request, f"/ops/syncs/{new_id}?rerun={run_id}")


def _load_again(
    request: Request,
    svc: Services,
    me: Caller,
    run_id: int,
    ratio: float | None,
    allow_breaking: bool,
) -> int:
    hub = svc.hub
    with hub.db.session() as s:
        run, ds = _run(s, run_id)
        blocked = why_not_rerun(run, gettext_for(request))
        if blocked:
            raise Conflict(blocked) if run.status == "running" else InvalidInput(blocked)
        code, dataset_id, source, mode = ds.code, ds.id, run.source, run.mode
        newest = s.scalar(sa.select(sa.func.max(SyncRun.id))) or 0
    options = SyncOptions(
        mode=cast(Mode, mode), max_reject_ratio=ratio, allow_breaking=allow_breaking
    )
    try:
        new_id = sync_file(hub, code, Path(source), options).sync_id
    except CityhubError:
        # sync_file records the failed run before raising, without naming it: it is this
        # dataset's first run of this source since the one read above
        with hub.db.session() as s:
            found = s.scalar(
                sa.select(SyncRun.id)
                .where(
                    SyncRun.dataset_id == dataset_id,
                    SyncRun.source == source,
                    SyncRun.id > newest,
                )
                .order_by(SyncRun.id)
                .limit(1)
            )
        if found is None:  # refused before it started: nothing to show but the error
            raise
        new_id = found
    with hub.db.session() as s:
        new = s.get(SyncRun, new_id)
        assert new is not None
        new.operator = me.name  # who asked for it, rather than the server's configured name
        audit(
            svc,
            s,
            me,
            "sync.rerun",
            dataset=code,
            version=new.version,
            rows=new.rows_written,
            sync=run_id,
            new_sync=new_id,
            status=new.status,
            mode=mode,
            source=source,
        )
    return new_id
