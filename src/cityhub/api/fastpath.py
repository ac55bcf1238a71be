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

import inspect
import re
import typing
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from cityhub.api import v1
from cityhub.api.answer import JSONAnswer
from cityhub.api.deps import caller, services_of
from cityhub.errors import CityhubError
from cityhub.query.spec import RowsQuery

_ROWS = re.compile(r"/api/v1/datasets/([^/]+)/rows")


def _route_parameters() -> tuple[frozenset[str], dict[str, TypeAdapter[Any]], dict[str, Any]]:
    """The route's query parameters, read off `v1.dataset_rows` itself so the two cannot drift
    apart: the repeatable ones, and a validator (its annotation, constraints included) and a
    default for each single-valued one. Path and dependency parameters have no default."""
    hints = typing.get_type_hints(v1.dataset_rows, include_extras=True)
    lists: set[str] = set()
    scalars: dict[str, TypeAdapter[Any]] = {}
    defaults: dict[str, Any] = {}
    for name, parameter in inspect.signature(v1.dataset_rows).parameters.items():
        if parameter.default is inspect.Parameter.empty:
            continue
        defaults[name] = parameter.default
        hint = hints[name]
        bare = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
        if any(typing.get_origin(a) is list for a in (bare, *typing.get_args(bare))):
            lists.add(name)
        else:
            scalars[name] = TypeAdapter(hint)
    return frozenset(lists), scalars, defaults


_LISTS, _SCALARS, _DEFAULTS = _route_parameters()


def rows_query(request: Request) -> RowsQuery | None:
    """The query of a rows GET, or None when the route should read it (a parameter this does
    not know, a single-valued one given twice, or a value the route would refuse)."""
    given: dict[str, Any] = {}
    for name, value in request.query_params.multi_items():
        if name in _LISTS:
            given.setdefault(name, []).append(value)
        elif name in _SCALARS and name not in given:
            try:
                given[name] = _SCALARS[name].validate_python(value)
            except ValidationError:
                return None
        else:
            return None
    try:
        return v1.rows_query(**{**_DEFAULTS, **given})
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

            answer: Response = JSONAnswer(await run_in_threadpool(read))
        except CityhubError as exc:
            # the app's own handler: the same problem+json the route's errors get
            answer = await request.app.exception_handlers[CityhubError](request, exc)
        await answer(scope, receive, send)
