"""Security headers with a per-request CSP nonce, session loading and idle timeouts."""

import secrets
import uuid
from datetime import timedelta

from flask import Flask, current_app, g, request, session
from flask_login import current_user, logout_user

from ccr.extensions import db, login_manager
from ccr.inputs import parse_id, parse_int
from ccr.models import User, utcnow

LAST_SEEN_EVERY = timedelta(minutes=5)


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    # A fresh id per rendered message form: resubmitting the same form stores nothing twice.
    app.jinja_env.globals["new_client_id"] = lambda: uuid.uuid4().hex
    app.after_request(_headers)
    app.before_request(_idle_timeout)


def parse_token(token: str) -> tuple[int, int] | None:
    """The session cookie's "<id>:<session version>" as numbers; None if it is not one."""
    raw_id, _, raw_version = token.partition(":")
    user_id, version = parse_id(raw_id), parse_int(raw_version)
    if user_id is None or version is None:
        return None
    return user_id, version


@login_manager.user_loader
def load_user(token: str, query=None) -> User | None:
    """The cookie carries "<id>:<session version>"; an old version is a logged-out session.
    `query`: a select(User) with a `user_id` parameter, for callers that need few columns."""
    parsed = parse_token(token)
    if parsed is None:
        return None
    user_id, version = parsed
    if query is None:
        user = db.session.get(User, user_id)
    else:
        user = db.session.execute(query, {"user_id": user_id}).scalar()
    if user is None or not user.is_active or user.session_version != version:
        return None
    return user


def _idle_timeout() -> None:
    """End a session idle past CCR_IDLE_TIMEOUT (the absolute cap: PERMANENT_SESSION_LIFETIME).
    Notes the user's last activity at most every LAST_SEEN_EVERY, saved by the request's
    commit (ccr.boundary)."""
    # Load the user from this request's cookie, never from a cache left on an outer context.
    g.pop("_login_user", None)
    if request.endpoint in (None, "static") or not current_user.is_authenticated:
        return
    now = utcnow()
    last = session.get("seen")
    idle = current_app.config["CCR_IDLE_TIMEOUT"]
    if last is not None and now.timestamp() - last > idle.total_seconds():
        logout_user()
        session.clear()
        return
    session["seen"] = int(now.timestamp())
    user = current_user._get_current_object()
    if user.last_seen_at is None or now - user.last_seen_at > LAST_SEEN_EVERY:
        user.last_seen_at = now


def _headers(response):
    nonce = csp_nonce()
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self'; "
        "img-src 'self' data:; "
        "font-src 'self'; "
        "connect-src 'self'; "
        "object-src 'none'; "
        "base-uri 'self'; "
        "form-action 'self'; "
        "frame-ancestors 'self'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "geolocation=(), payment=()"
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    # is_anonymous, not is_authenticated: the request's commit came first and expired the
    # user's row, and reading it again here would cost a query per page.
    if request.endpoint != "static" and (
        not current_user.is_anonymous
        or request.path.startswith(
            (
                "/auth",
                "/login",
                "/register",
                "/verify-email",
                "/forgot-password",
                "/reset-password",
                "/invite/",
            )
        )
    ):
        response.headers["Cache-Control"] = "no-store"
    return response
