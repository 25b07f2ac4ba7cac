"""Operational endpoints: /healthz (the process is up) and /readyz (the database answers);
/favicon.ico for clients that ask for it without reading the page's <link rel="icon">."""

from flask import Blueprint, redirect, url_for
from sqlalchemy import text

from ccr.extensions import db, limiter

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
@limiter.exempt
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
@limiter.exempt
def readyz():
    try:
        db.session.execute(text("SELECT 1")).scalar()
    except Exception:
        db.session.rollback()
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}


@bp.get("/favicon.ico")
@limiter.exempt
def favicon():
    return redirect(url_for("static", filename="favicon.svg"), 301)
