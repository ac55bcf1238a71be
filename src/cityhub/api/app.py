"""The FastAPI app: native API, DCAT-AP, problem+json errors; `create_app` wires it to a hub."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from cityhub import __version__, portal
from cityhub.access import Door, Masking
from cityhub.access.audit import AuditLog
from cityhub.access.ratelimit import limiter_for
from cityhub.access.sharing import Workflow
from cityhub.api import accounts, ckan, dcat, problems, sharing, v1
from cityhub.api import export as export_api
from cityhub.api import sql as sql_api
from cityhub.api.deps import Services
from cityhub.api.fastpath import FastPath
from cityhub.api.limits import Limits
from cityhub.api.timing import ServerTiming
from cityhub.catalog.db import Database
from cityhub.config import load_settings
from cityhub.hub import Hub
from cityhub.query import Engine
from cityhub.query.lookup import Lookups
from cityhub.query.masking import pseudonym_key


def create_app(hub: Hub | None = None, *, server: bool = False) -> FastAPI:
    """The app over `hub` (default: the configured home, opened when the server starts);
    `server` for the app that is a server process's only one (`serving_app`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = hub or Hub.open()
        settings = opened.settings
        base = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
        engine = Engine(settings, pseudonym_key(settings, settings.home))
        lookups = Lookups(settings)
        # The audit writes through a pool of its own: each read holds one of the catalog's
        # connections while its record is written, so with every connection of one pool held by
        # reads in flight, an append waiting for one would wait for the reads waiting for it.
        audit_db = Database(opened.db.url, opened.db.synchronous)
        audit = AuditLog(audit_db, settings.audit_hash)
        door = Door(opened.lake, audit, Masking(settings.masking_rules, settings.masking_overrides))
        workflow = Workflow(settings, audit)
        app.state.services = Services(opened, engine, door, base, lookups, audit, workflow)
        with opened.db.session() as s:
            lookups.want_all(s, door)
        if server:
            # What is loaded by now (modules, the app, its caches) lives as long as the process:
            # kept out of the collector's full passes, each of which walked some 400,000 objects
            # for 0.15 s while every request in flight waited (the tail of latency under load).
            gc.freeze()
        try:
            yield
        finally:
            lookups.close()
            engine.close()
            audit_db.dispose()
            if hub is None:
                opened.close()

    # The API's documentation pages with their assets from the installed package, not a CDN:
    # the center's networks are often closed.
    app = FastAPIOffline(
        title="cityhub",
        version=__version__,
        summary="城市大数据中心 · a city's big data center: catalog and data on demand",
        lifespan=lifespan,
    )
    app.add_middleware(FastPath)  # innermost: inside the limits, the timing, the headers
    app.add_middleware(ServerTiming)
    # outermost: a refused request (too big, too many) costs nothing behind it
    settings = hub.settings if hub else load_settings()
    app.state.limiter = limiter_for(settings)  # also counts invalid tokens (see deps.caller)
    app.add_middleware(Limits, settings=settings, limiter=app.state.limiter)
    problems.install(app, portal.page_error)
    app.include_router(v1.router)
    app.include_router(accounts.router)
    app.include_router(sharing.router)
    app.include_router(sql_api.router)
    app.include_router(export_api.router)
    app.include_router(dcat.router)
    app.include_router(ckan.router)
    portal.install(app)  # last: its pages take the paths the API leaves
    return app


def serving_app() -> FastAPI:
    """The app of a `cityhub serve` process."""
    return create_app(server=True)
