"""The security log: one line per security event on the "ccr.security" logger."""

import logging
import re

from flask import has_request_context, request

from ccr.models import User, utcnow

log = logging.getLogger("ccr.security")
_LOG_UNSAFE = re.compile(r"[\x00-\x1f\x7f\s]")


def security_event(event: str, user: User | None = None, **fields: object) -> None:
    """One line on "ccr.security": event, user, IP and UTC time. Never secrets."""
    ip = request.remote_addr if has_request_context() else None
    # Values such as a request path are attacker-chosen: no line breaks in the log.
    extra = "".join(f" {k}={_LOG_UNSAFE.sub('?', str(v))[:200]}" for k, v in fields.items())
    log.info(
        "%s user=%s ip=%s at=%sZ%s",
        event,
        user.id if user is not None else "-",
        ip or "-",
        utcnow().isoformat(timespec="seconds"),
        extra,
    )
