"""A small in-memory rate limiter for the public JSON (the member planner's API).

A token bucket per client address: ``requests`` tokens, refilled evenly over
``window_seconds``, so a client may burst up to ``requests`` and then gets one request per
``window_seconds / requests``. State lives in this process's memory, like the sign-in
throttle (``kiosk.throttle``): ``passport serve`` is one waitress process (threads, hence the
lock); a restart forgets it. Behind a reverse proxy set ``PROXY_HOPS`` so that addresses are
the clients' own.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable


class RateLimiter:
    """``take(key)`` answers 0.0 when the key may make a request now (and counts it), else
    the seconds until it may. At most about ``max_keys`` keys are kept: past that, keys whose
    bucket has refilled go first, then the longest idle."""

    def __init__(self, requests: int, window_seconds: float, *, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        if requests < 1 or window_seconds <= 0:
            raise ValueError(f"a rate limit needs requests >= 1 and a positive window, not "
                             f"{requests!r} per {window_seconds!r} s")
        self.requests = requests
        self.window_seconds = window_seconds
        self.per_second = requests / window_seconds
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: Hashable) -> float:
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (float(self.requests), now))
            tokens = min(float(self.requests), tokens + (now - at) * self.per_second)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)  # re-inserted: dict order is recency
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / self.per_second
            if len(self._buckets) > self.max_keys:
                self._prune(now)
        return wait

    @staticmethod
    def retry_after(wait_seconds: float) -> int:
        """A ``Retry-After`` value: whole seconds, at least 1."""
        return max(1, math.ceil(wait_seconds))

    def _prune(self, now: float) -> None:
        full = [k for k, (tokens, at) in self._buckets.items()
                if tokens + (now - at) * self.per_second >= self.requests]
        for key in full:
            del self._buckets[key]
        excess = len(self._buckets) - self.max_keys * 3 // 4
        for key in list(self._buckets)[:max(excess, 0)]:  # the longest idle first
            del self._buckets[key]
