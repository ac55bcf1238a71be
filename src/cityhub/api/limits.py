"""Request limits at the door of the HTTP service: a largest body, and a rate per caller.

Plain ASGI (no BaseHTTPMiddleware), so a request costs one limiter hit and a few header
look-ups, and a refused request never reaches the app.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
from collections.abc import Iterable

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cityhub.access.ratelimit import Decision, Limiter, limiter_for
from cityhub.api.problems import problem
from cityhub.config import Settings

WINDOW = 60.0  # the settings' limits are per minute


class _TooLarge(Exception):
    """Raised into the app when a streamed body passes the limit, to stop it reading on."""


def caller_key(scope: Scope) -> tuple[str, bool]:
    """("token:<hash>", True) for a caller with a token, else ("addr:<address>", False).

    The token is taken from `Authorization: Bearer ...`, from a bare Authorization value or an
    `X-CKAN-API-Key` header (as CKAN clients send their API key), and only its hash is kept: the
    limiter's keys end up in Redis and in logs. IPv6 callers are counted per /64, the block one
    host is usually given, so that walking through its addresses does not reset the count.
    """
    token = ""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            raw = value.decode("latin-1").strip()
            scheme, _, rest = raw.partition(" ")
            token = rest.strip() if scheme.lower() == "bearer" else raw
            break
        if name == b"x-ckan-api-key" and not token:
            token = value.decode("latin-1").strip()
    if token:
        return "token:" + hashlib.sha256(token.encode()).hexdigest()[:32], True
    return address_key(scope), False


def address_key(scope: Scope) -> str:
    """'addr:<address>' of the caller; IPv6 callers by their /64 (see `caller_key`)."""
    client = scope.get("client")
    host = client[0] if client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "addr:" + host  # a Unix socket or a test client: no IP to group
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # an IPv4 caller on a dual-stack socket
            return "addr:" + str(address.ipv4_mapped)
        return "addr:" + str(ipaddress.IPv6Network((address, 64), strict=False))
    return "addr:" + str(address)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server rejects it; the streamed count still holds
    return None


class Limits:
    """Refuses bodies larger than `settings.max_request_bytes` (413) and callers over their rate
    (429 with Retry-After); every limited answer carries RateLimit-Limit and
    RateLimit-Remaining. A caller with a token gets `rate_limit_token` requests a minute, one
    without `rate_limit_anonymous` per address. Refusals are RFC 9457 problem documents.

    Every request is counted, the ones refused for their size too. The token is not checked
    here (that needs the metadata DB): the app answers a wrong one with 401.
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        limiter: Limiter | None = None,
        *,
        window: float = WINDOW,
        exempt: Iterable[str] = ("/healthz",),
    ) -> None:
        self.app = app
        self.max_bytes = settings.max_request_bytes
        self.token_limit = settings.rate_limit_token
        self.anonymous_limit = settings.rate_limit_anonymous
        self.limiter = limiter if limiter is not None else limiter_for(settings)
        self.window = window
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        key, has_token = caller_key(scope)
        limit = self.token_limit if has_token else self.anonymous_limit
        decision = await self._hit(key, limit)
        headers = {"RateLimit-Limit": str(limit), "RateLimit-Remaining": str(decision.remaining)}
        if not decision.allowed:
            who = "with this token" if has_token else "from this address without a token"
            detail = (
                f"more than {limit} requests in {self.window:g} seconds {who}; "
                f"try again in {decision.retry_after} s"
            )
            headers["Retry-After"] = str(decision.retry_after)
            await self._refuse(scope, receive, send, 429, "Too many requests", detail, headers)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._too_large(scope, receive, send, headers)
            return
        await self._guarded(scope, receive, send, headers)

    async def _hit(self, key: str, limit: int) -> Decision:
        if getattr(self.limiter, "blocking", True):
            # A network round trip (Redis): off the event loop, so other requests go on.
            return await anyio.to_thread.run_sync(
                functools.partial(self.limiter.hit, key, limit, self.window)
            )
        return self.limiter.hit(key, limit, self.window)

    async def _guarded(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]
    ) -> None:
        """Run the app, counting the body it reads (chunked bodies declare no length). Past the
        limit the app's next read raises; whatever it answers then (often a 500 from an error
        handler) is replaced by the 413, if no answer has started yet."""
        seen = 0
        too_large = False
        started = False
        extra = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

        async def counted() -> Message:
            nonlocal seen, too_large
            if too_large:
                raise _TooLarge
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_large = True
                    raise _TooLarge
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            if too_large and not started:
                return  # the 413 goes out instead, once the app is done
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        try:
            await self.app(scope, counted, sending)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await self._too_large(scope, receive, send, headers)

    async def _too_large(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]
    ) -> None:
        detail = (
            f"the request body is larger than {self.max_bytes} bytes, the most this service "
            "accepts (setting max_request_bytes)"
        )
        await self._refuse(scope, receive, send, 413, "Content too large", detail, headers)

    @staticmethod
    async def _refuse(
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        title: str,
        detail: str,
        headers: dict[str, str],
    ) -> None:
        response = problem(status, title, detail)
        response.headers.update(headers)
        await response(scope, receive, send)
