"""The sharing workflow over HTTP (/api/v1): requests, decisions, grants, the working-day
calendar, and the audit log for inspectors. The rules live in `cityhub.access.sharing`."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from cityhub.access import Caller, audit_read, sharing
from cityhub.access import audit as audit_log
from cityhub.access.models import AccessRequest, Grant
from cityhub.api.accounts import audit
from cityhub.api.deps import Services, caller, services, session
from cityhub.errors import Forbidden, NotFound

router = APIRouter(prefix="/api/v1", tags=["sharing"])
Svc = Annotated[Services, Depends(services)]
Who = Annotated[Caller, Depends(caller)]
Db = Annotated[Session, Depends(session)]


class RowFilter(BaseModel):
    field: str
    op: str = "eq"
    value: Any = None


class NewRequest(BaseModel):
    dataset: str = Field(description="dataset code")
    purpose: str = Field(min_length=1, description="what the data is for (用途)")
    fields: list[str] = Field(default_factory=list, description="wanted fields; none: all")
    row_filter: list[RowFilter] = Field(default_factory=list, description="only these rows")
    days: int = Field(365, ge=1, description="how long the grant should last")
    accept_terms: bool = Field(False, description="the public: accept the dataset's terms")


class Approval(BaseModel):
    fields: dict[str, Literal["clear", "mask", "pseudonym"]] | list[str] | None = Field(
        None, description="narrow the fields, with a treatment each (default by grade)"
    )
    row_filter: list[RowFilter] = Field(default_factory=list, description="narrow the rows")
    days: int | None = Field(None, ge=1, description="shorten the duration")
    note: str | None = None


class Refusal(BaseModel):
    reason: str = Field(min_length=1, description="why (拒绝理由), shown to the requester")


class Revocation(BaseModel):
    reason: str = Field(min_length=1)


class Day(BaseModel):
    kind: Literal["holiday", "workday"]
    name: str | None = None


def request_json(s: Session, r: AccessRequest) -> dict[str, Any]:
    ds = r.dataset
    return {
        "id": r.id,
        "dataset": {"code": ds.code, "name": ds.name, "department": ds.department.code},
        "requester": r.requester.username,
        "department": r.department.code if r.department is not None else None,
        "purpose": r.purpose,
        "fields": r.fields,
        "row_filter": r.row_filter,
        "days": r.days,
        "terms_accepted": r.terms_accepted,
        "status": r.status,
        "submitted_at": r.submitted_at,
        "due_on": r.due_on,
        "overdue": sharing.is_overdue(r),
        "working_days_left": sharing.working_days_left(s, r) if r.status == "pending" else None,
        "decided_at": r.decided_at,
        "reason": r.reason,
    }


def grant_json(g: Grant) -> dict[str, Any]:
    return {
        "id": g.id,
        "request": g.request_id,
        "dataset": g.dataset.code,
        "department": g.department.code if g.department is not None else None,
        "user": g.user.username if g.user is not None else None,
        "fields": g.fields,
        "row_filter": g.row_filter,
        "purpose": g.purpose,
        "granted_at": g.granted_at,
        "expires_at": g.expires_at,
        "revoked_at": g.revoked_at,
        "revoke_reason": g.revoke_reason,
        "state": sharing.grant_state(g),
    }


def _mine_or_answerable(s: Session, who: Caller, r: AccessRequest) -> None:
    if r.requester_id == who.user_id or who.is_operator:
        return
    if who.stewards(r.dataset.department_id):
        return
    raise NotFound(f"no request {r.id}")  # others' requests are not even acknowledged


@router.post("/requests", summary="Request a dataset (共享申请 / 开放申请)", status_code=201)
def submit(body: NewRequest, svc: Svc, who: Who, db: Db) -> dict[str, Any]:
    r = svc.workflow.submit(
        db,
        who,
        body.dataset,
        purpose=body.purpose,
        fields=body.fields,
        row_filter=[f.model_dump() for f in body.row_filter],
        days=body.days,
        accept_terms=body.accept_terms,
    )
    db.refresh(r)
    return request_json(db, r)


@router.get("/requests", summary="Your requests (box=mine) or those you answer (box=inbox)")
def list_requests(
    who: Who,
    db: Db,
    box: Annotated[Literal["mine", "inbox"], Query()] = "mine",
    status: Annotated[
        Literal["pending", "approved", "refused", "withdrawn", "overdue"] | None, Query()
    ] = None,
) -> dict[str, Any]:
    found = sharing.requests_for(db, who, box=box, status=status)
    return {"items": [request_json(db, r) for r in found]}


@router.get("/requests/{request_id}", summary="One request")
def show_request(request_id: int, who: Who, db: Db) -> dict[str, Any]:
    r = db.get(AccessRequest, request_id)
    if r is None:
        raise NotFound(f"no request {request_id}")
    _mine_or_answerable(db, who, r)
    return request_json(db, r)


@router.post("/requests/{request_id}/approve", summary="Approve (a steward of the provider)")
def approve(request_id: int, body: Approval, svc: Svc, who: Who, db: Db) -> dict[str, Any]:
    grant = svc.workflow.decide(
        db,
        who,
        request_id,
        approve=True,
        reason=body.note,
        fields=body.fields,
        row_filter=[f.model_dump() for f in body.row_filter],
        days=body.days,
    )
    assert grant is not None
    db.refresh(grant)
    return grant_json(grant)


@router.post("/requests/{request_id}/refuse", summary="Refuse, with the reason")
def refuse(request_id: int, body: Refusal, svc: Svc, who: Who, db: Db) -> dict[str, Any]:
    svc.workflow.decide(db, who, request_id, approve=False, reason=body.reason)
    r = db.get(AccessRequest, request_id)
    assert r is not None
    return request_json(db, r)


@router.post("/requests/{request_id}/withdraw", summary="Withdraw your pending request")
def withdraw(request_id: int, svc: Svc, who: Who, db: Db) -> dict[str, Any]:
    return request_json(db, svc.workflow.withdraw(db, who, request_id))


@router.get("/grants", summary="Grants you hold, or give as a steward")
def list_grants(who: Who, db: Db, all: bool = False) -> dict[str, Any]:
    return {"items": [grant_json(g) for g in sharing.grants_for(db, who, live_only=not all)]}


@router.post("/grants/{grant_id}/revoke", summary="Revoke a grant: reads under it stop at once")
def revoke(grant_id: int, body: Revocation, svc: Svc, who: Who, db: Db) -> dict[str, Any]:
    return grant_json(svc.workflow.revoke(db, who, grant_id, body.reason))


# -- the calendar and the audit log: the center's staff --------------------------------------------


def _staff(who: Caller) -> None:
    if not who.is_operator:
        raise Forbidden("this is for the center's staff (admins and operators)")


@router.get("/calendar", summary="Holidays and worked weekend days (调休)")
def list_calendar(db: Db, year: int | None = None) -> dict[str, Any]:
    return {
        "items": [
            {"day": d.day, "kind": d.kind, "name": d.name} for d in sharing.list_days(db, year)
        ]
    }


@router.put("/calendar/{day}", summary="Mark a day as a holiday or a working day")
def set_day(day: date, body: Day, svc: Svc, who: Who, db: Db) -> dict[str, Any]:
    _staff(who)
    sharing.set_day(db, day, body.kind, body.name)
    audit(svc, db, who, "calendar.set", day=day.isoformat(), kind=body.kind, name=body.name)
    return {"day": day, "kind": body.kind, "name": body.name}


@router.delete("/calendar/{day}", summary="Back to the ordinary week")
def remove_day(day: date, svc: Svc, who: Who, db: Db) -> dict[str, Any]:
    _staff(who)
    sharing.remove_day(db, day)
    audit(svc, db, who, "calendar.remove", day=day.isoformat())
    return {"day": day, "removed": True}


@router.get("/audit", summary="Search the audit log (the center's staff)")
def search_audit(
    who: Who,
    db: Db,
    actor: str | None = None,
    dataset: str | None = None,
    action: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    _staff(who)
    found = audit_read.search(db, actor=actor, dataset=dataset, action=action, limit=limit)
    return {"items": [audit_log.as_dict(r) for r in found]}


@router.get("/audit/verify", summary="Check the audit log's hash chain")
def verify_audit(svc: Svc, who: Who) -> dict[str, Any]:
    _staff(who)
    verdict = svc.audit.verify()
    return {
        "ok": verdict.ok,
        "checked": verdict.checked,
        "first_bad": verdict.first_bad,
        "problem": verdict.problem,
    }
