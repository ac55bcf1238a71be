"""What every route needs: the hub, the query engine, the door, and who is calling."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cityhub.access import Caller, Door, operator, public, users
from cityhub.access.audit import AuditLog
from cityhub.access.ratelimit import Limiter
from cityhub.access.sharing import Workflow
from cityhub.api.limits import address_key
from cityhub.catalog import CatalogCache
from cityhub.errors import TooManyRequests, Unauthorized
from cityhub.hub import Hub
from cityhub.query import Engine
from cityhub.query.lookup import Lookups

# Query parameters the rows, aggregate and export routes share.
SelectParam = Annotated[list[str] | None, Query(description="fields, comma-separated")]
FilterParam = Annotated[
    list[str] | None,
    Query(description="field:op:value (eq ne lt lte gt gte in like contains startswith isnull)"),
]
SortParam = Annotated[list[str] | None, Query(description="fields; -field sorts descending")]


@dataclass
class Services:
    hub: Hub
    engine: Engine
    door: Door
    base_url: str
    lookups: Lookups
    audit: AuditLog
    workflow: Workflow
    answers: CatalogCache = field(default_factory=CatalogCache)  # search, figures


def services_of(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


# The dependencies are coroutines: FastAPI runs a plain function dependency on its thread
# pool, and every hop there costs more than the work these do. None of them blocks: a session
# connects only when the route (on the pool) first queries.


async def services(request: Request) -> Services:
    return services_of(request)


SESSION_COOKIE = "cityhub_session"


def bearer(request: Request) -> str | None:
    """The token a request carries: `Authorization: Bearer …` (or a bare token, or CKAN's
    X-CKAN-API-Key, as CKAN clients send), else the login session's cookie."""
    header = request.headers.get("authorization", "").strip()
    if header:
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else header
    if key := request.headers.get("x-ckan-api-key", "").strip():
        return key
    return request.cookies.get(SESSION_COOKIE) or None


async def caller(request: Request) -> Caller:
    """Who is calling: the operator when the token is the configured operator token, the user
    a token stands for, or the public without a token. A token that is not valid is refused
    rather than quietly treated as anonymous."""
    address = request.client.host if request.client else None
    token = bearer(request)
    if token is None:
        return public(address)
    svc = services_of(request)
    expected = svc.hub.settings.operator_token
    secret = expected.get_secret_value() if expected is not None else None
    if secret and hmac.compare_digest(token.encode(), secret.encode()):
        return operator(address=address)
    return await run_in_threadpool(authenticate, request, svc, token, address)


def authenticate(request: Request, svc: Services, token: str, address: str | None) -> Caller:
    """The caller of a user's token (blocks on the database: call it from a worker thread)."""
    try:
        with svc.hub.db.session() as s:
            return users.authenticate(s, token, address)
    except Unauthorized:
        # Made-up tokens pass the per-token limit (each is new): count the failures per
        # address, at the anonymous rate, so guessing is as slow as anything else unsigned.
        limiter: Limiter = request.app.state.limiter
        key = "bad-token:" + address_key(request.scope)
        decision = limiter.hit(key, svc.hub.settings.rate_limit_anonymous)
        if not decision.allowed:
            raise TooManyRequests(
                "too many requests with invalid tokens from this address; wait and retry",
                decision.retry_after,
            ) from None
        raise


async def session(request: Request) -> AsyncIterator[Session]:
    with services_of(request).hub.db.session() as s:
        yield s
