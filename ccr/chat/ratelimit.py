"""Per-user limits for socket events (Flask-Limiter does nothing inside socket handlers)."""

from flask import current_app
from limits import parse, storage, strategies


def _limiter() -> strategies.MovingWindowRateLimiter | strategies.FixedWindowRateLimiter:
    ext = current_app.extensions.get("ccr_socket_limiter")
    if ext is None:
        backend = storage.storage_from_string(current_app.config["RATELIMIT_STORAGE_URI"])
        cls = (
            strategies.MovingWindowRateLimiter
            if isinstance(backend, storage.MovingWindowSupport)
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
