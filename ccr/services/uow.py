"""Unit of work: side effects queued with on_commit() run only after the commit succeeds.

A rollback (explicit, or a failed commit) drops the queue, so nothing is pushed or emailed
for a change that was never saved.

A unit of work runs in the ORM session, or, inside own_connection(), on a Core connection
of its own that the session joins if the work uses it. Services write Core statements
through connection(), so they run in the same transaction either way.
"""

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

from ccr.extensions import current_unit, db

log = logging.getLogger(__name__)
_KEY = "ccr_on_commit"


class _Unit:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connection: Connection | None = None
        self.queued: list = []

    def connect(self) -> Connection:
        if self.connection is None:
            self.connection = self.engine.connect()
        return self.connection


@contextlib.contextmanager
def own_connection() -> Iterator[None]:
    """Run the work inside as a unit of work on a Core connection of its own, opened by its
    first statement and closed at the end (anything not committed is rolled back). The ORM
    session, if the work uses it, joins that connection's transaction; it is removed at
    the end, so use this outermost in an app context.

    For the chat's socket events: beginning, committing and closing an ORM session per
    event cost more than the event's SQL (bench/README.md), and most events never need it."""
    unit = _Unit(db.engine)
    token = current_unit.set(unit)
    try:
        yield
    finally:
        try:
            db.session.remove()
            if unit.connection is not None:
                unit.connection.close()
        finally:
            current_unit.reset(token)


def connection() -> Connection:
    """The unit of work's connection, for Core statements in its transaction."""
    unit = current_unit.get()
    return unit.connect() if unit is not None else db.session.connection()


def on_commit(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run fn(*args, **kwargs) after the current transaction commits. Pass ids, not objects."""
    unit = current_unit.get()
    queue = unit.queued if unit is not None else db.session.info.setdefault(_KEY, [])
    queue.append((fn, args, kwargs))


def commit() -> None:
    """Commit the unit of work, then dispatch the queued side effects (each failure is
    logged)."""
    unit = current_unit.get()
    try:
        if unit is None or db.session.registry.has():
            # Joined to a unit's transaction, the session flushes; the connection commits.
            db.session.commit()
        if unit is not None and unit.connection is not None:
            unit.connection.commit()
    except Exception:
        rollback()
        raise
    if unit is None:
        queued = db.session.info.pop(_KEY, [])
    else:
        queued, unit.queued = unit.queued, []
    for fn, args, kwargs in queued:
        try:
            fn(*args, **kwargs)
        except Exception:  # a push or wake-up failing must not undo a saved change
            log.exception("after-commit side effect %s failed", getattr(fn, "__name__", fn))


def rollback() -> None:
    unit = current_unit.get()
    if unit is None or db.session.registry.has():
        db.session.rollback()
    if unit is not None:
        unit.queued.clear()
        if unit.connection is not None:
            unit.connection.rollback()


@event.listens_for(Session, "after_soft_rollback")
def _drop_queue(session: Session, _previous_transaction: Any) -> None:
    session.info.pop(_KEY, None)
