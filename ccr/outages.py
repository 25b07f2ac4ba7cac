"""One log line per kind of failure during an outage, not a traceback per request.

While the database or Redis is down, every request and socket event fails the same way:
logging each one, with its traceback, buries the line that matters under thousands. So the
first failure of a kind (what failed, and the exception's class) is logged as one line
without a traceback; repeats are counted, and while they go on one line every REPEAT_EVERY
seconds says how many there were. A kind that has not failed for REPEAT_EVERY seconds is
over: its next failure is logged as a new one.
"""

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, IntegrityError

log = logging.getLogger("ccr.outage")
REPEAT_EVERY = 60.0  # seconds between lines about one kind of failure


@dataclass
class _Outage:
    since: float
    logged_at: float
    failed_at: float
    unlogged: int = 0


_lock = threading.Lock()
_outages: dict[tuple[str, str], _Outage] = {}


def failed(what: str, exc: BaseException, where: str = "") -> None:
    """Note a failure of `what` ("database", "push" …) caused by `exc` (`where`: what was
    being done): logged as one line for the first of its kind, counted for the others."""
    cause = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    key = (what, type(exc).__name__)
    now = time.monotonic()
    with _lock:
        outage = _outages.get(key)
        if outage is None or now - outage.failed_at >= REPEAT_EVERY:
            _outages[key] = _Outage(since=now, logged_at=now, failed_at=now)
            repeats = None
        else:
            outage.failed_at = now
            outage.unlogged += 1
            if now - outage.logged_at < REPEAT_EVERY:
                return
            repeats, outage.unlogged, outage.logged_at = outage.unlogged, 0, now
            since = now - outage.since
    if repeats is None:
        log.error(
            "%s failing%s: %s: %s (repeats are counted, not logged, for %.0f s)",
            what,
            f" ({where})" if where else "",
            key[1],
            _first_line(cause),
            REPEAT_EVERY,
        )
    else:
        log.error(
            "%s still failing: %s, %d more times in the last %.0f s (for %.0f s now)",
            what,
            key[1],
            repeats,
            REPEAT_EVERY,
            since,
        )


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` says a service is unreachable (the database, Redis, a socket), rather
    than a fault in the code (an integrity error is one: the code let a constraint fail)."""
    if isinstance(exc, DBAPIError):
        return not isinstance(exc, IntegrityError)
    return isinstance(exc, (RedisConnectionError, RedisTimeoutError, OSError))


def report(what: str, exc: BaseException, logger: logging.Logger, msg: str, *args: Any) -> None:
    """Log a failure where `exc` was caught: one line per kind when a service is down
    (failed()), the full traceback when it is a fault in the code."""
    if is_outage(exc):
        failed(what, exc, msg % args if args else msg)
    else:
        logger.error(msg, *args, exc_info=exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else ""


def reset() -> None:
    """Forget every failure seen (tests)."""
    with _lock:
        _outages.clear()
