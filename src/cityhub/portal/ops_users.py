"""Operator pages of the accounts: users (add, change roles, deactivate, reactivate) and a
user's tokens (revoke). Operators may look; only administrators change anything, and every
change is audited in its own transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from cityhub.access import Caller, Role, users
from cityhub.access.models import ApiToken, User
from cityhub.api.accounts import audit
from cityhub.api.deps import Services
from cityhub.catalog import service
from cityhub.errors import CityhubError, InvalidInput, NotFound
from cityhub.portal.ops_web import Db, Me, Svc, link, require_admin, show, staff_gate
from cityhub.portal.web import form, gettext_for, redirect

router = APIRouter(include_in_schema=False)
ROLES = [r.value for r in Role]


def _users_page(
    request: Request,
    me: Caller,
    db: Session,
    *,
    status: int = 200,
    error: str | None = None,
    draft: dict[str, Any] | None = None,
) -> Response:
    return show(
        request,
        "users.html",
        me,
        http_status=status,
        users=users.list_users(db),
        departments=service.list_departments(db),
        roles=ROLES,
        error=error,
        done=request.query_params.get("done"),
        name=request.query_params.get("user", ""),
        draft=draft or {"roles": ["member"]},
    )


@router.get("/ops/users")
def users_page(request: Request, me: Me, db: Db) -> Response:
    if (gate := staff_gate(request, me)) is not None:
        return gate
    return _users_page(request, me, db)


def _admin_post(request: Request, me: Caller, back: str) -> Response | None:
    if (gate := staff_gate(request, me, back)) is not None:
        return gate
    require_admin(request, me)
    return None


async def _change(
    request: Request,
    me: Caller,
    svc: Services,
    work: Callable[[Session, FormData], str],
    draft: Callable[[FormData], dict[str, Any]] | None = None,
) -> Response:
    """Run an administrator's change of accounts: `work` changes what the form asks in one
    transaction (audit included) and says where to go next. A refused change shows the users
    page again with the reason, and what was typed (never a password)."""
    data = await form(request)

    def run() -> Response:
        try:
            with svc.hub.db.session() as s:
                target = work(s, data)
        except CityhubError as exc:
            with svc.hub.db.session() as s:
                return _users_page(
                    request,
                    me,
                    s,
                    status=exc.status,
                    error=exc.message,
                    draft=draft(data) if draft else None,
                )
        return redirect(request, target)

    return await run_in_threadpool(run)


def _new_user_draft(data: FormData) -> dict[str, Any]:
    return {
        "username": str(data.get("username") or ""),
        "display_name": str(data.get("display_name") or ""),
        "department": str(data.get("department") or ""),
        "roles": [str(r) for r in data.getlist("roles")],
    }


@router.post("/ops/users")
async def add_user(request: Request, me: Me, svc: Svc) -> Response:
    if (gate := _admin_post(request, me, "/ops/users")) is not None:
        return gate
    _ = gettext_for(request)

    def work(s: Session, data: FormData) -> str:
        draft = _new_user_draft(data)
        password = str(data.get("password") or "")
        if not draft["username"].strip():
            raise InvalidInput(_("A user needs a name."))
        if not password:
            raise InvalidInput(_("A user needs a password to log in with."))
        user = users.create_user(
            s,
            draft["username"].strip(),
            password=password,
            department=draft["department"] or None,
            roles=draft["roles"] or ["member"],
            display_name=draft["display_name"].strip() or None,
        )
        audit(svc, s, me, "user.add", user=user.username, roles=user.roles)
        return link("/ops/users", done="added", user=user.username)

    return await _change(request, me, svc, work, _new_user_draft)


def _guard_self(
    request: Request, me: Caller, user: User, roles: list[str] | None, active: bool | None
) -> None:
    """An administrator cannot lock themselves out: another administrator must do that."""
    if user.id != me.user_id:
        return
    _ = gettext_for(request)
    if active is False:
        raise InvalidInput(_("You cannot deactivate your own account."))
    if roles is not None and Role.ADMIN.value not in roles:
        raise InvalidInput(_("You cannot take the administrator role from yourself."))


@router.post("/ops/users/{username}/roles")
async def change_roles(request: Request, username: str, me: Me, svc: Svc) -> Response:
    if (gate := _admin_post(request, me, "/ops/users")) is not None:
        return gate

    def work(s: Session, data: FormData) -> str:
        user = users.get_user(s, username)
        roles = [str(r) for r in data.getlist("roles")]
        if not roles:
            _ = gettext_for(request)
            raise InvalidInput(_("Choose at least one role."))
        _guard_self(request, me, user, roles, None)
        changed = users.change_user(s, user, roles=roles)
        audit(svc, s, me, "user.change", user=user.username, changed=changed, roles=user.roles)
        return link("/ops/users", done="changed", user=user.username)

    return await _change(request, me, svc, work)


@router.post("/ops/users/{username}/active")
async def change_active(request: Request, username: str, me: Me, svc: Svc) -> Response:
    if (gate := _admin_post(request, me, "/ops/users")) is not None:
        return gate

    def work(s: Session, data: FormData) -> str:
        user = users.get_user(s, username)
        active = data.get("active") == "1"
        _guard_self(request, me, user, None, active)
        changed = users.change_user(s, user, active=active)
        audit(svc, s, me, "user.change", user=user.username, changed=changed, active=active)
        done = "reactivated" if active else "deactivated"
        return link("/ops/users", done=done, user=user.username)

    return await _change(request, me, svc, work)


# -- tokens -------------------------------------------------------------------------------------
@router.get("/ops/tokens")
def tokens_page(request: Request, me: Me, db: Db, user: str | None = None) -> Response:
    if (gate := staff_gate(request, me)) is not None:
        return gate
    everyone = users.list_users(db)
    owner = users.get_user(db, user) if user else None
    tokens = users.user_tokens(db, owner) if owner is not None else []
    return show(
        request,
        "tokens.html",
        me,
        everyone=everyone,
        owner=owner,
        tokens=tokens,
        state=users.token_state,
        done=request.query_params.get("done"),
        prefix=request.query_params.get("token", ""),
    )


@router.post("/ops/tokens/{token_id}/revoke")
async def revoke(request: Request, token_id: int, me: Me, svc: Svc) -> Response:
    if (gate := _admin_post(request, me, "/ops/tokens")) is not None:
        return gate
    await form(request)

    def work() -> str:
        with svc.hub.db.session() as s:
            token = s.get(ApiToken, token_id)
            if token is None:
                _ = gettext_for(request)
                raise NotFound(_("No such token."))
            owner = token.user.username
            users.revoke_token(s, token)
            audit(svc, s, me, "token.revoke", user=owner, token=token.prefix)
            return link("/ops/tokens", user=owner, done="revoked", token=token.prefix)

    return redirect(request, await run_in_threadpool(work))
