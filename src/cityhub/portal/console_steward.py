"""The stewards' console: the inbox of requests for their department's datasets with the
working-day countdown, the decision on one request (approve, narrowed, each field clear, masked
or pseudonymised; or refuse with a reason), the grants given with their revocation, and the
edit of their datasets' catalog records and fields' grades.

Only stewards of the owning department (and admins) may use these pages; anyone else gets the
403 page. Every decision goes through the workflow, every edit is audited with it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from cityhub.access import Caller, Role, sharing
from cityhub.access.models import AccessRequest
from cityhub.access.policy import effective_grade
from cityhub.access.sharing import FILTER_OPS, default_treatment
from cityhub.api.accounts import audit
from cityhub.api.deps import Services
from cityhub.catalog import service
from cityhub.catalog.models import Dataset
from cityhub.catalog.vocab import DataType, Grade, OpenType, ShareType, UpdateCycle
from cityhub.errors import CityhubError, Forbidden, InvalidInput, NotFound
from cityhub.portal import i18n
from cityhub.portal.console_base import (
    Db,
    Gettext,
    Me,
    Posted,
    Svc,
    describe_filters,
    present_fields,
    row_filter_of,
    text,
    whole,
    words,
)
from cityhub.portal.console_requests import field_titles, grade_label, grant_row
from cityhub.portal.public import vocab_label
from cityhub.portal.web import gettext_for, local_day, local_time, login_redirect, redirect, render

router = APIRouter(include_in_schema=False)
INBOX = "/steward/inbox"


def _is_steward(me: Caller) -> bool:
    return Role.STEWARD in me.roles or Role.ADMIN in me.roles


def _check_steward(request: Request, me: Caller) -> Response | None:
    """A login page for the anonymous; the 403 page for those who steward nothing."""
    if me.anonymous:
        return login_redirect(request)
    if not _is_steward(me):
        _ = gettext_for(request)
        raise Forbidden(_("These pages are for the stewards of a department's data."))
    return None


def _check_owner(request: Request, me: Caller, ds: Dataset) -> None:
    if not me.stewards(ds.department_id):
        _ = gettext_for(request)
        raise Forbidden(
            _("Only the stewards of %(department)s may do this.")
            % {"department": ds.department.name}
        )


# -- the inbox -------------------------------------------------------------------------------------


def _urgency(r: AccessRequest) -> tuple[int, int, int]:
    # pending first, the nearest deadline first; then the rest, newest first
    if r.status == "pending":
        return (0, r.due_on.toordinal(), r.id)
    return (1, 0, -r.id)


def _inbox_page(
    request: Request,
    me: Caller,
    s: Session,
    *,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    _ = gettext_for(request)
    vocab = words(_)
    found = sorted(sharing.requests_for(s, me, box="inbox"), key=_urgency)
    rows = [
        {
            "r": r,
            "left": sharing.working_days_left(s, r) if r.status == "pending" else None,
            "overdue": sharing.is_overdue(r),
            "fields": field_titles(r.dataset, r.fields),
            "filters": describe_filters(r.dataset, r.row_filter, vocab["op"]),
        }
        for r in found
    ]
    admin = Role.ADMIN in me.roles
    given = [
        g
        for g in sharing.grants_for(s, me)
        if admin or (me.department_id is not None and g.dataset.department_id == me.department_id)
    ]
    grants = [grant_row(g, vocab["op"]) for g in given]
    mine = service.list_datasets(s, None if admin else me.department)
    notices = {
        "approved": _("The request is approved: the grant holds from now on."),
        "refused": _("The request is refused; the requester sees your reason."),
        "revoked": _("The grant is revoked: reads under it are refused from now on."),
    }
    return render(
        request,
        "steward/inbox.html",
        status=status,
        me=me,
        requests=rows,
        grants=grants,
        datasets=mine,
        pending=sum(1 for r in found if r.status == "pending"),
        notice=notices.get(request.query_params.get("done", "")),
        error=error,
        words=vocab,
        when=local_time,
        day=local_day,
    )


@router.get(INBOX, response_class=HTMLResponse)
def inbox(request: Request, me: Me, db: Db) -> Response:
    """Requests for the department's datasets, pending first with their countdown; the grants
    given on them; the datasets to edit."""
    return _check_steward(request, me) or _inbox_page(request, me, db)


@router.post("/steward/grants/{grant_id}/revoke")
def revoke_grant(request: Request, grant_id: int, me: Me, svc: Svc, data: Posted) -> Response:
    """End a grant now, with the reason (the workflow audits it)."""
    if (page := _check_steward(request, me)) is not None:
        return page
    _ = gettext_for(request)
    try:
        reason = text(data, "reason", 2000)
        if not reason:
            raise InvalidInput(_("Give the reason for revoking the grant."))
        with svc.hub.db.session() as s:
            svc.workflow.revoke(s, me, grant_id, reason)
    except (Forbidden, NotFound):
        raise
    except CityhubError as exc:
        with svc.hub.db.session() as s:
            return _inbox_page(request, me, s, error=exc.message, status=exc.status)
    return redirect(request, f"{INBOX}?done=revoked")


# -- one request -----------------------------------------------------------------------------------


def _request_page(
    request: Request,
    me: Caller,
    s: Session,
    request_id: int,
    *,
    data: FormData | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    _ = gettext_for(request)
    vocab = words(_)
    r = s.get(AccessRequest, request_id)
    if r is None:
        raise NotFound(_("There is no request %(id)s.") % {"id": request_id})
    ds = r.dataset
    _check_owner(request, me, ds)
    asked = set(r.fields) if r.fields else None
    fields = [f for f in present_fields(ds) if asked is None or f.name in asked]
    if data is None:  # first view: every asked field, with its default treatment
        chosen = {f.name: default_treatment(f).value for f in fields}
        values: dict[str, Any] = {"days": r.days, "op": "eq", "note": "", "reason": ""}
    else:
        by_name = {f.name: f for f in fields}
        chosen = {
            n: text(data, f"treatment-{n}", 20) or default_treatment(by_name[n]).value
            for n in map(str, data.getlist("grant"))
            if n in by_name
        }
        values = {
            "days": text(data, "days"),
            "filter_field": text(data, "filter-field"),
            "op": text(data, "filter-op") or "eq",
            "filter_value": text(data, "filter-value"),
            "note": text(data, "note"),
            "reason": text(data, "reason"),
        }
    lang = i18n.pick(request)
    return render(
        request,
        "steward/request.html",
        status=status,
        me=me,
        r=r,
        ds=ds,
        fields=fields,
        all_fields=present_fields(ds),
        chosen=chosen,
        defaults={f.name: default_treatment(f).value for f in fields},
        left=sharing.working_days_left(s, r) if r.status == "pending" else None,
        overdue=sharing.is_overdue(r),
        asked_titles=field_titles(ds, r.fields),
        filters=describe_filters(ds, r.row_filter, vocab["op"]),
        ops=FILTER_OPS,
        treatments=("clear", "mask", "pseudonym"),
        values=values,
        error=error,
        words=vocab,
        grade_label=grade_label(lang),
        effective_grade=effective_grade,
        when=local_time,
        day=local_day,
    )


@router.get("/steward/requests/{request_id}", response_class=HTMLResponse)
def request_page(request: Request, request_id: int, me: Me, db: Db) -> Response:
    """One request, with the approval form (narrowing allowed) and the refusal form."""
    return _check_steward(request, me) or _request_page(request, me, db, request_id)


def _decide(
    request: Request, request_id: int, me: Caller, svc: Services, data: FormData, approve: bool
) -> Response:
    _ = gettext_for(request)
    try:
        with svc.hub.db.session() as s:
            r = s.get(AccessRequest, request_id)
            if r is None:
                raise NotFound(_("There is no request %(id)s.") % {"id": request_id})
            _check_owner(request, me, r.dataset)
            if approve:
                chosen = [str(n) for n in data.getlist("grant")]
                if not chosen:
                    raise InvalidInput(_("Grant at least one field, or refuse the request."))
                days = whole(
                    data,
                    "days",
                    1,
                    r.days,
                    _("The duration is from 1 to the %(n)s days asked for.") % {"n": r.days},
                )
                svc.workflow.decide(
                    s,
                    me,
                    request_id,
                    approve=True,
                    reason=text(data, "note", 2000) or None,
                    fields={n: text(data, f"treatment-{n}", 20) for n in chosen},
                    row_filter=row_filter_of(data),
                    days=days,
                )
            else:
                reason = text(data, "reason", 2000)
                if not reason:
                    raise InvalidInput(
                        _("Give the reason for the refusal: the requester reads it.")
                    )
                svc.workflow.decide(s, me, request_id, approve=False, reason=reason)
    except (Forbidden, NotFound):
        raise
    except CityhubError as exc:
        with svc.hub.db.session() as s:
            return _request_page(
                request, me, s, request_id, data=data, error=exc.message, status=exc.status
            )
    return redirect(request, f"{INBOX}?done={'approved' if approve else 'refused'}")


@router.post("/steward/requests/{request_id}/approve")
def approve(request: Request, request_id: int, me: Me, svc: Svc, data: Posted) -> Response:
    """Approve with the checked fields, each with its treatment, an extra row filter, days."""
    return _check_steward(request, me) or _decide(request, request_id, me, svc, data, True)


@router.post("/steward/requests/{request_id}/refuse")
def refuse(request: Request, request_id: int, me: Me, svc: Svc, data: Posted) -> Response:
    """Refuse with the reason the requester will read."""
    return _check_steward(request, me) or _decide(request, request_id, me, svc, data, False)


# -- editing a dataset's catalog record ------------------------------------------------------------

TEXTS = ("name", "summary", "share_condition", "open_condition", "legal_basis")
CHOICES: dict[str, type[ShareType] | type[OpenType] | type[UpdateCycle]] = {
    "share_type": ShareType,
    "open_type": OpenType,
    "update_cycle": UpdateCycle,
}
LISTS = ("themes", "tags")


def _record_values(ds: Dataset) -> dict[str, str]:
    out = {k: getattr(ds, k) or "" for k in (*TEXTS, *CHOICES)}
    out.update({k: ", ".join(getattr(ds, k) or []) for k in LISTS})
    return out


def _field_values(ds: Dataset, data: FormData | None) -> dict[str, dict[str, str]]:
    if data is None:
        return {
            f.name: {"grade": effective_grade(f), "masking": f.masking or ""}
            for f in present_fields(ds)
        }
    return {
        f.name: {
            "grade": text(data, f"grade-{f.name}", 8),
            "masking": text(data, f"masking-{f.name}", 32),
        }
        for f in present_fields(ds)
    }


def _edit_page(
    request: Request,
    me: Caller,
    ds: Dataset,
    *,
    data: FormData | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    _ = gettext_for(request)
    lang = i18n.pick(request)
    if data is None:
        values = _record_values(ds)
    else:
        values = {k: text(data, k) for k in (*TEXTS, *CHOICES, *LISTS)}
    notices = {
        "saved": _("Saved. The catalog shows the change from now on."),
        "unchanged": _("Nothing was changed."),
    }
    return render(
        request,
        "steward/dataset_edit.html",
        status=status,
        me=me,
        ds=ds,
        fields=present_fields(ds),
        values=values,
        field_values=_field_values(ds, data),
        choices={
            key: [(m.value, vocab_label(lang, vocab, m.value)) for m in vocab]
            for key, vocab in CHOICES.items()
        },
        grades=[g.value for g in Grade],
        grade_label=grade_label(lang),
        type_label=lambda v: vocab_label(lang, DataType, v),
        notice=notices.get(request.query_params.get("done", "")),
        error=error,
    )


def _edit_ds(request: Request, me: Caller, s: Session, code: str) -> Dataset:
    ds = service.get_dataset(s, code)
    _check_owner(request, me, ds)
    return ds


@router.get("/steward/datasets/{code}/edit", response_class=HTMLResponse)
def edit_page(request: Request, code: str, me: Me, db: Db) -> Response:
    """The catalog record and the fields' grades and masking rules of one of one's datasets."""
    if (page := _check_steward(request, me)) is not None:
        return page
    return _edit_page(request, me, _edit_ds(request, me, db, code))


def _attrs(data: FormData, ds: Dataset, _: Gettext) -> dict[str, Any]:
    """The record's attributes as posted, checked where the form offers a choice."""
    attrs: dict[str, Any] = {}
    for key in TEXTS:
        value = text(data, key)
        if value or getattr(ds, key):  # an empty box leaves an empty attribute alone
            attrs[key] = value
    if not attrs.get("name"):
        raise InvalidInput(_("A dataset needs a name (资源名称)."))
    labels = {
        "share_type": _("Unknown share type %(value)s: choose one from the list."),
        "open_type": _("Unknown open type %(value)s: choose one from the list."),
        "update_cycle": _("Unknown update cycle %(value)s: choose one from the list."),
    }
    for key, vocab in CHOICES.items():
        value = text(data, key, 64)
        if not value:
            continue
        if value not in {m.value for m in vocab}:
            raise InvalidInput(labels[key] % {"value": value})
        attrs[key] = value
    for key in LISTS:
        raw = text(data, key).replace("，", ",").replace("、", ",")
        attrs[key] = [t.strip() for t in raw.split(",") if t.strip()]
    return attrs


def _save(
    request: Request, me: Caller, svc: Services, s: Session, ds: Dataset, data: FormData
) -> bool:
    """Apply the posted record and fields; audit each change with it. Whether anything changed."""
    _ = gettext_for(request)
    attrs = _attrs(data, ds, _)
    before = {k: getattr(ds, k) for k in attrs}
    service.upsert_dataset(s, ds.code, ds.department.code, **attrs)
    changed = [k for k in attrs if (getattr(ds, k) or None) != (before[k] or None)]
    if changed:
        audit(svc, s, me, "dataset.edit", dataset=ds.code, changed=changed)
    grades = {g.value for g in Grade}
    for f in present_fields(ds):
        grade = text(data, f"grade-{f.name}", 8)
        masking = text(data, f"masking-{f.name}", 32)
        edits: dict[str, str | None] = {}
        if grade and grade != effective_grade(f):
            if grade not in grades:
                raise InvalidInput(
                    _("Field %(field)s: unknown grade %(value)s.")
                    % {"field": f.title, "value": grade}
                )
            edits["grade"] = grade
        if masking != (f.masking or ""):
            edits["masking"] = masking or None
        if not edits:
            continue
        try:
            service.set_field(
                s,
                ds.code,
                f.name,
                grade=edits.get("grade"),
                masking=(edits["masking"] or "default") if "masking" in edits else None,
            )
        except InvalidInput as exc:
            raise InvalidInput(
                _("Field %(field)s: %(problem)s") % {"field": f.title, "problem": exc.message}
            ) from exc
        audit(svc, s, me, "field.edit", dataset=ds.code, fields=[f.name], **edits)
        changed.append(f.name)
    return bool(changed)


@router.post("/steward/datasets/{code}/edit")
def save_dataset(request: Request, code: str, me: Me, svc: Svc, data: Posted) -> Response:
    """Save the record (service.upsert_dataset) and the fields (service.set_field)."""
    if (page := _check_steward(request, me)) is not None:
        return page
    try:
        with svc.hub.db.session() as s:
            changed = _save(request, me, svc, s, _edit_ds(request, me, s, code), data)
    except (Forbidden, NotFound):
        raise
    except CityhubError as exc:
        with svc.hub.db.session() as s:
            ds = _edit_ds(request, me, s, code)
            return _edit_page(request, me, ds, data=data, error=exc.message, status=exc.status)
    done = "saved" if changed else "unchanged"
    return redirect(request, f"/steward/datasets/{code}/edit?done={done}")
