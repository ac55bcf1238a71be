"""Rate limits: the same cases in memory and on a real Redis, then the HTTP middleware."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest
import redis
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cityhub.access.ratelimit import (
    PREFIX,
    Decision,
    Limiter,
    MemoryLimiter,
    RedisLimiter,
    limiter_for,
)
from cityhub.api.limits import Limits, caller_key
from cityhub.config import Settings

REDIS_URL_ENV = "CITYHUB_TEST_REDIS_URL"


def redis_url() -> str:
    url = os.environ.get(REDIS_URL_ENV)
    if not url and os.environ.get("CITYHUB_REQUIRE_SERVICES"):
        pytest.fail(f"{REDIS_URL_ENV} must be set when CITYHUB_REQUIRE_SERVICES is (CI)")
    if not url:
        pytest.skip(f"{REDIS_URL_ENV} is not set; Redis tests need e.g. redis://127.0.0.1:6379/15")
    return url


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Kind:
    """Makes limiters of one kind that share their counts, and lets time pass for them."""

    new: Callable[[], Limiter]
    wait: Callable[[float], None]


@dataclass
class RedisSpace:
    """A namespace of one test's own under the real prefix: other tests and other runs on the
    same Redis never see its keys, and only its keys are deleted afterwards."""

    url: str
    prefix: str
    probe: redis.Redis
    made: list[RedisLimiter] = field(default_factory=list)

    def new(self) -> RedisLimiter:
        limiter = RedisLimiter(self.url, prefix=self.prefix)
        self.made.append(limiter)
        return limiter

    def ours(self) -> list[bytes]:
        return list(self.probe.scan_iter(match=self.prefix + "*"))


@pytest.fixture
def space() -> Iterator[RedisSpace]:
    url = redis_url()
    probe = redis.Redis.from_url(url)
    try:
        probe.ping()
    except redis.RedisError as exc:
        if os.environ.get("CITYHUB_REQUIRE_SERVICES"):
            pytest.fail(f"Redis at {REDIS_URL_ENV} does not answer: {exc}")
        pytest.skip(f"Redis at {REDIS_URL_ENV} does not answer: {exc}")
    ns = RedisSpace(url, f"{PREFIX}test:{uuid.uuid4().hex}:", probe)
    try:
        yield ns
    finally:
        for key in ns.ours():
            probe.delete(key)
        probe.close()
        for limiter in ns.made:
            limiter.close()


@pytest.fixture(params=["memory", "redis"])
def kind(request: pytest.FixtureRequest) -> Kind:
    if request.param == "redis":
        ns: RedisSpace = request.getfixturevalue("space")
        return Kind(ns.new, time.sleep)
    clock = FakeClock()
    shared = MemoryLimiter(clock=clock)

    def advance(seconds: float) -> None:
        clock.now += seconds

    return Kind(lambda: shared, advance)


def burst(limiter: Limiter, key: str, n: int, limit: int, window: float) -> list[Decision]:
    return [limiter.hit(key, limit, window) for _ in range(n)]


# -- the same table of cases for both limiters -----------------------------------------------------
@pytest.mark.parametrize(("limit", "window"), [(1, 60.0), (3, 60.0), (10, 1.0), (100, 60.0)])
def test_allows_limit_hits_then_refuses(kind: Kind, limit: int, window: float) -> None:
    limiter = kind.new()
    decisions = burst(limiter, "k", limit, limit, window)
    assert all(d.allowed for d in decisions)
    assert [d.remaining for d in decisions] == list(range(limit - 1, -1, -1))
    assert all(d.retry_after == 0 for d in decisions)
    refused = limiter.hit("k", limit, window)
    assert refused == Decision(False, 0, math.ceil(window / limit))
    assert refused.retry_after >= 1
    # A refused hit costs nothing, but is still refused.
    assert not limiter.hit("k", limit, window).allowed


def test_a_new_window_allows_again(kind: Kind) -> None:
    limiter = kind.new()
    assert all(d.allowed for d in burst(limiter, "w", 4, 4, 1.0))
    refused = limiter.hit("w", 4, 1.0)
    assert not refused.allowed and refused.retry_after == 1
    kind.wait(1.05)
    assert all(d.allowed for d in burst(limiter, "w", 4, 4, 1.0))
    assert not limiter.hit("w", 4, 1.0).allowed


def test_the_budget_refills_steadily(kind: Kind) -> None:
    # GCRA: 2 a second is one every half second, not 2 at each second's turn.
    limiter = kind.new()
    assert all(d.allowed for d in burst(limiter, "s", 2, 2, 1.0))
    assert not limiter.hit("s", 2, 1.0).allowed
    kind.wait(0.55)
    assert limiter.hit("s", 2, 1.0).allowed
    assert not limiter.hit("s", 2, 1.0).allowed


def test_keys_are_independent(kind: Kind) -> None:
    limiter = kind.new()
    assert all(d.allowed for d in burst(limiter, "a", 2, 2, 60.0))
    assert not limiter.hit("a", 2, 60.0).allowed
    assert all(d.allowed for d in burst(limiter, "b", 2, 2, 60.0))
    assert not limiter.hit("b", 2, 60.0).allowed


def test_concurrent_threads_never_exceed_the_limit(kind: Kind) -> None:
    limiter = kind.new()
    allowed: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        mine = [limiter.hit("c", 50, 60.0).allowed for _ in range(25)]
        with lock:
            allowed.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) == 200
    assert sum(allowed) == 50


def test_two_redis_limiters_share_the_count(space: RedisSpace) -> None:
    first, second = space.new(), space.new()  # as two server processes would
    assert first.hit("shared", 3, 60.0).remaining == 2
    assert second.hit("shared", 3, 60.0).remaining == 1
    assert first.hit("shared", 3, 60.0).remaining == 0
    assert not second.hit("shared", 3, 60.0).allowed
    assert not first.hit("shared", 3, 60.0).allowed


def test_redis_keys_are_prefixed_and_expire(space: RedisSpace) -> None:
    space.new().hit("addr:127.0.0.1", 10, 60.0)
    keys = space.ours()
    assert keys == [(space.prefix + "addr:127.0.0.1").encode()]
    assert keys[0].startswith(b"cityhub:rl:")
    assert 0 < space.probe.pttl(keys[0]) <= 6_000  # one hit's worth: 60 s / 10


# -- memory only: bounded, and Redis's stand-in ---------------------------------------------------
def test_memory_forgets_idle_keys_and_stays_bounded() -> None:
    clock = FakeClock()
    limiter = MemoryLimiter(max_keys=100, clock=clock)
    for i in range(1000):
        assert limiter.hit(f"addr:{i}", 5, 60.0).allowed
    assert len(limiter) == 100
    clock.now += 13  # one hit's worth of 60 s / 5: every key's budget is whole again
    limiter.hit("addr:new", 5, 60.0)
    assert len(limiter) == 1


def test_unreachable_redis_falls_back_to_the_process(caplog: pytest.LogCaptureFixture) -> None:
    # Port 1 on the loopback: nothing listens, the connection is refused at once.
    limiter = RedisLimiter("redis://:hunter2@127.0.0.1:1/0", timeout=0.2)
    with caplog.at_level(logging.WARNING, logger="cityhub.access.ratelimit"):
        decisions = burst(limiter, "down", 4, 3, 60.0)
    assert [d.allowed for d in decisions] == [True, True, True, False]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once per outage, not once per request
    assert "in this process" in warnings[0].getMessage()
    assert "hunter2" not in warnings[0].getMessage()


def test_limiter_for_settings() -> None:
    assert isinstance(limiter_for(Settings(redis_url=None)), MemoryLimiter)
    shared = limiter_for(Settings(redis_url="redis://127.0.0.1:6379/15"))
    assert isinstance(shared, RedisLimiter)
    shared.close()


@pytest.mark.parametrize(("limit", "window"), [(0, 60.0), (5, 0.0)])
def test_nonsense_limits_are_refused(limit: int, window: float) -> None:
    with pytest.raises(ValueError):
        MemoryLimiter().hit("k", limit, window)


# -- the HTTP middleware ---------------------------------------------------------------------------
async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(await request.body())))


def settings(**kw: int) -> Settings:
    return Settings(
        rate_limit_token=kw.get("token", 3),
        rate_limit_anonymous=kw.get("anonymous", 2),
        max_request_bytes=kw.get("max_bytes", 1024),
    )


def starlette_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/", ok),
            Route("/healthz", ok),
            Route("/echo", echo, methods=["POST"]),
            Route("/ignore", ok, methods=["POST"]),  # answers without reading the body
        ]
    )


def fastapi_app() -> FastAPI:
    api = FastAPI()

    @api.post("/echo")
    async def fast_echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    return api


def client(
    limiter: Limiter, host: str = "127.0.0.2", app: ASGIApp | None = None, **kw: int
) -> TestClient:
    wrapped = Limits(app or starlette_app(), settings(**kw), limiter)
    return TestClient(wrapped, client=(host, 40000))


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "about:blank" and body["status"] == status
    assert body["title"] and body["detail"]
    return dict(body)


def test_token_callers_get_429_after_their_limit(kind: Kind) -> None:
    c = client(kind.new())
    bearer = {"Authorization": "Bearer token-one"}
    for left in (2, 1, 0):
        r = c.get("/", headers=bearer)
        assert r.status_code == 200
        assert r.headers["RateLimit-Limit"] == "3"
        assert r.headers["RateLimit-Remaining"] == str(left)
    refused = c.get("/", headers=bearer)
    body = assert_problem(refused, 429)
    assert int(refused.headers["Retry-After"]) == 20  # 60 s / 3
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert "3 requests" in str(body["detail"])
    # Another token, and the same token as CKAN clients send it, are counted apart / together.
    assert c.get("/", headers={"Authorization": "Bearer token-two"}).status_code == 200
    assert c.get("/", headers={"Authorization": "token-one"}).status_code == 429
    assert c.get("/", headers={"X-CKAN-API-Key": "token-one"}).status_code == 429
    assert c.get("/", headers={"X-CKAN-API-Key": "token-three"}).status_code == 200


def test_anonymous_callers_are_counted_per_address() -> None:
    limiter = MemoryLimiter()
    first, second = client(limiter, "127.0.0.2"), client(limiter, "127.0.0.3")
    assert [first.get("/").status_code for _ in range(3)] == [200, 200, 429]
    assert first.get("/").headers["RateLimit-Limit"] == "2"
    assert [second.get("/").status_code for _ in range(3)] == [200, 200, 429]
    # A token is counted on its own, whatever the address.
    assert first.get("/", headers={"Authorization": "Bearer t"}).status_code == 200


def test_healthz_is_not_limited() -> None:
    c = client(MemoryLimiter())
    assert all(c.get("/healthz").status_code == 200 for _ in range(10))
    assert "RateLimit-Limit" not in c.get("/healthz").headers


def test_caller_keys_hash_the_token() -> None:
    key, has_token = caller_key({"headers": [(b"authorization", b"Bearer s3cr3t")]})
    assert has_token and key.startswith("token:") and len(key) == 6 + 32
    assert "s3cr3t" not in key
    v6 = {"headers": [], "client": ("2001:db8::1", 1)}
    v6b = {"headers": [], "client": ("2001:db8::ffff", 1)}
    assert caller_key(v6) == caller_key(v6b) == ("addr:2001:db8::/64", False)
    mapped = {"headers": [], "client": ("::ffff:127.0.0.2", 1)}
    assert caller_key(mapped) == ("addr:127.0.0.2", False)


def test_large_body_by_content_length_gets_413() -> None:
    c = client(MemoryLimiter(), anonymous=100)
    assert c.post("/echo", content=b"x" * 1024).text == "1024"
    r = c.post("/echo", content=b"x" * 1025)
    body = assert_problem(r, 413)
    assert "1024 bytes" in str(body["detail"])
    assert r.headers["RateLimit-Limit"] == "100"
    # Refused on the header alone, before the app is called.
    assert_problem(c.post("/ignore", content=b"x" * 5000), 413)


def test_chunked_body_gets_413() -> None:
    def chunks(n: int) -> Iterator[bytes]:
        for _ in range(n):
            yield b"y" * 300

    for app in (starlette_app(), fastapi_app()):
        c = client(MemoryLimiter(), app=app, anonymous=100)
        small = c.post("/echo", content=chunks(3))
        assert small.status_code == 200, small.text
        big = c.post("/echo", content=chunks(4))
        assert "content-length" not in {k.lower() for k in big.request.headers}
        assert_problem(big, 413)


def test_streamed_body_is_cut_off_mid_way() -> None:
    # Straight through ASGI: the body comes in several messages, without a Content-Length.
    reads: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            reads.append(len(message.get("body", b"")))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"read it all"})

    parts = [b"z" * 400] * 10
    incoming = iter(
        [{"type": "http.request", "body": p, "more_body": i < 9} for i, p in enumerate(parts)]
    )
    sent: list[Message] = []

    async def receive() -> Message:
        return next(incoming)

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/upload",
        "headers": [(b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.2", 1),
    }
    # a thread of its own: a browser test's Playwright may hold this thread's event loop
    call = Limits(app, settings(), MemoryLimiter())(scope, receive, send)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, call).result()
    assert reads == [400, 400]  # the third read, past 1024 bytes, was refused
    assert sent[0]["status"] == 413
    assert b"read it all" not in b"".join(m.get("body", b"") for m in sent)
