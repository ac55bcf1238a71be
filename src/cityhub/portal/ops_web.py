"""What the operator pages share: who may open them, the audit of what they change, times in the
center's own zone, links and paging."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from cityhub.access import Caller, Role, Scope
from cityhub.access.audit import utc
from cityhub.api.deps import Services, session
from cityhub.errors import Forbidden
from cityhub.portal.web import (
    gettext_for,
    local_time,
    login_redirect,
    redirect,
    render,
    services,
    who,
)

Me = Annotated[Caller, Depends(who)]
Svc = Annotated[Services, Depends(services)]
Db = Annotated[Session, Depends(session)]


def is_admin(me: Caller) -> bool:
    """May change users and tokens: the admin role, with the admin scope on this token."""
    return Role.ADMIN in me.roles and me.can(Scope.ADMIN)


def staff_gate(request: Request, me: Caller, back: str | None = None) -> Response | None:
    """None when `me` is the center's staff. Anonymous visitors are sent to log in, to come
    back to `back` (a POST's page, as a login cannot replay the POST) or to this page; anyone
    else is refused."""
    if me.is_operator:
        return None
    if me.anonymous:
        return redirect(request, f"/login?next={quote(back)}") if back else login_redirect(request)
    _ = gettext_for(request)
    raise Forbidden(_("These pages are for the center's staff only."))


def require_admin(request: Request, me: Caller) -> None:
    if not is_admin(me):
        _ = gettext_for(request)
        raise Forbidden(_("Only an administrator may change users and tokens."))


def local(when: datetime | None) -> str:
    """A stored time (UTC, naive on SQLite) as the center's wall-clock time."""
    return local_time(when, seconds=True)


def iso(when: datetime | None) -> str:
    """A stored time as ISO-8601 UTC, for `<time datetime>`."""
    return utc(when).isoformat() if when is not None else ""


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def link(path: str, **params: Any) -> str:
    """`path` with the given query parameters, empty ones (and page 1) left out."""
    kept = {k: v for k, v in params.items() if v not in (None, "") and not (k == "page" and v == 1)}
    return path + ("?" + urlencode(kept) if kept else "")


def page_count(total: int, per: int) -> int:
    return max(1, -(-total // per))


def show(
    request: Request, template: str, me: Caller, http_status: int = 200, **context: Any
) -> HTMLResponse:
    """An operator page (`http_status`: its answer's), with the helpers they all use."""
    return render(
        request,
        f"ops/{template}",
        status=http_status,
        me=me,
        is_admin=is_admin(me),
        local=local,
        iso=iso,
        duration=duration,
        **context,
    )
