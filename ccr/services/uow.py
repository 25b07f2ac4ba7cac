"""Unit of work: side effects queued with on_commit() run only after the commit succeeds.

A rollback (explicit, or a failed commit) drops the queue, so nothing is pushed or emailed
for a change that was never saved.
"""

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from ccr.extensions import db

log = logging.getLogger(__name__)
_KEY = "ccr_on_commit"


def on_commit(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run fn(*args, **kwargs) after the current transaction commits. Pass ids, not objects."""
    db.session.info.setdefault(_KEY, []).append((fn, args, kwargs))


def commit() -> None:
    """Commit the session, then dispatch the queued side effects (each failure is logged)."""
    session = db.session
    try:
        session.commit()
    except Exception:
        session.rollback()
        raise
    queued = session.info.pop(_KEY, [])
    for fn, args, kwargs in queued:
        try:
            fn(*args, **kwargs)
        except Exception:  # a push or wake-up failing must not undo a saved change
            log.exception("after-commit side effect %s failed", getattr(fn, "__name__", fn))


def rollback() -> None:
    db.session.rollback()


@event.listens_for(Session, "after_soft_rollback")
def _drop_queue(session: Session, _previous_transaction: Any) -> None:
    session.info.pop(_KEY, None)
