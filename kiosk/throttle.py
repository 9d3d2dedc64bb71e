"""The sign-in throttle: failed sign-ins counted per key, in this process's memory."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable


class LoginThrottle:
    """Failed sign-ins counted per key (``SignInThrottle`` below keys one by user name and
    address, another by address). After ``max_failures`` failures of a key within
    ``window_seconds`` the key is locked for ``lockout_seconds``; attempts while locked are
    refused unchecked and do not extend the lock.

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
        self._failures: dict[Hashable, list[float]] = {}  # key -> failure times in the window
        self._locked_until: dict[Hashable, float] = {}
        self._lock = threading.Lock()

    @property
    def entry_count(self) -> int:
        """How many entries (failure counts and locks) are held: what ``max_keys`` bounds."""
        with self._lock:
            return len(self._failures) + len(self._locked_until)

    def retry_after_seconds(self, keys: Iterable[Hashable]) -> float:
        """Seconds until all of ``keys`` may try again; 0.0 when none is locked."""
        now = self.clock()
        with self._lock:
            wait = max((self._locked_until.get(key, now) - now for key in keys), default=0.0)
        return max(wait, 0.0)

    def record_failure(self, keys: Iterable[Hashable]) -> None:
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

    def clear(self, key: Hashable) -> None:
        """Forget ``key``'s failures (a successful sign-in)."""
        self.clear_where(lambda k: k == key)

    def clear_where(self, matches: Callable[[Hashable], bool]) -> int:
        """Forget the failures and locks of every key ``matches``; returns how many locks
        were lifted."""
        with self._lock:
            for key in [k for k in self._failures if matches(k)]:
                del self._failures[key]
            lifted = [k for k in self._locked_until if matches(k)]
            for key in lifted:
                del self._locked_until[key]
        return len(lifted)

    def locked(self) -> dict[Hashable, float]:
        """Every key locked now, with the seconds until it may try again."""
        now = self.clock()
        with self._lock:
            return {k: until - now for k, until in self._locked_until.items() if until > now}

    def _prune(self, now: float) -> None:
        self._locked_until = {k: t for k, t in self._locked_until.items() if t > now}
        self._failures = {k: times for k, times in self._failures.items()
                          if now - times[-1] < self.window_seconds}
        excess = len(self._failures) + len(self._locked_until) - self.max_keys * 3 // 4
        for key in list(self._failures)[:max(excess, 0)]:  # oldest last failure first
            del self._failures[key]


class SignInThrottle:
    """The kiosk's sign-in throttle: failures counted per (user name, client address), so
    one person's typos under one name never lock another name, and per address with a
    higher ceiling, so one address cannot try name after name.

    A (name, address) pair is locked after ``max_failures`` failures in the window; an
    address after ``max_address_failures`` failures under any names. Names are compared
    case-insensitively, and unknown names are counted like real ones, so the answers never
    tell whether a user exists. A success clears its pair only (not the address count).
    """

    def __init__(self, max_failures: int = 5, max_address_failures: int = 50,
                 window_seconds: float = 900.0, lockout_seconds: float = 900.0, *,
                 clock: Callable[[], float] = time.monotonic):
        if max_address_failures < max_failures:
            raise ValueError(
                f"the per-address ceiling ({max_address_failures}) must be at least the "
                f"per-name limit ({max_failures})")
        self.pairs = LoginThrottle(max_failures, window_seconds, lockout_seconds, clock=clock)
        self.addresses = LoginThrottle(max_address_failures, window_seconds, lockout_seconds,
                                       clock=clock)

    @property
    def clock(self) -> Callable[[], float]:
        return self.pairs.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self.pairs.clock = self.addresses.clock = clock

    @staticmethod
    def _pair(username: str, address: str | None) -> tuple[str, str]:
        return (username.casefold(), address or "")

    def retry_after_seconds(self, username: str, address: str | None) -> float:
        """Seconds until ``username`` may try again from ``address``; 0.0 when it may now."""
        return max(self.pairs.retry_after_seconds([self._pair(username, address)]),
                   self.addresses.retry_after_seconds([address or ""]))

    def record_failure(self, username: str, address: str | None) -> None:
        self.pairs.record_failure([self._pair(username, address)])
        self.addresses.record_failure([address or ""])

    def record_success(self, username: str, address: str | None) -> None:
        self.pairs.clear(self._pair(username, address))

    def locked_users(self) -> dict[str, float]:
        """Locked user names (case-folded), with the seconds until the last lock ends."""
        users: dict[str, float] = {}
        for (name, _), seconds in self.pairs.locked().items():
            users[name] = max(seconds, users.get(name, 0.0))
        return users

    def locked_addresses(self) -> dict[str, float]:
        """Addresses over the ceiling, with the seconds until each may try again."""
        return dict(self.addresses.locked())

    def unlock_user(self, username: str) -> int:
        """Lift the locks and forget the failures of ``username`` from every address."""
        name = username.casefold()
        return self.pairs.clear_where(lambda key: key[0] == name)

    def unlock_address(self, address: str) -> int:
        """Lift the ceiling's lock on ``address`` and forget its failures."""
        return self.addresses.clear_where(lambda key: key == address)
