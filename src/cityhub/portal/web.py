"""What every portal page shares: templates per language, the caller, CSRF, security headers.

Pages are rendered on the server (Jinja2) and work with JavaScript off; scripts only add charts
and maps. Every page reads data through the access layer (`Services.door`), as the API does.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cityhub import __version__
from cityhub.access import Caller, public
from cityhub.access.identity import Role
from cityhub.access.sharing import LOCAL  # pages show times as the center lives them
from cityhub.api.deps import Services, caller, services_of
from cityhub.errors import CityhubError, Forbidden, Unauthorized
from cityhub.portal import i18n

HERE = Path(__file__).parent
CSRF_COOKIE = "cityhub_csrf"
CSRF_FIELD = "csrf"

# Scripts and styles from the package only (no CDN, nothing inline that could run); Plotly sets
# styles from script, which `style-src` must allow.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


@cache
def environment(lang: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(version=__version__, languages=i18n.NAMES, quote=quote)
    env.filters["number"] = lambda n: f"{n:,}" if isinstance(n, int) else n
    return env


async def who(request: Request) -> Caller:
    """The caller of a portal page: by its session cookie (or a bearer token). A session that
    has expired or been revoked reads as anonymous, and the page offers to log in again."""
    try:
        return await caller(request)
    except Unauthorized:
        return public(request.client.host if request.client else None)


def local_time(t: datetime | None, *, seconds: bool = False) -> str:
    """A stored moment as the center's wall-clock time (stored in UTC; SQLite hands it back
    without its zone)."""
    if t is None:
        return ""
    aware = t if t.tzinfo is not None else t.replace(tzinfo=UTC)
    return aware.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else ""))


def local_day(d: date | datetime | None) -> str:
    if d is None:
        return ""
    return local_time(d)[:10] if isinstance(d, datetime) else d.isoformat()


def gettext_for(request: Request) -> Any:
    return i18n.translations(i18n.pick(request)).gettext


def csrf_token(request: Request) -> str:
    """This browser's CSRF token (double submit: the cookie and the form's hidden field must
    agree; another site can make a browser send the cookie but cannot read it)."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "csrf", None)
    if not token:
        token = secrets.token_urlsafe(32)
        request.state.csrf = token
    return str(token)


async def form(request: Request) -> FormData:
    """The posted form, once its CSRF token is checked."""
    data = await request.form()
    sent = str(data.get(CSRF_FIELD) or "")
    expected = request.cookies.get(CSRF_COOKIE) or ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden(
            gettext_for(request)("The form has expired or did not come from this site; reload it.")
        )
    return data


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = i18n.pick(request)
    me: Caller = context.pop("me", None) or public()
    page = (
        environment(lang)
        .get_template(template)
        .render(
            request=request,
            me=me,
            lang=lang,
            csrf=csrf_token(request),
            csrf_field=CSRF_FIELD,
            path=request.url.path,
            here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            is_staff=me.is_operator,
            is_steward=Role.STEWARD in me.roles or Role.ADMIN in me.roles,
            **context,
        )
    )
    response = HTMLResponse(page, status_code=status)
    finish(request, response)
    return response


def finish(request: Request, response: Response) -> None:
    """Cookies a page hands out: the CSRF token, and the language when chosen by `?lang=`."""
    secure = request.url.scheme == "https"
    token = getattr(request.state, "csrf", None)
    if token and not request.cookies.get(CSRF_COOKIE):
        response.set_cookie(
            CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure, path="/"
        )
    chosen = request.query_params.get("lang")
    if chosen in i18n.LANGUAGES and chosen != request.cookies.get(i18n.LANG_COOKIE):
        response.set_cookie(
            i18n.LANG_COOKIE, chosen, max_age=365 * 86400, samesite="lax", secure=secure
        )


def redirect(request: Request, to: str) -> RedirectResponse:
    """After a POST: see the result with a GET (303), keeping the cookies set on the way."""
    response = RedirectResponse(to, status_code=303)
    finish(request, response)
    return response


def services(request: Request) -> Services:
    return services_of(request)


def error_page(request: Request, exc: CityhubError) -> HTMLResponse:
    _ = gettext_for(request)
    titles = {
        401: _("Please log in"),
        403: _("Not allowed"),
        404: _("Not found"),
        429: _("Too many requests"),
    }
    return render(
        request,
        "error.html",
        status=exc.status,
        title=titles.get(exc.status, _("Something went wrong")),
        message=exc.message,
        status_code=exc.status,
    )


def login_redirect(request: Request) -> RedirectResponse:
    target = quote(str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""))
    return redirect(request, f"/login?next={target}")


class SecurityHeaders:
    """The portal's pages get a Content-Security-Policy and the usual hardening headers (the
    API's JSON answers do not need them, but they do no harm there either)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = {
                    b"x-content-type-options": b"nosniff",
                    b"referrer-policy": b"same-origin",
                    b"x-frame-options": b"DENY",
                }
                if not scope["path"].startswith(("/api/", "/docs", "/redoc", "/openapi")):
                    extra[b"content-security-policy"] = CSP.encode()
                headers += [(k, v) for k, v in extra.items() if k not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
