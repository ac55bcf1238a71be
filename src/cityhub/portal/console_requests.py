"""Requests in the portal: the form to request a dataset (共享申请, or the public's application for
a conditionally open one), and a user's own requests and live grants.

The rules are the workflow's (`Services.workflow`); a refusal it gives is shown on the form, in
the page's language where the portal knows the case.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from cityhub.access import Caller, sharing
from cityhub.access.models import AccessRequest, Grant
from cityhub.access.sharing import FILTER_OPS
from cityhub.api.deps import Services
from cityhub.catalog.models import Dataset
from cityhub.catalog.vocab import Grade, OpenType, ShareType
from cityhub.errors import CityhubError, NotFound
from cityhub.portal import i18n
from cityhub.portal.console_base import (
    Db,
    Gettext,
    Me,
    Posted,
    Svc,
    describe_filters,
    row_filter_of,
    text,
    whole,
    words,
)
from cityhub.portal.public import vocab_label
from cityhub.portal.web import gettext_for, local_day, local_time, login_redirect, redirect, render

router = APIRouter(include_in_schema=False)
MINE = "/me/requests"


def grade_label(lang: str) -> Any:
    """'L3 敏感' for a grade, in the page's language."""
    return lambda grade: f"{grade} {vocab_label(lang, Grade, grade)}"


def field_titles(ds: Dataset, names: list[str]) -> list[str]:
    titles = {f.name: f.title for f in ds.fields}
    return [titles.get(n, n) for n in names]


# -- the request form ------------------------------------------------------------------------------


def _cautions(ds: Dataset, me: Caller, _: Gettext) -> list[str]:
    """What the workflow will say before the form is sent, so nobody fills it in vain."""
    out = []
    if me.department_id is not None and me.department_id == ds.department_id:
        out.append(_("This is your own department's dataset: you read it directly."))
    elif me.is_public and ds.open_type == OpenType.UNCONDITIONAL.value:
        out.append(_("This dataset is open to all: you read it directly."))
    elif not me.is_public and ds.share_type == ShareType.NOT_SHARED.value:
        out.append(_("This dataset is not shared (不予共享)."))
        if ds.legal_basis:
            out.append(_("Legal basis: %(basis)s") % {"basis": ds.legal_basis})
    return out


def _explain(exc: CityhubError, ds: Dataset, me: Caller, accepted: bool, _: Gettext) -> str:
    """The workflow's refusal in the page's language, for the cases it checks first (in its
    order); anything else as the workflow said it."""
    if me.department_id is not None and me.department_id == ds.department_id:
        return _(
            "%(code)s is your own department's dataset: read it directly, no request is needed."
        ) % {"code": ds.code}
    if me.is_public:
        if ds.open_type == OpenType.UNCONDITIONAL.value:
            return _("%(code)s is open to all: read it directly.") % {"code": ds.code}
        if ds.open_type != OpenType.CONDITIONAL.value:
            return _("%(code)s is not open to the public.") % {"code": ds.code}
        if not accepted:
            return _("Accept the terms of use to apply for %(code)s.") % {"code": ds.code}
    elif ds.share_type == ShareType.NOT_SHARED.value:
        message = _("%(code)s is not shared (不予共享).") % {"code": ds.code}
        if ds.legal_basis:
            message += " " + _("Legal basis: %(basis)s") % {"basis": ds.legal_basis}
        return message
    return exc.message


def _request_form(
    request: Request,
    me: Caller,
    svc: Services,
    s: Session,
    ds: Dataset,
    *,
    values: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    _ = gettext_for(request)
    lang = i18n.pick(request)
    return render(
        request,
        "requests/new.html",
        status=status,
        me=me,
        ds=ds,
        fields=svc.door.fields(s, me, ds),
        ops=FILTER_OPS,
        words=words(_),
        grade_label=grade_label(lang),
        cautions=_cautions(ds, me, _),
        public_form=me.is_public,
        terms=ds.open_condition or _("The terms of use of the center's open data."),
        max_days=svc.hub.settings.grant_max_days,
        values=values or {"fields": [], "days": 365, "op": "eq"},
        error=error,
    )


@router.get("/datasets/{code}/request", response_class=HTMLResponse)
def request_page(request: Request, code: str, me: Me, svc: Svc, db: Db) -> Response:
    """The form: purpose, fields, an optional row filter, duration, and the public's terms."""
    if me.user_id is None:
        return login_redirect(request)
    ds = svc.door.dataset(db, me, code)
    return _request_form(request, me, svc, db, ds)


def _posted_request(data: FormData) -> dict[str, Any]:
    return {
        "purpose": text(data, "purpose"),
        "fields": [str(x) for x in data.getlist("fields")],
        "filter_field": text(data, "filter-field", 300),
        "op": text(data, "filter-op", 20) or "eq",
        "filter_value": text(data, "filter-value", 1000),
        "days": text(data, "days"),
        "accept": data.get("accept_terms") == "yes",
    }


@router.post("/datasets/{code}/request")
def submit_request(request: Request, code: str, me: Me, svc: Svc, data: Posted) -> Response:
    """Submit through the workflow; its refusal is shown on the form, with what was typed."""
    if me.user_id is None:
        return login_redirect(request)
    _ = gettext_for(request)
    values = _posted_request(data)
    max_days = svc.hub.settings.grant_max_days
    try:
        days = whole(
            data, "days", 1, max_days, _("The duration is from 1 to %(n)s days.") % {"n": max_days}
        )
        with svc.hub.db.session() as s:
            made = svc.workflow.submit(
                s,
                me,
                code,
                purpose=values["purpose"],
                fields=values["fields"],
                row_filter=row_filter_of(data),
                days=days,
                accept_terms=values["accept"],
            )
            made_id = made.id
    except CityhubError as exc:
        if isinstance(exc, NotFound) and exc.detail.get("dataset") == code:
            raise
        with svc.hub.db.session() as s:
            ds = svc.door.dataset(s, me, code)
            message = _explain(exc, ds, me, values["accept"], _)
            return _request_form(
                request, me, svc, s, ds, values=values, error=message, status=exc.status
            )
    return redirect(request, f"{MINE}?submitted={made_id}")


# -- my requests and grants ------------------------------------------------------------------------


def _request_row(s: Session, r: AccessRequest, ops: dict[str, str]) -> dict[str, Any]:
    pending = r.status == "pending"
    return {
        "r": r,
        "left": sharing.working_days_left(s, r) if pending else None,
        "overdue": sharing.is_overdue(r),
        "fields": field_titles(r.dataset, r.fields),
        "filters": describe_filters(r.dataset, r.row_filter, ops),
    }


def grant_row(g: Grant, ops: dict[str, str]) -> dict[str, Any]:
    titles = {f.name: f.title for f in g.dataset.fields}
    return {
        "g": g,
        "fields": [(titles.get(name, name), how) for name, how in g.fields.items()],
        "filters": describe_filters(g.dataset, g.row_filter, ops),
    }


@router.get(MINE, response_class=HTMLResponse)
def my_requests(request: Request, me: Me, svc: Svc, db: Db) -> Response:
    """The user's requests with their state and deadline, and the grants they (or their
    department) hold."""
    if me.user_id is None:
        return login_redirect(request)
    _ = gettext_for(request)
    vocab = words(_)
    found = sharing.requests_for(db, me, box="mine")
    held = [
        g
        for g in sharing.grants_for(db, me)
        if g.user_id == me.user_id
        or (me.department_id is not None and g.department_id == me.department_id)
    ]
    submitted = request.query_params.get("submitted", "")
    notices = {
        "withdrawn": _("The request is withdrawn."),
    }
    notice = notices.get(request.query_params.get("done", ""))
    if submitted.isdigit():
        notice = _(
            "Request %(id)s is submitted; the providing department answers it within %(n)s "
            "working days."
        ) % {"id": submitted, "n": svc.hub.settings.answer_working_days}
    return render(
        request,
        "requests/mine.html",
        me=me,
        requests=[_request_row(db, r, vocab["op"]) for r in found],
        grants=[grant_row(g, vocab["op"]) for g in held],
        highlight=int(submitted) if submitted.isdigit() else None,
        notice=notice,
        words=vocab,
        when=local_time,
        day=local_day,
    )


@router.post(MINE + "/{request_id}/withdraw")
def withdraw(request: Request, request_id: int, me: Me, svc: Svc, data: Posted) -> RedirectResponse:
    """Withdraw one's own pending request."""
    if me.user_id is None:
        return login_redirect(request)
    with svc.hub.db.session() as s:
        svc.workflow.withdraw(s, me, request_id)
    return redirect(request, f"{MINE}?done=withdrawn")
