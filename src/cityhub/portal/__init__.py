"""The portal (门户): the open-data site for the public and contest participants, and the
console of department stewards, users and the center's operators, rendered on the server."""

from __future__ import annotations

from pathlib import Path

import plotly
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from cityhub.errors import CityhubError
from cityhub.portal import console, dataset, ops, public
from cityhub.portal.web import HERE, SecurityHeaders, error_page

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
# Paths that are the API's or DCAT's: their errors stay problem+json.
_MACHINE = ("/api/", "/catalog.", "/dataset/", "/docs", "/redoc", "/openapi")


def is_page(request: Request) -> bool:
    return not request.url.path.startswith(_MACHINE)


def page_error(request: Request, exc: CityhubError) -> Response | None:
    """An error on a portal page as a page (None: not a portal page, answer problem+json)."""
    return error_page(request, exc) if is_page(request) else None


def install(app: FastAPI) -> None:
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/assets/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        # the installed plotly package's own build: no CDN
        return FileResponse(PLOTLY_JS, media_type="text/javascript", headers=_CACHE)

    for part in (public, dataset, console, ops):
        app.include_router(part.router)


_CACHE = {"Cache-Control": "public, max-age=86400"}
