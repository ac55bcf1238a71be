"""Identities over HTTP (/api/v1): login and self-registration, who am I, users and tokens.

Logins answer with a session token, also set as an HttpOnly cookie for the portal; API tokens are
made here or with `cityhub token new`. Secrets (passwords, tokens) are never returned except a new
token, once. Each action is audited; if the audit cannot be written the action fails.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from cityhub.access import Caller, Role, Scope, users
from cityhub.access.audit import AuditEntry
from cityhub.access.models import ApiToken, User
from cityhub.api.deps import SESSION_COOKIE, Services, bearer, caller, services, session
from cityhub.errors import Forbidden, Unauthorized

router = APIRouter(prefix="/api/v1", tags=["accounts"])
Svc = Annotated[Services, Depends(services)]
Who = Annotated[Caller, Depends(caller)]
Db = Annotated[Session, Depends(session)]


class Login(BaseModel):
    username: str = Field(description="user name or email")
    password: str


class Registration(BaseModel):
    email: str
    password: str = Field(min_length=users.MIN_PASSWORD)
    display_name: str | None = None


class NewUser(BaseModel):
    username: str
    password: str | None = Field(None, min_length=users.MIN_PASSWORD)
    department: str | None = Field(None, description="department code; none for the public")
    roles: list[str] = Field(default_factory=lambda: ["member"])
    email: str | None = None
    display_name: str | None = None


class UserChange(BaseModel):
    roles: list[str] | None = None
    active: bool | None = None
    password: str | None = Field(None, min_length=users.MIN_PASSWORD)
    display_name: str | None = None


class NewToken(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] | None = Field(None, description="read, request, approve, admin")
    days: float | None = Field(90, gt=0, description="lifetime; null: never expires")
    user: str | None = Field(None, description="admins: whose token (default: your own)")


def user_json(u: User) -> dict[str, Any]:
    dept = u.department
    return {
        "username": u.username,
        "display_name": u.display_name,
        "email": u.email,
        "department": {"code": dept.code, "name": dept.name} if dept is not None else None,
        "roles": u.roles,
        "active": u.active,
        "created_at": u.created_at,
        "last_login_at": u.last_login_at,
    }


def token_json(t: ApiToken) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "kind": t.kind,
        "prefix": t.prefix,
        "scopes": t.scopes,
        "created_at": t.created_at,
        "expires_at": t.expires_at,
        "last_used_at": t.last_used_at,
        "state": users.token_state(t),
    }


def audit(svc: Services, db: Session | None, who: Caller, action: str, **detail: Any) -> None:
    """Record an action in the same transaction as the change it records (`db`), or on its own
    when nothing changes (a failed login)."""
    svc.audit.append(AuditEntry.by(who, action, **detail), db)


def require_admin(who: Caller) -> None:
    if Role.ADMIN not in who.roles or not who.can(Scope.ADMIN):
        raise Forbidden("managing users and others' tokens takes an admin with the admin scope")


def require_user(who: Caller) -> None:
    if who.user_id is None:
        raise Unauthorized("log in first (POST /api/v1/auth/login) or send a token")


@router.post("/auth/login", summary="Log in: a session token (and cookie)")
def login(body: Login, request: Request, response: Response, svc: Svc, db: Db) -> dict[str, Any]:
    address = request.client.host if request.client else None
    try:
        user, issued = users.login(
            db, body.username, body.password, hours=svc.hub.settings.session_hours, address=address
        )
    except Unauthorized:
        anonymous = Caller(body.username[:100], frozenset(), frozenset(), address=address)
        audit(svc, None, anonymous, "login.failed")
        raise
    who = users.caller_of(user, address=address)
    audit(svc, db, who, "login", token=issued.token.prefix)
    response.set_cookie(
        SESSION_COOKIE,
        issued.secret,
        max_age=int(svc.hub.settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=svc.base_url.startswith("https://"),
    )
    return {"token": issued.secret, "expires_at": issued.token.expires_at, "user": user_json(user)}


@router.post("/auth/logout", summary="End this session (its token is revoked)")
def logout(request: Request, response: Response, svc: Svc, who: Who, db: Db) -> dict[str, Any]:
    raw = bearer(request)
    if who.token_id is not None and raw is not None:
        token = db.get(ApiToken, who.token_id)
        if token is not None and token.kind == "session":
            users.revoke_token(db, token)
            audit(svc, db, who, "logout", token=token.prefix)
    response.delete_cookie(SESSION_COOKIE)
    return {"ok": True}


@router.post("/auth/register", summary="Register as a member of the public (open-data key)")
def register(body: Registration, request: Request, svc: Svc, db: Db) -> dict[str, Any]:
    user, issued = users.register_public(db, body.email, body.password, body.display_name)
    who = users.caller_of(user, address=request.client.host if request.client else None)
    audit(svc, db, who, "user.register", token=issued.token.prefix)
    return {"user": user_json(user), "token": issued.secret, "token_info": token_json(issued.token)}


@router.get("/me", summary="Who the token stands for: roles, scopes, department")
def me(who: Who) -> dict[str, Any]:
    return {
        "name": who.name,
        "roles": sorted(who.roles),
        "scopes": sorted(who.scopes),
        "department": who.department,
        "anonymous": who.anonymous,
    }


@router.get("/users", summary="Users (admins)")
def list_users(who: Who, db: Db) -> dict[str, Any]:
    require_admin(who)
    return {"items": [user_json(u) for u in users.list_users(db)]}


@router.post("/users", summary="Add a user (admins)", status_code=201)
def add_user(body: NewUser, svc: Svc, who: Who, db: Db) -> dict[str, Any]:
    require_admin(who)
    user = users.create_user(
        db,
        body.username,
        password=body.password,
        department=body.department,
        roles=body.roles,
        email=body.email,
        display_name=body.display_name,
    )
    audit(svc, db, who, "user.add", user=user.username, roles=user.roles)
    return user_json(user)


@router.patch("/users/{username}", summary="Change a user's roles, password or state (admins)")
def change_user(username: str, body: UserChange, svc: Svc, who: Who, db: Db) -> dict[str, Any]:
    require_admin(who)
    user = users.get_user(db, username)
    changed = users.change_user(
        db,
        user,
        roles=body.roles,
        active=body.active,
        password=body.password,
        display_name=body.display_name,
    )
    audit(svc, db, who, "user.change", user=user.username, changed=changed)
    return user_json(user)


@router.get("/tokens", summary="Your tokens (admins: ?user=)")
def list_tokens(who: Who, db: Db, user: str | None = None) -> dict[str, Any]:
    owner = _owner(who, db, user)
    return {"items": [token_json(t) for t in users.user_tokens(db, owner)]}


@router.post("/tokens", summary="A new API token, shown once", status_code=201)
def new_token(body: NewToken, svc: Svc, who: Who, db: Db) -> dict[str, Any]:
    owner = _owner(who, db, body.user)
    issued = users.issue_token(db, owner, body.name, scopes=body.scopes, days=body.days)
    audit(
        svc,
        db,
        who,
        "token.create",
        user=owner.username,
        token=issued.token.prefix,
        scopes=issued.token.scopes,
    )
    return {"token": issued.secret, **token_json(issued.token)}


@router.delete("/tokens/{ident}", summary="Revoke a token (by id or prefix): it stops at once")
def revoke_token(ident: str, svc: Svc, who: Who, db: Db) -> dict[str, Any]:
    require_user(who)
    token = users.find_token(db, ident)
    if token.user_id != who.user_id:
        require_admin(who)
    users.revoke_token(db, token)
    audit(svc, db, who, "token.revoke", user=token.user.username, token=token.prefix)
    return token_json(token)


def _owner(who: Caller, db: Session, username: str | None) -> User:
    require_user(who)
    if username is not None and username != who.name:
        require_admin(who)
        return users.get_user(db, username)
    owner = db.get(User, who.user_id)
    assert owner is not None  # the token that authenticated `who` belongs to it
    return owner
