"""Errors as RFC 9457 problem details (application/problem+json), with a message to act on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from cityhub.errors import CityhubError, TooManyRequests

MEDIA_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


def install(
    app: FastAPI, page: Callable[[Request, CityhubError], Response | None] | None = None
) -> None:
    """Error answers as problem+json; `page` may answer a portal page's error as a page."""

    @app.exception_handler(CityhubError)
    async def cityhub_error(request: Request, exc: CityhubError) -> Response:
        shown = page(request, exc) if page is not None else None
        if shown is not None:
            return shown
        answer = problem(
            exc.status, exc.title, exc.message, instance=str(request.url.path), **exc.detail
        )
        if isinstance(exc, TooManyRequests):
            answer.headers["Retry-After"] = str(exc.retry_after)
        return answer

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"where": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()
        ]
        where = "; ".join(f"{e['where']}: {e['problem']}" for e in errors)
        return problem(400, "Invalid input", f"the request does not fit: {where}", errors=errors)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return problem(exc.status_code, detail, f"{request.method} {request.url.path}: {detail}")
