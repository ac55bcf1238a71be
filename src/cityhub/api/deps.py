"""What every route needs: the hub, the query engine, the door, and who is calling."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Query, Request
from sqlalchemy.orm import Session

from cityhub.access import Caller, Door, operator, public
from cityhub.catalog import CatalogCache
from cityhub.errors import CityhubError
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


class Unauthorized(CityhubError):
    status = 401
    title = "Unauthorized"


@dataclass
class Services:
    hub: Hub
    engine: Engine
    door: Door
    base_url: str
    lookups: Lookups
    answers: CatalogCache = field(default_factory=CatalogCache)  # search, figures


def services_of(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


# The dependencies are coroutines: FastAPI runs a plain function dependency on its thread
# pool, and every hop there costs more than the work these do. None of them blocks: a session
# connects only when the route (on the pool) first queries.


async def services(request: Request) -> Services:
    return services_of(request)


async def caller(request: Request) -> Caller:
    """The operator when the bearer token matches the configured one; the public without a
    token; a wrong token is refused rather than quietly treated as anonymous."""
    address = request.client.host if request.client else None
    header = request.headers.get("authorization", "")
    if not header:
        return public(address)
    scheme, _, token = header.partition(" ")
    expected = services_of(request).hub.settings.operator_token
    secret = expected.get_secret_value() if expected is not None else None
    if scheme.lower() == "bearer" and secret and hmac.compare_digest(token.strip(), secret):
        return operator(address=address)
    raise Unauthorized("the token is not valid here; leave Authorization out to read open data")


async def session(request: Request) -> AsyncIterator[Session]:
    with services_of(request).hub.db.session() as s:
        yield s
