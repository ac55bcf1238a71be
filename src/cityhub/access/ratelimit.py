"""Rate limits per caller: in process, or shared by all server processes through Redis.

The algorithm is GCRA (the generic cell rate algorithm, a leaky bucket kept as one number per
key): `limit` hits per `window` seconds means one hit every `window / limit` seconds, with a
burst of up to `limit` hits at once. A key's state is its "theoretical arrival time" (TAT): the
moment its budget would be whole again. A hit moves the TAT one interval forward; a hit that
would push it more than a window ahead of now is refused, and told how long until it fits.
Unlike a fixed window it never lets 2 x `limit` through around a window's edge, and unlike a
log of hits it keeps one number per key, so Redis and memory stay small whatever the traffic.

Time is counted in whole microseconds in both implementations, and the interval is rounded up
to a whole microsecond (the effective window is then at most `limit` microseconds longer than
asked): all arithmetic is on integers below 2**53, exact in Python and in Redis's Lua doubles
alike, so `MemoryLimiter` and `RedisLimiter` decide the same way for the same sequence of hits.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

if TYPE_CHECKING:
    from cityhub.config import Settings

log = logging.getLogger(__name__)

PREFIX = "cityhub:rl:"


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one hit: allowed or not, hits left right now, and when to come back."""

    allowed: bool
    remaining: int  # hits that would still be allowed at once after this one
    retry_after: int  # whole seconds (>= 1) until a hit fits again; 0 when allowed


class Limiter(Protocol):
    """Counts hits per key. `blocking` limiters (network round trips) are called off the event
    loop by the HTTP layer; an object without the attribute is taken as blocking."""

    def hit(self, key: str, limit: int, window: float = 60.0) -> Decision: ...


def _params(limit: int, window: float) -> tuple[int, int]:
    """(interval, period) in microseconds: one hit per interval, a burst of `limit` per period."""
    if limit < 1:
        raise ValueError(f"a rate limit allows at least 1 hit, not {limit}")
    if not window > 0:
        raise ValueError(f"a rate limit's window is more than 0 seconds, not {window}")
    interval = max(1, math.ceil(round(window * 1_000_000) / limit))
    return interval, interval * limit


def _decide(tat: int | None, now: int, interval: int, period: int) -> tuple[Decision, int | None]:
    """GCRA on integers (the Lua script below is the same steps). Returns the decision and the
    key's new TAT, or None when refused: a refused hit costs nothing, so a client that retries
    in a loop is not locked out for longer than its own excess."""
    ahead = (now if tat is None else max(tat, now)) + interval - now
    if ahead > period:
        return Decision(False, 0, math.ceil((ahead - period) / 1_000_000)), None
    return Decision(True, (period - ahead) // interval, 0), now + ahead


class MemoryLimiter:
    """In one process, thread-safe. Keys whose TAT has passed are forgotten (their state equals
    a fresh key's), and at most `max_keys` are kept: past that the least recently allowed key
    goes first, so a flood of distinct addresses costs bounded memory and, at worst, gives the
    quietest callers a fresh budget."""

    blocking = False

    def __init__(
        self, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._max_keys = max_keys
        self._clock = clock  # seconds; injectable so tests can move time
        self._tats: OrderedDict[str, int] = OrderedDict()  # least recently allowed first
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._tats)

    def hit(self, key: str, limit: int, window: float = 60.0) -> Decision:
        interval, period = _params(limit, window)
        with self._lock:
            now = round(self._clock() * 1_000_000)
            self._forget_idle(now)
            decision, tat = _decide(self._tats.get(key), now, interval, period)
            if tat is not None:
                self._tats[key] = tat
                self._tats.move_to_end(key)
                while len(self._tats) > self._max_keys:
                    self._tats.popitem(last=False)
        return decision

    def _forget_idle(self, now: int) -> None:
        # Front to back until a key still counts: O(1) per hit on average. A long-window key at
        # the front may shelter idle ones behind it; max_keys bounds that.
        while self._tats:
            key, tat = next(iter(self._tats.items()))
            if tat > now:
                return
            del self._tats[key]


# KEYS[1]: the key; ARGV: interval and period in microseconds. Redis's own clock (TIME) is the
# one clock of all server processes, so their clocks' skew does not matter. The state expires
# when its TAT passes: an idle key costs Redis nothing.
_GCRA_LUA = """
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then tat = math.max(tonumber(stored), now) end
local ahead = tat + interval - now
if ahead > period then
  return {0, 0, math.ceil((ahead - period) / 1000000)}
end
redis.call('SET', KEYS[1], string.format('%.0f', now + ahead), 'PX', math.ceil(ahead / 1000))
return {1, math.floor((period - ahead) / interval), 0}
"""


class RedisLimiter:
    """Shared by every process using the same Redis: one atomic script call per hit.

    When Redis cannot be reached the hit is counted by an in-process `MemoryLimiter` instead,
    with a warning, and Redis is left alone for `cooldown` seconds: a rate limiter's outage
    must not take the data center down, and the limits still hold in each process (a caller
    then gets up to `limit` per process). Failing closed would refuse every caller; failing
    open would drop the limits altogether.
    """

    blocking = True

    def __init__(
        self,
        url: str,
        *,
        prefix: str = PREFIX,
        fallback: Limiter | None = None,
        timeout: float = 0.25,
        cooldown: float = 5.0,
    ) -> None:
        # Short timeouts and one retry at once (a pooled connection may have gone stale), not
        # redis-py's default backoff: a hit happens on every request, a slow Redis slows all.
        self._redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
        )
        self._script = self._redis.register_script(_GCRA_LUA)
        self.prefix = prefix
        self._fallback = fallback or MemoryLimiter()
        self._cooldown = cooldown
        self._down_until = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        kw = self._redis.connection_pool.connection_kwargs  # never the URL: it may hold a password
        return f"RedisLimiter({kw.get('host')}:{kw.get('port')}/{kw.get('db')}, {self.prefix!r})"

    def hit(self, key: str, limit: int, window: float = 60.0) -> Decision:
        interval, period = _params(limit, window)
        if time.monotonic() < self._down_until:
            return self._fallback.hit(key, limit, window)
        try:
            allowed, remaining, retry_after = self._script(
                keys=[self.prefix + key], args=[interval, period]
            )
        except redis.RedisError as exc:
            with self._lock:
                if time.monotonic() >= self._down_until:  # one warning per cooldown, not per hit
                    log.warning(
                        "rate limits: %r cannot be reached (%s); counting in this process "
                        "for the next %.0f s",
                        self,
                        exc,
                        self._cooldown,
                    )
                self._down_until = time.monotonic() + self._cooldown
            return self._fallback.hit(key, limit, window)
        return Decision(bool(allowed), int(remaining), int(retry_after))

    def close(self) -> None:
        self._redis.close()


def limiter_for(settings: Settings) -> Limiter:
    """Redis when `redis_url` is set (limits shared by all server processes), else in process."""
    if settings.redis_url:
        return RedisLimiter(settings.redis_url)
    return MemoryLimiter()
