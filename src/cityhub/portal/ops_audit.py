"""The operator page of the audit log: search it, newest first, and verify its hash chain."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cityhub.access import audit_read
from cityhub.access.models import AuditRecord
from cityhub.access.sharing import LOCAL
from cityhub.portal.ops_web import Db, Me, Svc, show, staff_gate
from cityhub.portal.web import gettext_for

router = APIRouter(include_in_schema=False)
LIMIT = 200
# Offered as the action filter's suggestions; any other action can still be typed.
ACTIONS = (
    "read",
    "rejects.read",
    "login",
    "login.failed",
    "logout",
    "user.register",
    "user.add",
    "user.change",
    "token.create",
    "token.revoke",
    "request.submit",
    "request.approve",
    "request.refuse",
    "request.withdraw",
    "grant.revoke",
    "calendar.set",
    "calendar.remove",
    "sync.rerun",
)


def when(value: str, *, end: bool = False) -> datetime | None:
    """A date (or date and time) typed in the form, in the center's time. A bare date as the
    end of a range includes that whole day. Raises ValueError when it is neither."""
    value = value.strip()
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL)
    if end and len(value) == 10:  # YYYY-MM-DD: until the next day begins
        moment += timedelta(days=1)
    return moment


@router.get("/ops/audit")
def audit_page(
    request: Request,
    me: Me,
    svc: Svc,
    db: Db,
    actor: str = "",
    dataset: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
    verify: str = "",
) -> Response:
    if (gate := staff_gate(request, me)) is not None:
        return gate
    _ = gettext_for(request)
    error = None
    records: list[AuditRecord] = []
    try:
        start, end = when(since), when(until, end=True)
    except ValueError:
        error = _("Write the dates as YYYY-MM-DD.")
    else:
        records = audit_read.search(
            db,
            actor=actor.strip() or None,
            dataset=dataset.strip() or None,
            action=action.strip() or None,
            since=start,
            until=end,
            limit=LIMIT,
        )
    # The whole chain is read: worth it when asked for, not on every search.
    verdict = svc.audit.verify() if verify else None
    return show(
        request,
        "audit.html",
        me,
        http_status=400 if error else 200,
        error=error,
        records=records,
        limit=LIMIT,
        actions=ACTIONS,
        query={
            "actor": actor,
            "dataset": dataset,
            "action": action,
            "since": since,
            "until": until,
        },
        verdict=verdict,
        algorithm=svc.audit.algorithm,
    )
