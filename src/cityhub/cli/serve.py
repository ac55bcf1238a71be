"""`cityhub serve`: the HTTP service over this home (API, DCAT-AP), with uvicorn."""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
from typing import Annotated, Any

import typer

from cityhub.api.workers import APP, reuse_port_supported, serve_processes
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


_M_ARENA_MAX = -8  # glibc's mallopt parameter


def _few_malloc_arenas() -> None:
    """At most two glibc malloc arenas in the server (its worker processes read the variable
    at start; this process is told directly). Downloads are produced on whichever pool thread
    is free, and with an arena per thread the memory a long download frees in one arena is not
    reused by the next chunk made in another, so the server's RSS would creep with the output."""
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, int(os.environ["MALLOC_ARENA_MAX"]))


def run(settings: Settings) -> None:
    import uvicorn

    _few_malloc_arenas()

    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    err.print(f"serving {settings.home} at {base}")
    err.print(f"  the portal                  {base}/")
    err.print(f"  API and its documentation   {base}/docs")
    err.print(f"  the center's figures        {base}/api/v1/stats")
    err.print(f"  catalog search              {base}/api/v1/datasets?q=企业")
    err.print(f"  DCAT-AP catalog             {base}/catalog.ttl")
    err.print(f"  log in                      {base}/login (API: POST /api/v1/auth/login)")
    if settings.operator_token is None:
        err.print(
            "  (no operator token set: callers read as their own tokens allow; "
            "CITYHUB_OPERATOR_TOKEN)"
        )
    # At the warning level uvicorn's access log shows nothing, yet with it on, the parts of its
    # line (the caller's address, the path quoted again) are made for every answer.
    quiet: dict[str, Any] = {"log_level": "warning", "access_log": False}
    if settings.workers > 1 and reuse_port_supported():
        try:
            serve_processes(settings.workers, settings.host, settings.port, **quiet)
        except (OSError, RuntimeError) as exc:
            err.print(f"[red]error:[/] cannot serve at {settings.host}:{settings.port}: {exc}")
            raise typer.Exit(1) from exc
        return
    uvicorn.run(
        APP,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        **quiet,
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
