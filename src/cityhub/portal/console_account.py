"""Accounts in the portal: log in and out, sign up as a member of the public, and one's API keys.

A login sets the same session cookie as the API's login (HttpOnly, SameSite=Lax, Secure over
https) and is audited the same way. A new key is shown once: the POST that makes it hands it to
the next page in a short-lived HttpOnly cookie limited to /me/keys, which that page shows and
deletes at once, so the key never sits in a URL, a log or the browser's history.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from cityhub.access import Caller, Role, Scope, users
from cityhub.access.identity import allowed_scopes
from cityhub.access.models import ApiToken, User
from cityhub.api.accounts import audit
from cityhub.api.deps import SESSION_COOKIE, Services
from cityhub.errors import CityhubError, Conflict, InvalidInput, NotFound, Unauthorized
from cityhub.portal.console_base import (
    Db,
    Me,
    Posted,
    Svc,
    same_site,
    text,
    whole,
    words,
)
from cityhub.portal.web import gettext_for, local_time, login_redirect, redirect, render

router = APIRouter(include_in_schema=False)
NEW_KEY_COOKIE = "cityhub_new_key"
KEYS = "/me/keys"
MAX_KEY_DAYS = 3650  # a key that must outlive ten years is a service account's (CLI)


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _secure(svc: Services) -> bool:
    return svc.base_url.startswith("https://")


def _start_session(response: Response, svc: Services, secret: str) -> None:
    """The session cookie, exactly as the API's login sets it."""
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(svc.hub.settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=_secure(svc),
    )


def _show_once(response: Response, svc: Services, secret: str) -> None:
    response.set_cookie(
        NEW_KEY_COOKIE,
        secret,
        max_age=300,
        path=KEYS,
        httponly=True,
        samesite="strict",
        secure=_secure(svc),
    )


def _password(data: FormData, name: str) -> str:
    # never trimmed: blanks are part of a password
    value = data.get(name)
    return value if isinstance(value, str) else ""


# -- log in and out --------------------------------------------------------------------------------


def _login_form(
    request: Request, me: Caller, target: str, username: str = "", error: str | None = None
) -> HTMLResponse:
    return render(
        request,
        "account/login.html",
        status=400 if error else 200,
        me=me,
        next=target,
        username=username,
        error=error,
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, me: Me, next: str = "/") -> HTMLResponse:
    """The login form (user name or email, password); `next` is where to go afterwards."""
    return _login_form(request, me, same_site(next))


@router.post("/login")
def login(request: Request, me: Me, svc: Svc, data: Posted) -> Response:
    """A session for the right password; a wrong one is audited and said on the form."""
    _ = gettext_for(request)
    username = text(data, "username", 254)
    password = _password(data, "password")
    target = same_site(text(data, "next", 2000))
    if not username or not password:
        error = _("Enter your user name (or email) and your password.")
        return _login_form(request, me, target, username, error)
    address = _address(request)
    try:
        with svc.hub.db.session() as s:
            user, issued = users.login(
                s, username, password, hours=svc.hub.settings.session_hours, address=address
            )
            who = users.caller_of(user, address=address)
            audit(svc, s, who, "login", token=issued.token.prefix)
            secret = issued.secret
    except Unauthorized:
        anonymous = Caller(username[:100], frozenset(), frozenset(), address=address)
        audit(svc, None, anonymous, "login.failed")
        return _login_form(request, me, target, username, _("Wrong user name or password."))
    response = redirect(request, target)
    _start_session(response, svc, secret)
    return response


@router.post("/logout")
def logout(request: Request, me: Me, svc: Svc, data: Posted) -> RedirectResponse:
    """End this browser's session: its token is revoked, so a copied cookie stops too."""
    if me.token_id is not None:
        with svc.hub.db.session() as s:
            token = s.get(ApiToken, me.token_id)
            if token is not None and token.kind == "session":
                users.revoke_token(s, token)
                audit(svc, s, me, "logout", token=token.prefix)
    response = redirect(request, "/")
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=_secure(svc))
    return response


# -- sign up ---------------------------------------------------------------------------------------


def _signup_form(
    request: Request, me: Caller, values: dict[str, str], error: str | None = None
) -> HTMLResponse:
    return render(
        request,
        "account/signup.html",
        status=400 if error else 200,
        me=me,
        values=values,
        error=error,
        min_password=users.MIN_PASSWORD,
    )


@router.get("/signup", response_class=HTMLResponse)
def signup_page(request: Request, me: Me) -> HTMLResponse:
    """Self-registration for the public, e.g. an open-data contest participant."""
    return _signup_form(request, me, {})


@router.post("/signup")
def signup(request: Request, me: Me, svc: Svc, data: Posted) -> Response:
    """Register, log in, and show the first open-data key once on the keys page."""
    _ = gettext_for(request)
    email = text(data, "email", 254)
    name = text(data, "display_name", 200)
    password = _password(data, "password")
    values = {"email": email, "display_name": name}
    error = None
    if "@" not in email or "." not in email.rpartition("@")[2]:
        error = _("Enter your email address, e.g. name@example.com.")
    elif len(password) < users.MIN_PASSWORD:
        error = _("A password needs at least %(n)s characters.") % {"n": users.MIN_PASSWORD}
    elif password != _password(data, "password2"):
        error = _("The two passwords differ; type the same password twice.")
    if error:
        return _signup_form(request, me, values, error)
    address = _address(request)
    try:
        with svc.hub.db.session() as s:
            user, first = users.register_public(s, email, password, name or None)
            who = users.caller_of(user, address=address)
            audit(svc, s, who, "user.register", token=first.token.prefix)
            _user, session = users.login(
                s, email, password, hours=svc.hub.settings.session_hours, address=address
            )
            audit(svc, s, who, "login", token=session.token.prefix)
    except Conflict:
        error = _("This email is registered already: log in instead.")
        return _signup_form(request, me, values, error)
    except InvalidInput as exc:
        return _signup_form(request, me, values, exc.message)
    response = redirect(request, f"{KEYS}?welcome=1")
    _start_session(response, svc, session.secret)
    _show_once(response, svc, first.secret)
    return response


# -- API keys --------------------------------------------------------------------------------------


def _scopes_of(user: User) -> list[str]:
    allowed = allowed_scopes(frozenset(Role(r) for r in user.roles))
    return [x.value for x in Scope if x in allowed]


def _new_key(request: Request, s: Session, me: Caller) -> tuple[str, ApiToken] | None:
    """The key made just before, if this browser was handed one and it is this user's."""
    raw = request.cookies.get(NEW_KEY_COOKIE)
    if not raw:
        return None
    token = s.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == users.token_hash(raw), ApiToken.user_id == me.user_id
        )
    )
    if token is None or users.token_state(token) != "active":
        return None
    return raw, token


def _keys_page(
    request: Request,
    me: Caller,
    svc: Services,
    s: Session,
    *,
    values: dict[str, object] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    _ = gettext_for(request)
    user = s.get(User, me.user_id)
    if user is None:  # the session outlived its user: only an admin deletes users
        raise NotFound(_("This account no longer exists."))
    tokens = [t for t in users.user_tokens(s, user) if t.kind == "api"]
    allowed = _scopes_of(user)
    new = _new_key(request, s, me)
    notices = {
        "created": _("The key is made. Copy it now: it is shown only this once."),
        "revoked": _("The key is revoked: requests with it are refused from now on."),
    }
    done = request.query_params.get("done", "")
    response = render(
        request,
        "account/keys.html",
        status=status,
        me=me,
        user=user,
        tokens=tokens,
        allowed=allowed,
        new=new,
        welcome=request.query_params.get("welcome") == "1",
        notice=notices.get(done) if done != "created" or new else None,
        base=svc.base_url,
        values=values or {"name": "", "scopes": allowed, "days": 90},
        max_days=MAX_KEY_DAYS,
        error=error,
        state_of=users.token_state,
        when=local_time,
        words=words(_),
    )
    response.headers["Cache-Control"] = "no-store"  # the page may hold a key
    if request.cookies.get(NEW_KEY_COOKIE):
        response.delete_cookie(
            NEW_KEY_COOKIE, path=KEYS, httponly=True, samesite="strict", secure=_secure(svc)
        )
    return response


@router.get(KEYS, response_class=HTMLResponse)
def keys_page(request: Request, me: Me, svc: Svc, db: Db) -> Response:
    """The user's API keys, a form for a new one, and a new key once."""
    if me.user_id is None:
        return login_redirect(request)
    return _keys_page(request, me, svc, db)


@router.post(KEYS)
def create_key(request: Request, me: Me, svc: Svc, data: Posted) -> Response:
    """A new named key with the chosen scopes and lifetime (audited as token.create)."""
    if me.user_id is None:
        return login_redirect(request)
    _ = gettext_for(request)
    name = text(data, "name", 100)
    scopes = [str(x) for x in data.getlist("scopes")]
    values: dict[str, object] = {"name": name, "scopes": scopes, "days": text(data, "days")}
    try:
        if not name:
            raise InvalidInput(_("Give the key a name, e.g. the program that will use it."))
        if not scopes:
            raise InvalidInput(_("Choose at least one permission for the key."))
        days = whole(
            data,
            "days",
            1,
            MAX_KEY_DAYS,
            _("The lifetime is a number of days from 1 to %(n)s.") % {"n": MAX_KEY_DAYS},
        )
        with svc.hub.db.session() as s:
            owner = s.get(User, me.user_id)
            if owner is None:
                raise NotFound(_("This account no longer exists."))
            issued = users.issue_token(s, owner, name, scopes=scopes, days=days)
            audit(
                svc,
                s,
                me,
                "token.create",
                user=owner.username,
                token=issued.token.prefix,
                scopes=issued.token.scopes,
            )
    except CityhubError as exc:
        if isinstance(exc, NotFound):
            raise
        with svc.hub.db.session() as s:
            return _keys_page(
                request, me, svc, s, values=values, error=exc.message, status=exc.status
            )
    response = redirect(request, f"{KEYS}?done=created")
    _show_once(response, svc, issued.secret)
    return response


@router.post(KEYS + "/{token_id}/revoke")
def revoke_key(request: Request, token_id: int, me: Me, svc: Svc, data: Posted) -> RedirectResponse:
    """Revoke one of one's own keys: it stops at once (audited as token.revoke)."""
    if me.user_id is None:
        return login_redirect(request)
    _ = gettext_for(request)
    with svc.hub.db.session() as s:
        token = s.get(ApiToken, token_id)
        if token is None or token.user_id != me.user_id:
            raise NotFound(_("You have no such key."))
        users.revoke_token(s, token)
        audit(svc, s, me, "token.revoke", user=me.name, token=token.prefix)
    return redirect(request, f"{KEYS}?done=revoked")
