"""The API's busiest reads past the framework's routing and parameter solving.

A lookup by key or a repeated catalog search costs the server well under a millisecond of its
own work, and FastAPI's route matching (every route's pattern, in turn), dependency solving and
parameter validation cost as much again and more. This layer answers two GETs itself:

- `/api/v1/datasets/{code}/rows`, through the same query builder and door as the route
  (`v1.read_page`: access decision, masking, audit);
- `/api/v1/datasets`, the catalog search, by calling the route's own function.

It does so only when every parameter is one it reads exactly as the route does, with the same
caller. Anything else, a parameter it does not know or a value that does not parse, goes on to
the route, which answers it (a 400 for a bad value) as it always has. The routes stay the API's
documentation.

Where it runs them: a read that is all work in this process and small (a key lookup of one page
that a key index already open answers alone, a catalog search; with the catalog in SQLite, a
library, not a server over a socket) runs on the event loop: sent to the thread pool and back,
it cost a third more CPU in all (measured under load on 2 cores, every layer included: 1.6 to
2.0 ms per lookup against 1.25 in place), and searches waited longer behind one another.
Anything else, a scan by the engine, a long page, an index to open, any read over PostgreSQL,
goes to the thread pool, so the loop never waits on it. A read answered in place is audited with
the others answered in the same turn of the loop, in one transaction (`Door.record_on_loop`).
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from cityhub.access import Caller
from cityhub.access.audit import AuditEntry
from cityhub.api import v1
from cityhub.api.answer import JSONAnswer
from cityhub.api.deps import Services, caller, services_of
from cityhub.errors import CityhubError

# The read a request stands for, with a catalog session.
Work = Callable[[Services, Caller, Session], dict[str, Any]]
# The same read when it is small and in-process work, with the audit entry to write before its
# answer is sent (None: nothing to audit); or None when it is not (then ask `Work`).
Quick = Callable[[Services, Caller, Session], tuple[dict[str, Any], AuditEntry | None] | None]
QUICK_ROWS = 100  # at most this many rows in a quick read's page,
QUICK_KEYS = 100  # and key values asked of the index


@dataclass(frozen=True)
class Read:
    """What a request asks: `full`, on the thread pool; or first `quick`, on the event loop."""

    full: Work
    quick: Quick | None = None


# A route's read from its path's match and its parameters; None when the route should answer.
Prepare = Callable[[re.Match[str], dict[str, Any]], Read | None]


class _Route:
    """A route this layer answers: its path, how its read is prepared, and its query
    parameters, read off the route's function itself so the two cannot drift apart: the
    repeatable ones, and a validator (its annotation, constraints included) and a default for
    each single-valued one. Path and dependency parameters have no default, and are not query
    parameters."""

    def __init__(self, pattern: str, endpoint: Callable[..., Any], prepare: Prepare) -> None:
        self.pattern = re.compile(pattern)
        self.prepare = prepare
        hints = typing.get_type_hints(endpoint, include_extras=True)
        lists: set[str] = set()
        self.scalars: dict[str, TypeAdapter[Any]] = {}
        self.defaults: dict[str, Any] = {}
        for name, parameter in inspect.signature(endpoint).parameters.items():
            if parameter.default is inspect.Parameter.empty:
                continue
            self.defaults[name] = parameter.default
            hint = hints[name]
            bare = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
            if any(typing.get_origin(a) is list for a in (bare, *typing.get_args(bare))):
                lists.add(name)
            else:
                self.scalars[name] = TypeAdapter(hint)
        self.lists = frozenset(lists)

    def given(self, request: Request) -> dict[str, Any] | None:
        """Every query parameter with its value as the route reads it, defaults filled in; None
        when the route should read them (a parameter this does not know, a single-valued one
        given twice, or a value the route would refuse)."""
        given: dict[str, Any] = {}
        for name, value in request.query_params.multi_items():
            if name in self.lists:
                given.setdefault(name, []).append(value)
            elif name in self.scalars and name not in given:
                try:
                    given[name] = self.scalars[name].validate_python(value)
                except ValidationError:
                    return None
            else:
                return None
        return {**self.defaults, **given}


def _rows(found: re.Match[str], given: dict[str, Any]) -> Read | None:
    try:
        q = v1.rows_query(**given)
    except ValidationError:
        return None  # the route words it as a 400; a CityhubError is answered by the caller
    code = found.group(1)
    full = partial(v1.read_page, code=code, q=q)
    asked = sum(len(f.value) if isinstance(f.value, list) else 1 for f in q.filters)
    if q.limit > QUICK_ROWS or asked > QUICK_KEYS:
        return Read(full)
    return Read(full, partial(v1.read_exact, code=code, q=q))


def _search(_: re.Match[str], given: dict[str, Any]) -> Read:
    # Bounded by the catalog's size: thousands of datasets, not millions of rows.
    search = partial(v1.datasets, **given)

    def quick(svc: Services, who: Caller, db: Session) -> tuple[dict[str, Any], None]:
        return search(svc=svc, who=who, db=db), None  # the catalog, not data: no audit

    return Read(search, quick)


_ROUTES = [
    _Route(r"/api/v1/datasets/([^/]+)/rows", v1.dataset_rows, _rows),
    _Route(r"/api/v1/datasets", v1.datasets, _search),
]


def prepared(request: Request) -> Read | None:
    """The read a GET stands for when this layer answers it; None when the route should. May
    raise the CityhubError the route would answer with (a filter that does not parse)."""
    path = request.scope["path"]
    for route in _ROUTES:
        found = route.pattern.fullmatch(path)
        if found is not None:
            given = route.given(request)
            return None if given is None else route.prepare(found, given)
    return None


class FastPath:
    """Plain ASGI, inside the app's other layers (limits, timing, security headers), so a
    request answered here is limited, timed and audited like any other."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            read = prepared(request)
            if read is None:
                await self.app(scope, receive, send)
                return
            who = await caller(request)
            answer: Response = JSONAnswer(await _run(read, services_of(request), who))
        except CityhubError as exc:
            # the app's own handler: the same problem+json the route's errors get
            answer = await request.app.exception_handlers[CityhubError](request, exc)
        await answer(scope, receive, send)


async def _run(read: Read, svc: Services, who: Caller) -> dict[str, Any]:
    """The read's answer: quick on the event loop when it can be, else on the thread pool."""
    if read.quick is not None and svc.hub.db.dialect == "sqlite":
        with svc.hub.db.reading() as db:
            found = read.quick(svc, who, db)
        if found is not None:
            answer, entry = found
            if entry is not None:
                await svc.door.record_on_loop(entry)
            return answer

    def full() -> dict[str, Any]:
        with svc.hub.db.session() as db:
            return read.full(svc, who, db)

    return await run_in_threadpool(full)
