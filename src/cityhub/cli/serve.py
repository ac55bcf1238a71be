"""`cityhub serve`: the HTTP service over this home (API, DCAT-AP), with uvicorn."""

from __future__ import annotations

import os
import secrets
from typing import Annotated

import typer

from cityhub.cli.common import app, command, err
from cityhub.config import Settings, load_settings
from cityhub.hub import Hub


@command(app)
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on [settings: host]")] = None,
    port: Annotated[int | None, typer.Option(help="port [settings: port]")] = None,
    workers: Annotated[
        int | None, typer.Option(help="server processes [settings: workers]")
    ] = None,
) -> None:
    """Serve the catalog and the data over HTTP until interrupted (Ctrl-C)."""
    for name, value in (("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:  # the workers read their settings from the environment
            os.environ[f"CITYHUB_{name}"] = str(value)
    settings = load_settings()
    Hub.open(settings).close()  # fail here, clearly, if the home is not set up
    run(settings)


def run(settings: Settings) -> None:
    import uvicorn

    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    err.print(f"serving {settings.home} at {base}")
    err.print(f"  API and its documentation   {base}/docs")
    err.print(f"  the center's figures        {base}/api/v1/stats")
    err.print(f"  catalog search              {base}/api/v1/datasets?q=企业")
    err.print(f"  DCAT-AP catalog             {base}/catalog.ttl")
    if settings.operator_token is None:
        err.print(
            "  (no operator token set: HTTP callers see open data only; CITYHUB_OPERATOR_TOKEN)"
        )
    uvicorn.run(
        "cityhub.api.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="warning",
    )


def serve_demo(settings: Settings) -> None:
    """What `cityhub demo` ends with: the city served, with an operator token for this run."""
    if settings.operator_token is None:
        token = secrets.token_urlsafe(24)
        os.environ["CITYHUB_OPERATOR_TOKEN"] = token
        settings = load_settings()
        err.print(f"operator token for this run: {token}")
        err.print(
            f'  e.g. curl -H "Authorization: Bearer {token}" {_base(settings)}/api/v1/datasets'
        )
    run(settings)


def _base(settings: Settings) -> str:
    return settings.public_url or f"http://{settings.host}:{settings.port}"
