"""Rows by GET past the framework's routing and parameter solving.

A lookup by key costs the server well under a millisecond of its own work, and FastAPI's route
matching (every route's pattern, in turn), dependency solving and parameter validation cost
about as much again. This layer answers `GET /api/v1/datasets/{code}/rows` itself when every
parameter is one it reads exactly as the route does, through the same caller, the same query
builder and the same door (`v1.read_page`: access decision, masking, audit). Anything else, a
parameter it does not know or a value that does not parse, goes on to the route, which answers
it (a 400 for a bad value) as it always has. The route stays the API's documentation.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from cityhub.api import v1
from cityhub.api.answer import JSONAnswer
from cityhub.api.deps import caller, services_of
from cityhub.errors import CityhubError
from cityhub.query.spec import MAX_PAGE, RowsQuery

_ROWS = re.compile(r"/api/v1/datasets/([^/]+)/rows")
_LISTS = frozenset({"select", "filter", "sort"})
# the route's own constraints (v1.dataset_rows), checked by the same validator
_SCALARS: dict[str, TypeAdapter[Any]] = {
    "limit": TypeAdapter(Annotated[int, Field(ge=1, le=MAX_PAGE)]),
    "cursor": TypeAdapter(str),
    "version": TypeAdapter(Annotated[int, Field(ge=0)]),
    "include_total": TypeAdapter(bool),
}
_DEFAULTS: dict[str, Any] = {"limit": 100, "cursor": None, "version": None, "include_total": False}


def rows_query(request: Request) -> RowsQuery | None:
    """The query of a rows GET, or None when the route should read it (a parameter this does
    not know, a single-valued one given twice, or a value the route would refuse)."""
    lists: dict[str, list[str]] = {}
    scalars = dict(_DEFAULTS)
    seen: set[str] = set()
    for name, value in request.query_params.multi_items():
        if name in _LISTS:
            lists.setdefault(name, []).append(value)
        elif name in _SCALARS and name not in seen:
            seen.add(name)
            try:
                scalars[name] = _SCALARS[name].validate_python(value)
            except ValidationError:
                return None
        else:
            return None
    try:
        return v1.rows_query(
            lists.get("select"),
            lists.get("filter"),
            lists.get("sort"),
            scalars["limit"],
            scalars["cursor"],
            scalars["version"],
            scalars["include_total"],
        )
    except ValidationError:
        return None  # the route words it as a 400; a CityhubError is answered below


class RowsFastPath:
    """Plain ASGI, inside the app's other layers (limits, timing, security headers), so a
    request answered here is limited, timed and audited like any other."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = (
            _ROWS.fullmatch(scope["path"])
            if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path")
            else None
        )
        if found is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            q = rows_query(request)
            if q is None:
                await self.app(scope, receive, send)
                return
            who = await caller(request)
            svc = services_of(request)
            code = found.group(1)

            def read() -> dict[str, Any]:
                with svc.hub.db.session() as db:
                    return v1.read_page(svc, who, db, code, q)

            answer: Any = JSONAnswer(await run_in_threadpool(read))
        except CityhubError as exc:
            # the app's own handler: the same problem+json the route's errors get
            answer = await request.app.exception_handlers[CityhubError](request, exc)
        await answer(scope, receive, send)
