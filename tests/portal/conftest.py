"""The portal in a real browser: the access tests' small city served by uvicorn on a free port,
and Debian's Chromium driven headless by Playwright (never a downloaded browser).

Screenshots of the main pages go to tests/artifacts/ (CI keeps them).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from cityhub.api import create_app
from cityhub.config import Settings
from cityhub.hub import Hub
from tests.access.conftest import PASSWORD, build_city, city, make_users

__all__ = ["city"]  # the access tests' city, for portal tests without a browser
ARTIFACTS = Path(__file__).parent.parent / "artifacts"
CHROMIUM = os.environ.get("CITYHUB_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Site:
    base: str
    hub: Hub
    tokens: dict[str, str]
    folder: Path
    password: str = PASSWORD


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The small city (tests/access) served over HTTP for a module's browser tests."""
    folder = tmp_path_factory.mktemp("site")
    port = _free_port()
    settings = Settings(
        home=folder / "home",
        operator="tester",
        infer_rows=2000,
        port=port,
        public_url=f"http://127.0.0.1:{port}",
        rate_limit_anonymous=100_000,
        rate_limit_token=100_000,
    )
    hub = Hub(settings)
    hub.init()
    build_city(hub, folder)
    tokens = make_users(hub)
    server = uvicorn.Server(
        uvicorn.Config(create_app(hub), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/api/v1/stats").status_code == 200:
                break
        if time.monotonic() > deadline:
            raise AssertionError("the portal did not start")
        time.sleep(0.1)
    try:
        yield Site(base, hub, tokens, folder)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        hub.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM):
        if os.environ.get("CITYHUB_REQUIRE_SERVICES"):
            pytest.fail(f"Chromium is required for the browser tests in CI ({CHROMIUM})")
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object, site: Site) -> Iterator[object]:
    """A fresh browser context (no cookies) in Chinese, with a page; console errors fail."""
    context = browser.new_context(locale="zh-CN", base_url=site.base)  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if msg.type == "error" else None,
    )
    yield page
    context.close()
    assert not errors, errors  # no script errors, no CSP violations


def shot(page: object, name: str) -> None:
    """Keep a screenshot of the page under tests/artifacts/ (CI saves them)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]
