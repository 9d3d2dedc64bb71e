"""The sign-in throttle: failed sign-ins counted per key, in this process's memory."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable


class LoginThrottle:
    """Failed sign-ins counted per key (the kiosk uses one key for the username and one for
    the client address). After ``max_failures`` failures of a key within ``window_seconds``
    the key is locked for ``lockout_seconds``; attempts while locked are refused unchecked
    and do not extend the lock. Unknown usernames are counted like real ones, so the
    throttle says nothing about which users exist.

    State is in this process's memory: the kiosk runs as one waitress process (threads, so
    this is thread-safe), which sees every attempt; a restart forgets the counts. At most
    about ``max_keys`` keys are kept: past that, expired entries go first, then the oldest.
    """

    def __init__(self, max_failures: int = 5, window_seconds: float = 900.0,
                 lockout_seconds: float = 900.0, *, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        if max_failures < 1 or window_seconds <= 0 or lockout_seconds <= 0:
            raise ValueError(
                f"login throttle needs max_failures >= 1 and positive times, not "
                f"{max_failures}, {window_seconds}, {lockout_seconds}")
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.lockout_seconds = lockout_seconds
        self.max_keys = max_keys
        self.clock = clock
        self._failures: dict[str, list[float]] = {}  # key -> failure times in the window
        self._locked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def entry_count(self) -> int:
        """How many entries (failure counts and locks) are held: what ``max_keys`` bounds."""
        with self._lock:
            return len(self._failures) + len(self._locked_until)

    def retry_after_seconds(self, keys: Iterable[str]) -> float:
        """Seconds until all of ``keys`` may try again; 0.0 when none is locked."""
        now = self.clock()
        with self._lock:
            wait = max((self._locked_until.get(key, now) - now for key in keys), default=0.0)
        return max(wait, 0.0)

    def record_failure(self, keys: Iterable[str]) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                recent = [t for t in self._failures.pop(key, ()) if now - t < self.window_seconds]
                recent.append(now)
                if len(recent) >= self.max_failures:
                    self._locked_until[key] = now + self.lockout_seconds
                else:
                    self._failures[key] = recent  # re-inserted: dict order is by last failure
            if len(self._failures) + len(self._locked_until) > self.max_keys:
                self._prune(now)

    def clear(self, key: str) -> None:
        """Forget ``key``'s failures (a successful sign-in)."""
        with self._lock:
            self._failures.pop(key, None)
            self._locked_until.pop(key, None)

    def _prune(self, now: float) -> None:
        self._locked_until = {k: t for k, t in self._locked_until.items() if t > now}
        self._failures = {k: times for k, times in self._failures.items()
                          if now - times[-1] < self.window_seconds}
        excess = len(self._failures) + len(self._locked_until) - self.max_keys * 3 // 4
        for key in list(self._failures)[:max(excess, 0)]:  # oldest last failure first
            del self._failures[key]
