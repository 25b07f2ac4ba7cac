"""Unit of work: one transaction per HTTP request, socket event or CLI command, and the side
effects it queued, run only after its commit.

Services never commit or roll back. They change rows through the ORM session or with Core
statements on connection(), flush when they need ids, and queue side effects with
on_commit() (pass ids, not objects). The boundary that called them ends the unit:

    with uow.unit():        # a CLI command; a socket event: uow.unit(own_connection=True)
        staff.deactivate_user(agent, actor=admin)
    # committed here, then the user's sockets were closed (queued with on_commit)

HTTP requests get the same from ccr.boundary: begin() before the request, finish() after the
view (ok: the response is not an error; crashed: a server error), close() at teardown. How a
unit ends:

- Committed, then the queued side effects run (each failure logged, none undoes the commit).
- Rolled back when the action was refused (a ServiceError was created in it) or failed (an
  exception, an error response); the queue is dropped, so nothing is pushed or emailed for
  a change that was never saved.
- A refusal that must keep a record (a wrong code's attempt counter) calls keep() before it
  raises: the unit's writes are committed and none of its side effects run.
- A failed commit is rolled back, its queue dropped, and the error raised to the boundary
  (a 503, a failure ack).
- A unit in the session that changed, wrote and queued nothing is left as it is (a page that
  only reads sends no COMMIT).

A stray commit (session.commit() outside a boundary) is safe too: the session's after_commit
hook runs what was queued, once. A rollback drops it.

A unit runs in the ORM session, or, with own_connection, on a Core connection of its own that
the session joins if the work uses it: for the chat's socket events, beginning, committing
and closing an ORM session per event cost more than the event's SQL, and most events never
need it (docs/performance.md#own-core-connection-per-socket-event).
"""

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextvars import Token
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session, SessionTransaction

from ccr.extensions import current_unit, db

log = logging.getLogger(__name__)
_QUEUE = "ccr_on_commit"
_BOUNDARY = "ccr_boundary_commit"  # set while commit() commits: it runs the queue itself
_WROTE = "ccr_wrote"  # the session's transaction flushed

_Effect = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class Unit:
    """One unit of work. `engine` is set when it runs on a connection of its own."""

    __slots__ = ("connection", "engine", "kept", "queued", "refused", "token", "wrote")

    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine
        self.connection: Connection | None = None
        self.queued: list[_Effect] = []  # own connection only; else in the session's info
        self.refused = False
        self.kept = False
        self.wrote = False  # in the session: connection() was used
        self.token: Token | None = None

    def connect(self) -> Connection:
        """The unit's own connection, opened by its first statement."""
        if self.connection is None:
            assert self.engine is not None, "a unit in the session has no connection of its own"
            self.connection = self.engine.connect()
        return self.connection


def begin(*, own_connection: bool = False) -> Unit:
    """Start a unit of work (a boundary's first step; unit() does begin, finish and close)."""
    unit = Unit(db.engine if own_connection else None)
    unit.token = current_unit.set(unit)
    return unit


def finish(unit: Unit, *, ok: bool = True, crashed: bool = False) -> None:
    """End the unit's transaction as the rules above say. `ok`: the work ended normally (no
    exception, no error response); `crashed`: it failed with something other than a refusal
    (rolled back even if a refusal kept its record). A failed commit is rolled back and
    raises. A unit in the session that wrote and queued nothing is left as it is."""
    if unit.engine is None and not _has_work(unit):
        return
    if crashed:
        rollback()
    elif unit.refused and unit.kept:
        _drop_queue(unit)
        commit()
    elif ok and not unit.refused:
        commit()
    else:
        rollback()


def close(unit: Unit) -> None:
    """Release the unit: what is not committed is rolled back. Outermost, in an app context."""
    try:
        if unit.engine is not None:
            db.session.remove()
            if unit.connection is not None:
                unit.connection.close()
        elif _has_work(unit):
            rollback()
    finally:
        if unit.token is not None:
            current_unit.reset(unit.token)


@contextlib.contextmanager
def unit(*, own_connection: bool = False) -> Iterator[Unit]:
    """Run the block as one unit of work: commit at its end and then run the queued side
    effects; roll back if it was refused or raised (a failed commit raises too).

    own_connection: run it on a Core connection of its own, without an ORM session unless
    the work uses one (socket events); outermost, in an app context."""
    current = begin(own_connection=own_connection)
    try:
        try:
            yield current
        except BaseException:
            finish(current, ok=False, crashed=not current.refused)
            raise
        finish(current)
    finally:
        close(current)


@contextlib.contextmanager
def own_connection() -> Iterator[None]:
    """A unit of work on a Core connection of its own that commits only when commit() is
    called: anything not committed by the end is rolled back. The ORM session, if the work
    uses it, joins the connection's transaction and is removed at the end, so use this
    outermost in an app context. Boundaries use unit(own_connection=True)."""
    current = begin(own_connection=True)
    try:
        yield
    finally:
        close(current)


def connection() -> Connection:
    """The unit of work's connection, for Core statements in its transaction."""
    current = current_unit.get()
    if current is None:
        return db.session.connection()
    if current.engine is not None:
        return current.connect()
    current.wrote = True  # Core statements may write: the unit has work to commit
    return db.session.connection()


def on_commit(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run fn(*args, **kwargs) after the current transaction commits. Pass ids, not objects."""
    current = current_unit.get()
    if current is not None and current.engine is not None:
        current.queued.append((fn, args, kwargs))
    else:
        db.session.info.setdefault(_QUEUE, []).append((fn, args, kwargs))


def keep() -> None:
    """The refusal about to be raised still saves what this unit wrote (a wrong code's
    attempt, a failed verification): the boundary commits it and runs none of the unit's
    side effects. Call it right before raising the ServiceError."""
    current = current_unit.get()
    if current is not None:
        current.kept = True


def refuse() -> None:
    """Mark the current unit refused (ServiceError does it): its boundary rolls it back."""
    current = current_unit.get()
    if current is not None:
        current.refused = True


@contextlib.contextmanager
def savepoint() -> Iterator[None]:
    """A SAVEPOINT in the unit's transaction: an error inside undoes only the block's writes
    and what it queued, then propagates; the caller's other work stays in the transaction."""
    session = db.session()
    bind = session.connection()
    if bind.dialect.name == "sqlite" and not getattr(
        bind.connection.dbapi_connection, "in_transaction", True
    ):
        # pysqlite sends no BEGIN before a SAVEPOINT, and releasing a savepoint that opened
        # the transaction commits it: open the transaction first.
        bind.exec_driver_sql("BEGIN")
    queue = _queue()
    mark = len(queue)
    try:
        with session.begin_nested():
            yield
    except BaseException:
        del queue[mark:]
        raise


def commit() -> None:
    """Commit the unit of work, then run the queued side effects. For boundaries and tests:
    services never call it."""
    current = current_unit.get()
    try:
        queued = _commit(current)
    except Exception:
        rollback()
        raise
    if current is not None:
        current.refused = current.kept = current.wrote = False
    _run_all(queued)


def rollback() -> None:
    """Roll the unit of work back and drop its queued side effects."""
    current = current_unit.get()
    if db.session.registry.has():
        session = db.session()
        session.rollback()
        session.info.pop(_QUEUE, None)  # also what was queued outside a transaction
    if current is not None:
        current.refused = current.kept = current.wrote = False
        current.queued.clear()
        if current.connection is not None:
            current.connection.rollback()


def _commit(current: Unit | None) -> list[_Effect]:
    """Commit; return what was queued."""
    if current is not None and current.engine is not None:
        if db.session.registry.has():
            # Joined to the unit's transaction, the session flushes; the connection commits.
            db.session.commit()
        if current.connection is not None:
            current.connection.commit()
        queued, current.queued = current.queued, []
        return queued
    if not db.session.registry.has():
        return []
    session = db.session()
    session.info[_BOUNDARY] = True
    try:
        session.commit()
    finally:
        session.info.pop(_BOUNDARY, None)
    return session.info.pop(_QUEUE, [])


def _has_work(current: Unit) -> bool:
    """Whether ending the unit's transaction matters: a unit on its own connection always;
    in the session, when it holds changes, wrote something or queued side effects."""
    if current.engine is not None or current.wrote:
        return True
    if not db.session.registry.has():
        return False
    session = db.session()
    info = session.info
    return bool(
        info.get(_WROTE) or info.get(_QUEUE) or session.new or session.dirty or session.deleted
    )


def _run_all(queued: list[_Effect]) -> None:
    for fn, args, kwargs in queued:
        try:
            fn(*args, **kwargs)
        except Exception:  # a push or wake-up failing must not undo a saved change
            log.exception("after-commit side effect %s failed", getattr(fn, "__name__", fn))


def _queue() -> list[_Effect]:
    current = current_unit.get()
    if current is not None and current.engine is not None:
        return current.queued
    return db.session.info.setdefault(_QUEUE, [])


def _drop_queue(current: Unit) -> None:
    current.queued.clear()
    if db.session.registry.has():
        db.session.info.pop(_QUEUE, None)


@event.listens_for(Session, "after_flush")
def _note_write(session: Session, _context: Any) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "after_commit")
def _after_stray_commit(session: Session) -> None:
    """A commit that did not go through commit() still runs what was queued, once. (Inside
    the session's commit event: such side effects cannot use this session's database.)
    A savepoint's release fires this event too: the transaction goes on, and so does all it
    holds (what it wrote, what it queued)."""
    if session.in_nested_transaction():
        return
    session.info.pop(_WROTE, None)
    if session.info.get(_BOUNDARY):
        return
    _run_all(session.info.pop(_QUEUE, []))


@event.listens_for(Session, "after_soft_rollback")
def _drop_queue_on_rollback(session: Session, previous: SessionTransaction) -> None:
    if previous.parent is None:  # a savepoint's rollback drops only its part (savepoint())
        session.info.pop(_QUEUE, None)
        session.info.pop(_WROTE, None)
