"""Per-user limits for socket events (Flask-Limiter does nothing inside socket handlers).

The `limits` library's moving window, on Redis when configured. Without Redis the window
lives in this process, in `LocalMovingWindow` below rather than limits' own MemoryStorage:
that one sweeps every key from a timer thread every 10 ms while events flow, which cost
a sixth of the chat's server CPU under load (bench/README.md).
"""

import functools
import threading
import time
from collections import deque

from flask import current_app
from limits import parse, storage, strategies


class LocalMovingWindow(storage.Storage, storage.MovingWindowSupport):
    """An exact moving window per key, kept in this process; expired entries are dropped
    when their key is next used, and idle keys by an occasional sweep on the caller's
    thread (no timer thread)."""

    STORAGE_SCHEME = ["ccr-local"]
    SWEEP_EVERY = 10_000  # calls between sweeps of idle keys

    def __init__(self, uri: str | None = None, **options) -> None:
        super().__init__(uri, **options)
        self._lock = threading.Lock()
        self._events: dict[str, deque[float]] = {}  # newest on the right
        self._calls = 0

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.monotonic()
        with self._lock:
            self._calls += 1
            if self._calls % self.SWEEP_EVERY == 0:
                self._sweep(now, expiry)
            events = self._events.get(key)
            if events is None:
                events = self._events[key] = deque()
            while events and events[0] <= now - expiry:
                events.popleft()
            if len(events) + amount > limit:
                return False
            events.extend([now] * amount)
            return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.monotonic()
        with self._lock:
            live = [t for t in self._events.get(key, ()) if t > now - expiry]
        start = live[0] if live else now
        return time.time() - (now - start), len(live)

    def _sweep(self, now: float, expiry: int) -> None:
        for key in [k for k, v in self._events.items() if not v or v[-1] <= now - expiry]:
            del self._events[key]

    # The Storage interface's counter methods: the moving window does not use them.
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise NotImplementedError("LocalMovingWindow only supports the moving window")

    def get(self, key: str) -> int:
        with self._lock:
            return len(self._events.get(key, ()))

    def get_expiry(self, key: str) -> float:
        return time.time()

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            count = len(self._events)
            self._events.clear()
        return count

    def clear(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)


def _limiter() -> strategies.MovingWindowRateLimiter:
    ext = current_app.extensions.get("ccr_socket_limiter")
    if ext is None:
        uri = current_app.config["RATELIMIT_STORAGE_URI"]
        backend = (
            LocalMovingWindow() if uri.startswith("memory://") else storage.storage_from_string(uri)
        )
        ext = current_app.extensions["ccr_socket_limiter"] = strategies.MovingWindowRateLimiter(
            backend
        )
    return ext


def allow(action: str, user_id: int) -> bool:
    """Count one `action` by this user; False once over the configured limit."""
    limit = _parse(current_app.config["CCR_SOCKET_LIMITS"][action])
    try:
        return _limiter().hit(limit, "socket", action, str(user_id))
    except Exception:  # the limit store (Redis) is down: do not block conversations
        return True


@functools.lru_cache(maxsize=32)
def _parse(text: str):
    return parse(text)
