"""Per-user limits for socket events (Flask-Limiter does nothing inside socket handlers)."""

from flask import current_app
from limits import parse, storage, strategies


def _limiter() -> strategies.RateLimiter:
    ext = current_app.extensions.get("ccr_socket_limiter")
    if ext is None:
        backend = storage.storage_from_string(current_app.config["RATELIMIT_STORAGE_URI"])
        # A sliding-window counter keeps two counters per key: a moving window keeps one entry
        # per event, and the in-memory store rescans all of them every 10 ms (measured at
        # 17% of the worker's CPU under chat load, see bench/README.md).
        cls = (
            strategies.SlidingWindowCounterRateLimiter
            if isinstance(backend, storage.SlidingWindowCounterSupport)
            else strategies.FixedWindowRateLimiter
        )
        ext = current_app.extensions["ccr_socket_limiter"] = cls(backend)
    return ext


def allow(action: str, user_id: int) -> bool:
    """Count one `action` by this user; False once over the configured limit."""
    limit = parse(current_app.config["CCR_SOCKET_LIMITS"][action])
    try:
        return _limiter().hit(limit, "socket", action, str(user_id))
    except Exception:  # the limit store (Redis) is down: do not block conversations
        return True
