"""Generic error pages (HTML or JSON), never a traceback; 503 while the database is down."""

import logging

from flask import Flask, Response, g, make_response, render_template, request, session
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from ccr import outages
from ccr.extensions import login_manager
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
    429: "You have tried this too many times. Please wait a moment and try again.",
    500: "We could not complete your request. Nothing you sent was lost; please try again.",
    503: "The service is temporarily unavailable. Please try again in a moment.",
}


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
        # Flask-Limiter's description is the raw limit ("20 per 1 minute"): show ours instead.
        response = render_error(code, None if code == 429 else _custom_description(exc))
        if code == 429 and exc.response is not None and "Retry-After" in exc.response.headers:
            body, status = response
            resp = make_response(body, status)
            resp.headers["Retry-After"] = exc.response.headers["Retry-After"]
            return resp
        return response

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


def _safe_rollback() -> None:
    try:
        uow.rollback()
    except Exception:
        pass
