"""The app a server process runs, against the one a test or another program embeds."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from cityhub.api.app import create_app
from cityhub.hub import Hub


def test_a_server_process_keeps_what_it_loaded_out_of_the_collector(hub: Hub) -> None:
    before = gc.get_freeze_count()
    try:
        with TestClient(create_app(hub, server=True)) as client:
            assert gc.get_freeze_count() > before + 10_000  # the modules, the app, its caches
            assert client.get("/api/v1/stats").status_code == 200
    finally:
        gc.unfreeze()  # this test process goes on to other tests


def test_an_embedded_app_leaves_the_collector_alone(hub: Hub) -> None:
    before = gc.get_freeze_count()
    with TestClient(create_app(hub)) as client:
        assert client.get("/api/v1/stats").status_code == 200
    assert gc.get_freeze_count() == before
