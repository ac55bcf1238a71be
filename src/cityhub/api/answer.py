"""JSON answers written by orjson, straight from what a route returns.

FastAPI would first walk a route's returned dict through its encoder and, for a plain (thread
pool) route, do that on a second trip to the pool; for a lookup that answers in a fraction of a
millisecond those trips cost several times the work. Routes on a `JSONRoute` router return their
dicts as before (their annotations still document the API); the route class turns them into a
finished `JSONAnswer` in the same thread, which FastAPI then sends as it is.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

import orjson
from fastapi.routing import APIRoute
from starlette.responses import Response


class JSONAnswer(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        # Dates and times as ISO 8601, non-finite floats as null, Chinese as UTF-8 text.
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def _answering(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    if asyncio.iscoroutinefunction(endpoint):
        raise TypeError(f"{endpoint.__name__}: JSONRoute takes plain (thread pool) routes")

    @functools.wraps(endpoint)  # keeps the signature FastAPI reads parameters from
    def answer(*args: Any, **kwargs: Any) -> Any:
        result = endpoint(*args, **kwargs)
        return result if isinstance(result, Response) else JSONAnswer(result)

    return answer


class JSONRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _answering(endpoint), **kwargs)
