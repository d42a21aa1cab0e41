"""Who may ask, and how often: API keys from a file (one a line), and a fixed-window rate limit per key.

The key file is read again whenever it changes, so keys are issued and revoked without a restart. A missing file
means no key is valid. Pure apart from reading that file; the clock is injected so that tests can drive it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nino_assets.service.errors import Forbidden, RateLimited

DEFAULT_RATE_LIMIT = 2000
DEFAULT_RATE_WINDOW_SECONDS = 3600


class ApiKeys:
    def __init__(self, path: Path):
        self.path = path
        self._seen: tuple[float, int] | None = None
        self._keys: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def _current(self) -> frozenset[str]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return frozenset()
        with self._lock:
            if self._seen != (stat.st_mtime, stat.st_size):
                lines = self.path.read_text(encoding="utf-8").splitlines()
                self._keys = frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))
                self._seen = (stat.st_mtime, stat.st_size)
            return self._keys

    def check(self, key: str | None) -> str:
        """The key, if it is a valid one; 403 otherwise."""
        if not key:
            raise Forbidden("an API key is required: send it in the APIKey header")
        if key not in self._current():
            raise Forbidden("the API key is not valid")
        return key


@dataclass(frozen=True)
class RateState:
    limit: int
    remaining: int
    reset_ms: int
    """When the current window ends, in milliseconds since the epoch."""

    def headers(self, suffix: str = "") -> dict[str, str]:
        """Stat-Xplore's rate headers; `/table` answers carry them again with the suffix `-Table` (one limit here
        counts every request, tables included)."""
        return {f"X-RateLimit{suffix}": str(self.limit), f"X-RateLimit-Remaining{suffix}": str(self.remaining),
                f"X-RateLimit-Reset{suffix}": str(self.reset_ms)}

    def table_headers(self) -> dict[str, str]:
        return self.headers() | self.headers("-Table")

    def body(self) -> dict:
        return {"remaining": self.remaining, "reset": self.reset_ms, "limit": self.limit}


class RateLimiter:
    """`limit` requests per key in each window of `window_seconds`; the next is refused (429) until the window
    resets."""

    def __init__(self, limit: int = DEFAULT_RATE_LIMIT, window_seconds: float = DEFAULT_RATE_WINDOW_SECONDS,
                 clock: Callable[[], float] = time.time):
        if limit < 1 or window_seconds <= 0:
            raise ValueError("the rate limit needs at least 1 request in a window longer than 0 s")
        self.limit, self.window_seconds, self.clock = limit, window_seconds, clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def _window(self, key: str, now: float) -> tuple[float, int]:
        started, used = self._windows.get(key, (now, 0))
        return (now, 0) if now >= started + self.window_seconds else (started, used)

    def _state(self, started: float, used: int) -> RateState:
        return RateState(self.limit, max(0, self.limit - used), int((started + self.window_seconds) * 1000))

    def peek(self, key: str) -> RateState:
        """The key's state, without using a request."""
        with self._lock:
            return self._state(*self._window(key, self.clock()))

    def take(self, key: str) -> RateState:
        """Use one request of the key's window, or refuse with 429 (the state goes in the refusal's headers)."""
        with self._lock:
            started, used = self._window(key, self.clock())
            if used >= self.limit:
                raise RateLimitedError(self._state(started, used))
            self._windows[key] = (started, used + 1)
            return self._state(started, used + 1)


class RateLimitedError(RateLimited):
    def __init__(self, state: RateState):
        super().__init__(f"the rate limit of {state.limit} requests is reached; it resets at {state.reset_ms} "
                         "(milliseconds since the epoch)")
        self.state = state
