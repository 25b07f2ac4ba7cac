"""Per-user limits for socket events (Flask-Limiter does nothing inside socket handlers).

The `limits` library's moving window, on Redis when configured. While Redis does not
answer, the limits go on in this process (logged once) and move back when it answers again
(tried every RETRY_SHARED_EVERY seconds). Without Redis the window lives in this process,
in `LocalMovingWindow` below rather than limits' own MemoryStorage: that one sweeps every
key from a timer thread while events flow, which costs the chat's server CPU under load
(docs/performance.md#local-moving-window-rate-limit).
"""

import logging
import math
import threading
import time
from collections import deque

from flask import Flask
from limits import RateLimitItem, parse, storage, strategies

log = logging.getLogger(__name__)
RETRY_SHARED_EVERY = 30.0  # seconds: how often a down Redis is tried again


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


EXTENSION = "ccr.socket_limits"


def socket_limits(app: Flask) -> "SocketLimits":
    """The app's limits that its socket events count against (dispatch.register sets them):
    an HTTP path doing what an event does counts against the same per-user budget."""
    return app.extensions[EXTENSION]


class SocketLimits:
    """One app's per-user limits on its socket events (CCR_SOCKET_LIMITS), in the store
    RATELIMIT_STORAGE_URI names, opened on first use; in this process while it is down.
    Every process with the same Redis shares each user's budget."""

    def __init__(self, app: Flask) -> None:
        self._limits = app.config["CCR_SOCKET_LIMITS"]
        self._uri: str = app.config["RATELIMIT_STORAGE_URI"]
        self._options: dict = app.config.get("RATELIMIT_STORAGE_OPTIONS") or {}
        self._limiter: strategies.MovingWindowRateLimiter | None = None
        self._fallback: strategies.MovingWindowRateLimiter | None = None
        self._retry_at: float | None = None  # set while the shared store is down

    def limit(self, key: str) -> RateLimitItem:
        """The limit configured as `key`; KeyError when there is none."""
        try:
            return parse(self._limits[key])
        except KeyError:
            raise KeyError(f"CCR_SOCKET_LIMITS has no limit {key!r}") from None

    def allow(self, limit: RateLimitItem, key: str, user_id: int) -> bool:
        """Count one event under `key` (the limit's name) by this user; False once over."""
        args = ("socket", key, str(user_id))
        retry_at = self._retry_at
        if retry_at is not None and time.monotonic() < retry_at:
            return self._local().hit(limit, *args)
        limiter = self._limiter or self._open()
        try:
            allowed = limiter.hit(limit, *args)
        except Exception as exc:  # the shared store (Redis) is down: limit in this process
            if retry_at is None:
                log.warning(
                    "socket rate limits: the limit store does not answer (%s); limiting in "
                    "this process until it does",
                    type(exc).__name__,
                )
            self._retry_at = time.monotonic() + RETRY_SHARED_EVERY
            return self._local().hit(limit, *args)
        if retry_at is not None:
            self._retry_at = None
            log.warning("socket rate limits: the limit store answers again")
        return allowed

    def wait(self, key: str, user_id: int) -> int:
        """Count one event under the limit named `key` by this user, as `allow` does: 0 when
        allowed, else the whole seconds until the window has room again (at least 1)."""
        return self.wait_for(self.limit(key), key, user_id)

    def wait_for(self, limit: RateLimitItem, key: str, user_id: int) -> int:
        """`wait` with the limit already parsed."""
        if self.allow(limit, key, user_id):
            return 0
        limiter = self._local() if self._retry_at is not None else self._limiter or self._open()
        try:
            reset_at = limiter.get_window_stats(limit, "socket", key, str(user_id)).reset_time
        except Exception:
            return 1
        return max(1, math.ceil(reset_at - time.time()))

    def _open(self) -> strategies.MovingWindowRateLimiter:
        backend = (
            LocalMovingWindow()
            if self._uri.startswith("memory://")
            else storage.storage_from_string(self._uri, **self._options)
        )
        self._limiter = strategies.MovingWindowRateLimiter(backend)
        return self._limiter

    def _local(self) -> strategies.MovingWindowRateLimiter:
        if self._fallback is None:
            self._fallback = strategies.MovingWindowRateLimiter(LocalMovingWindow())
        return self._fallback
