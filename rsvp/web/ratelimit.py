"""Limit how often answers may be written, per link and per client address (token buckets).

The buckets live in the memory of one process. `invite serve --workers N` runs N
processes, each with its own buckets, so a client spread over all of them may write
up to N times the limits below; the limits are generous enough for people and tight
enough to stop a script, so that is acceptable (a shared store would cost a write per
request). Reading pages is not limited: mail scanners open links, and reading changes
nothing.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field

from fastapi.responses import HTMLResponse, JSONResponse, Response

from rsvp.errors import ConfigError, InviteError
from rsvp.i18n import catalogue
from rsvp.web.pages import Pages

# Values of INVITE_RATE_LIMIT, e.g. `off` for a benchmark of the app itself.
SWITCH_ON = ("", "on", "true", "yes", "1")
SWITCH_OFF = ("off", "false", "no", "0")
EPSILON = 1e-9


@dataclass(frozen=True)
class Rate:
    """`per_minute` writes on average, and up to `burst` of them at once."""

    per_minute: float
    burst: int

    @property
    def per_second(self) -> float:
        return self.per_minute / 60


@dataclass(frozen=True)
class RateLimits:
    """The limits for answers; one person changes their mind a few times, an office of
    many people behind one NAT address answers at the same moment."""

    link: Rate = field(default_factory=lambda: Rate(per_minute=10, burst=5))
    address: Rate = field(default_factory=lambda: Rate(per_minute=120, burst=60))
    enabled: bool = True
    # Beyond this many remembered keys per kind the least recently seen is forgotten:
    # memory stays bounded even when many addresses write at once.
    max_keys: int = 100_000


def limits_from_env(environ: Mapping[str, str]) -> RateLimits:
    """Read INVITE_RATE_LIMIT (`on`, the default, or `off`)."""
    value = environ.get("INVITE_RATE_LIMIT", "").strip().lower()
    if value in SWITCH_ON:
        return RateLimits()
    if value in SWITCH_OFF:
        return RateLimits(enabled=False)
    raise ConfigError(f"INVITE_RATE_LIMIT is {value!r}; use on or off")


class RateLimitedError(InviteError):
    """A write came too soon; `retry_after` is the whole number of seconds to wait."""

    def __init__(self, retry_after: int, lang: str) -> None:
        super().__init__(f"too many answers; retry after {retry_after} s")
        self.retry_after = retry_after
        self.lang = lang


class Buckets:
    """Token buckets for one kind of key, forgetting a bucket once it would be full again.

    A full bucket behaves exactly like one never seen, so forgetting it loses nothing.
    Buckets are kept in the order of their last write: the oldest are at the front, and
    every bucket written longer ago than an empty one takes to refill is full.
    """

    def __init__(self, rate: Rate, max_keys: int) -> None:
        self.capacity = float(rate.burst)
        self.refill = rate.per_second
        self.fill_time = self.capacity / self.refill
        self.max_keys = max_keys
        self._levels: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._levels)

    def level(self, key: Hashable, now: float) -> float:
        """Return how many writes `key` has left at `now` (fractions refill over time)."""
        stored = self._levels.get(key)
        if stored is None:
            return self.capacity
        tokens, at = stored
        return min(self.capacity, tokens + (now - at) * self.refill)

    def wait(self, key: Hashable, now: float) -> float:
        """Return the seconds until `key` may write once more (0 if it may now)."""
        missing = 1.0 - self.level(key, now)
        # Refilling adds up floats: a hair below one whole write counts as one.
        return 0.0 if missing <= EPSILON else missing / self.refill

    def take(self, key: Hashable, now: float) -> None:
        """Spend one write of `key`'s bucket (the caller checked `wait` first)."""
        self._levels[key] = (self.level(key, now) - 1.0, now)
        self._levels.move_to_end(key)
        self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        levels = self._levels
        while levels:
            _, at = next(iter(levels.values()))
            if now - at < self.fill_time and len(levels) <= self.max_keys:
                return
            levels.popitem(last=False)


class RateLimiter:
    """Allow or refuse one answer by a link (its recipient) from a client address."""

    def __init__(self, limits: RateLimits | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or RateLimits()
        self.clock = clock
        self.links = Buckets(self.limits.link, self.limits.max_keys)
        self.addresses = Buckets(self.limits.address, self.limits.max_keys)
        # Routes are async and run on one event loop, but the limiter may be shared with
        # code in threads; the lock is uncontended and cheap there.
        self._lock = threading.Lock()

    def check(self, link: Hashable, address: str) -> int:
        """Spend one write of both buckets and return 0, or spend none and return the
        seconds to wait (at least 1), so a refused request costs the person nothing."""
        if not self.limits.enabled:
            return 0
        with self._lock:
            now = self.clock()
            wait = max(self.links.wait(link, now), self.addresses.wait(address, now))
            if wait > 0:
                return max(1, math.ceil(wait - EPSILON))
            self.links.take(link, now)
            self.addresses.take(address, now)
            return 0


def refusal(pages: Pages, error: RateLimitedError, root: str, api: bool) -> Response:
    """Answer 429 with Retry-After and, in the person's language, when to try again."""
    texts = catalogue(error.lang)
    key = "ratelimit.text_one" if error.retry_after == 1 else "ratelimit.text"
    message = texts.t(key, seconds=error.retry_after)
    headers = {"Retry-After": str(error.retry_after)}
    if api:
        return JSONResponse({"detail": message}, 429, headers=headers)
    html = pages.render("ratelimited.html.j2", error.lang, root, message=message)
    return HTMLResponse(html, 429, headers=headers)
