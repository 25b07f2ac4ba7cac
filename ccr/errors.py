"""Generic error pages (HTML or JSON), never a traceback; 503 while the database is down,
and only then: a value the database refuses (DataError, IntegrityError) is a 400."""

import logging
import math
import time

from flask import Flask, Response, g, make_response, render_template, request, session
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from ccr import outages
from ccr.extensions import limiter, login_manager
from ccr.services import uow

log = logging.getLogger(__name__)
TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Page not found",
    405: "Method not allowed",
    413: "Too large",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}
EXPLANATIONS = {
    400: "The request could not be understood. Go back, check the form and try again.",
    403: "You are not allowed to do that.",
    404: "There is nothing here, or you do not have access to it.",
    405: "That action is not available here.",
    413: "What you sent is larger than we accept.",
    429: "You have tried this too many times. Try again in 1 minute.",
    500: "We could not complete your request. Nothing you sent was lost; please try again.",
    503: "The service is temporarily unavailable. Please try again in a moment.",
}
UNSTORABLE = (
    "That value cannot be stored: a number is out of range or a text holds characters we "
    "cannot keep. Check what you entered and try again."
)
CONFLICTING = (
    "That value cannot be stored: it conflicts with one already saved (perhaps this was "
    "sent twice). Reload the page and check before trying again."
)


def wants_json() -> bool:
    """The client asked for JSON (a fetch) rather than a page."""
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.is_json or best == "application/json"


def render_error(code: int, message: str | None = None):
    message = message or EXPLANATIONS.get(code, EXPLANATIONS[500])
    if wants_json():
        return {"ok": False, "error": message, "status": code}, code
    return render_template(
        "errors/error.html", code=code, title=TITLES.get(code, "Error"), message=message
    ), code


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = exc.code or 500
        if code == 429:
            return _too_many_response(exc)
        return render_error(code, _custom_description(exc))

    @app.errorhandler(DataError)
    @app.errorhandler(IntegrityError)
    def database_refused(exc: DBAPIError):
        return refused_value(exc)

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def database_down(exc):
        outages.report("database", exc, log, "database error on %s", request.path)
        return unavailable()

    @app.errorhandler(Exception)
    def unexpected(exc):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        _safe_rollback()
        return render_error(500)


def _too_many_response(exc: HTTPException) -> Response:
    """Every 429 says how long to wait: in words on the page and in a JSON `error`, in
    seconds as Retry-After and a JSON `retry_after`. Flask-Limiter's own description is the
    raw limit ("20 per 1 minute"), not shown."""
    seconds = retry_after_seconds(exc)
    message = f"You have tried this too many times. Try again in {seconds_words(seconds)}."
    if wants_json():
        response = make_response(
            {"ok": False, "error": message, "status": 429, "retry_after": seconds}, 429
        )
    else:
        response = make_response(render_error(429, message))
    response.headers["Retry-After"] = str(seconds)
    return response


def retry_after_seconds(exc: HTTPException | None = None) -> int:
    """Whole seconds until the breached limit has room again (at least 1): the Retry-After
    Flask-Limiter set (its header wins on the response too), else from the limit it
    reports breached, else a minute."""
    header = exc.response.headers.get("Retry-After") if exc and exc.response else None
    if header and header.isdigit():
        return max(1, int(header))
    current = limiter.current_limit
    if current is not None and current.breached:
        return max(1, int(current.reset_at - time.time()))  # as Flask-Limiter's header
    return 60


def wait_words(reset_at: float, now: float | None = None) -> str:
    """'42 minutes' until the timestamp reset_at, rounded up; at least '1 second'."""
    return seconds_words(math.ceil(reset_at - (time.time() if now is None else now)))


def seconds_words(seconds: int) -> str:
    """'42 minutes' for a wait of this many seconds, rounded up; at least '1 second'."""
    seconds = max(1, seconds)
    if seconds < 60:
        unit, amount = "second", seconds
    elif seconds <= 2 * 3600:
        unit, amount = "minute", math.ceil(seconds / 60)
    else:
        unit, amount = "hour", math.ceil(seconds / 3600)
    return f"{amount} {unit}{'' if amount == 1 else 's'}"


def _custom_description(exc: HTTPException) -> str | None:
    """Only messages we wrote ourselves (abort(code, "…")) are shown; defaults stay generic."""
    default = type(exc).description
    return exc.description if exc.description and exc.description != default else None


def unavailable() -> Response:
    """The generic 503 after a database failure: the work is rolled back, its flashed
    messages (which would announce it) dropped, and the page rendered without the signed-in
    account, whose row may not load now."""
    _safe_rollback()
    session.pop("_flashes", None)
    g._login_user = login_manager.anonymous_user()  # Flask-Login's per-request user
    try:
        response = make_response(render_error(503))
    except Exception:  # even the page cannot be built: plain text
        log.exception("the 503 page failed")
        response = make_response((EXPLANATIONS[503], 503, {"Content-Type": "text/plain"}))
    response.headers["Cache-Control"] = "no-store"
    return response


def refused_value(exc: DBAPIError) -> Response:
    """The 400 for a value the database would not take (input no parser caught: a bug to fix
    where it arose), logged as one warning line without the value itself."""
    orig = exc.orig
    log.warning(
        "the database refused a value on %s %s: %s %s",
        request.method,
        request.path,
        type(exc).__name__,
        getattr(orig, "sqlstate", None) or type(orig).__name__,
    )
    _safe_rollback()
    session.pop("_flashes", None)  # nothing was saved: no success may be announced
    message = CONFLICTING if isinstance(exc, IntegrityError) else UNSTORABLE
    response = make_response(render_error(400, message))
    response.headers["Cache-Control"] = "no-store"
    return response


def _safe_rollback() -> None:
    try:
        uow.rollback()
    except Exception:
        pass
