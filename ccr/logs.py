"""Logging: a request id per request, and one JSON object per line in production.

The format is JSON when CCR_LOG_FORMAT is "json" or in production (CCR_ENV=production), text
otherwise (CCR_LOG_FORMAT "text" forces text); the level is CCR_LOG_LEVEL (both read by
ccr.config). Every line carries the request id: the
incoming X-Request-ID when well-formed, else a fresh one, echoed in the response header.
Socket.IO events log their socket's id (the handshake's X-Request-ID, else one made for the
socket) and sid, bound by bound_socket(); background work (the outbox dispatcher) binds its
own id with bound_request_id().
"""

import contextlib
import contextvars
import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request

HEADER = "X-Request-ID"
_WSGI_HEADER = "HTTP_" + HEADER.upper().replace("-", "_")  # the header's key in a WSGI environ
_WELL_FORMED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{7,127}$")
_bound_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ccr_request_id", default=None
)
_bound_sid: contextvars.ContextVar[str | None] = contextvars.ContextVar("ccr_sid", default=None)
# attributes every LogRecord has; anything else was passed with extra= and is kept
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def new_request_id() -> str:
    return uuid.uuid4().hex


def well_formed(value: str | None) -> bool:
    return value is not None and _WELL_FORMED.match(value) is not None


def current_request_id() -> str | None:
    """The bound id (a socket event's, background work's), else this request's."""
    bound = _bound_id.get()
    if bound:
        return bound
    if has_request_context():
        rid = g.get("request_id")
        if rid:
            return rid
        incoming = request.headers.get(HEADER)
        if well_formed(incoming):
            return incoming
    return None


@contextlib.contextmanager
def bound_request_id(value: str | None = None) -> Iterator[str]:
    """Give log lines outside a request (background work) a correlation id."""
    value = value or new_request_id()
    token = _bound_id.set(value)
    try:
        yield value
    finally:
        _bound_id.reset(token)


@contextlib.contextmanager
def bound_socket(environ: dict, sid: str) -> Iterator[None]:
    """Give a socket event's log lines its socket's request id and sid (socket events run
    without a request context). The id is the handshake's X-Request-ID when well-formed,
    else one made for the socket and kept in its environ."""
    rid = environ.get("ccr.request_id")
    if rid is None:
        incoming = environ.get(_WSGI_HEADER)
        rid = environ["ccr.request_id"] = incoming if well_formed(incoming) else new_request_id()
    tokens = _bound_id.set(rid), _bound_sid.set(sid)
    try:
        yield
    finally:
        _bound_id.reset(tokens[0])
        _bound_sid.reset(tokens[1])


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        if not hasattr(record, "sid"):
            record.sid = _bound_sid.get() or (
                getattr(request, "sid", None) if has_request_context() else None
            )
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC ISO 8601), level, logger, message, request_id."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        sid = getattr(record, "sid", None)
        if sid:
            entry["sid"] = sid
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            entry.update(_access_fields(record.args))
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry and key != "sid":
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


# gunicorn's access log atoms -> field names
ACCESS_ATOMS = {
    "h": "remote_addr",
    "m": "method",
    "U": "path",
    "s": "status",
    "B": "bytes",
    "M": "duration_ms",
    "a": "user_agent",
}


def _access_fields(atoms: dict) -> dict:
    fields = {name: dict.get(atoms, atom) for atom, name in ACCESS_ATOMS.items()}
    fields["request_id"] = dict.get(atoms, "{x-request-id}o")
    if isinstance(fields["status"], str) and fields["status"].isdigit():
        fields["status"] = int(fields["status"])
    return fields


def configure_gunicorn(glogger, app: Flask) -> None:
    """In JSON mode, gunicorn's own lines (errors, access) become JSON too (worker side)."""
    if log_format(app) != "json":
        return
    for logger in (glogger.error_log, glogger.access_log):
        for handler in logger.handlers:
            handler.setFormatter(JsonFormatter())


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


def log_format(app: Flask) -> str:
    chosen = app.config.get("CCR_LOG_FORMAT")
    if chosen in ("json", "text"):
        return chosen
    return "json" if app.config.get("ENV_NAME") == "production" else "text"


def init_app(app: Flask) -> None:
    """Install the root handler (replacing ours from an earlier app) and the request id."""
    handler = logging.StreamHandler(sys.stderr)
    handler._ccr = True  # type: ignore[attr-defined]
    handler.addFilter(RequestIdFilter())
    if log_format(app) == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_ccr", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(app.config["CCR_LOG_LEVEL"])

    app.before_request(_assign_request_id)
    app.after_request(_echo_request_id)


def _assign_request_id() -> None:
    incoming = request.headers.get(HEADER)
    g.request_id = incoming if well_formed(incoming) else new_request_id()


def _echo_request_id(response):
    rid = g.get("request_id")
    if rid:
        response.headers[HEADER] = rid
    return response
