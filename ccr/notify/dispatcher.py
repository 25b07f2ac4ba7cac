"""The outbox dispatcher: sends the committed rows, one transaction per email.

Due rows are read in batches; each email is then sent, and its outcome recorded and
committed before the next one goes. An email is marked sent as soon as the server has
accepted it, so a dispatcher killed at any moment leaves at most the one email in flight
to be sent again (with the same Message-ID), and never loses one. On PostgreSQL each email
is locked in its transaction (FOR UPDATE SKIP LOCKED: dispatchers side by side never send
the same row), and that transaction's commit does not wait for the disk: once COMMIT
returns, the server has it, and only the server's own crash can lose it, which means a
duplicate, never a lost email. SQLite has one writer, and a deployment on SQLite one
dispatcher: the batch read is the claim.

A row that cannot be built, or that the server refuses, fails alone and is retried with
backoff; after CCR_OUTBOX_MAX_ATTEMPTS it is dead. A server that cannot be reached ends the
round, the rows not yet tried staying due. The loop (in-process background task, or
`flask ccr worker`) logs an outage once when it starts and once when it ends.
"""

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, current_app
from sqlalchemy import Connection, Row, bindparam, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from ccr.extensions import db, socketio
from ccr.logs import bound_request_id, new_request_id
from ccr.models import OutboxEmail, OutboxStatus, utcnow
from ccr.notify import mime
from ccr.notify.outbox import header_safe, wait_for_work
from ccr.notify.transport import Outgoing, Refused, Transport, Unreachable, open_transport

# One logger for the whole email pipeline, under the name operators' filters already use.
log = logging.getLogger("ccr.notify.email")
REDACTED = "[This message held a one-time code or link and was erased after sending.]"
BATCH_SIZE = 50  # due rows read per query
DATABASE = "the database"
MAIL_SERVER = "the mail server"
_SENT, _FAILED, _UNREACHABLE = "sent", "failed", "unreachable"  # what became of an email
_QUIET = "its other failures are logged at debug level until it answers"
_TABLE = OutboxEmail.__table__
_COLUMNS = ("id", "recipient", "subject", "body_text", "body_html", "sensitive", "attempts")
_LOCK = (
    # set_config(..., true) is SET LOCAL: this email's commit does not wait for the disk.
    select(_TABLE.c.id, func.set_config("synchronous_commit", "off", True))
    .where(_TABLE.c.id == bindparam("row_id"))
    .where(_TABLE.c.status == OutboxStatus.PENDING)
    .where(_TABLE.c.next_attempt_at <= bindparam("now"))
    .with_for_update(skip_locked=True)
)
_MARK_SENT = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("row_id"))
    .values(
        status=OutboxStatus.SENT,
        sent_at=bindparam("now"),
        attempts=_TABLE.c.attempts + 1,
        last_error=None,
    )
)
_MARK_SENT_AND_ERASE = _MARK_SENT.values(body_text=REDACTED, body_html=REDACTED)


@dataclass(slots=True)
class _Email:
    """A claimed row, as plain values: they outlive the commit after each email."""

    id: int
    recipient: str
    subject: str
    body_text: str
    body_html: str
    sensitive: bool
    attempts: int


class Outages:
    """What is failing now, so an outage logs one line when it starts and one when it ends,
    however many rounds it lasts."""

    def __init__(self) -> None:
        self._since: dict[str, float] = {}

    def failing(self, kind: str) -> bool:
        """kind fails: True the first time (the caller logs the start), False while it lasts."""
        if kind in self._since:
            return False
        self._since[kind] = time.monotonic()
        return True

    def working(self, kind: str) -> None:
        since = self._since.pop(kind, None)
        if since is not None:
            log.warning("outbox: %s works again after %.0f s", kind, time.monotonic() - since)

    def failing_kinds(self) -> list[str]:
        return list(self._since)


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s ... capped at one hour."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


def dispatch_pending(
    limit: int = 500, batch_size: int = BATCH_SIZE, *, outages: Outages | None = None
) -> int:
    """Send up to limit due rows over one SMTP connection. Returns how many were sent.

    outages carries the mail server's state from round to round (the loop's); database
    errors are raised to the caller.
    """
    # A connection of its own for the round: the session would give its connection back to
    # the pool at each email's commit, and the pool check it again on the next.
    with db.engine.connect() as connection:
        round_ = _Round(connection, outages or Outages())
        try:
            return round_.run(limit, batch_size)
        except BaseException:
            # After a failed COMMIT the transaction may still be open on the connection:
            # it must not go back to the pool (on SQLite it would hold the write lock).
            connection.invalidate()
            raise
        finally:
            round_.transport.close()


class _Round:
    def __init__(self, connection: Connection, outages: Outages) -> None:
        self.connection = connection
        self.outages = outages
        self.locking = connection.dialect.name == "postgresql"
        self.sender = mime.address(current_app.config["MAIL_DEFAULT_SENDER"])
        self.transport: Transport = open_transport(current_app)

    def run(self, limit: int, batch_size: int) -> int:
        sent = tried = 0
        while tried < limit:
            batch = _claim_batch(self.connection, min(batch_size, limit - tried))
            if not batch:
                break
            for row in batch:
                tried += 1
                # The batch's locks end with the first email's commit: each is locked again.
                if self.locking and not self._lock(row.id):
                    self.connection.rollback()
                    continue  # another dispatcher has it, or it is no longer due
                outcome = self._send(_Email(*row))
                self.connection.commit()
                if outcome == _SENT:
                    sent += 1
                elif outcome == _UNREACHABLE:
                    return sent
        return sent

    def _send(self, email: _Email) -> str:
        """Send one claimed email and record the outcome (the caller commits)."""
        try:
            to = mime.address(email.recipient)
            data = mime.build(email, self.sender, to)
        except Exception as exc:  # this row's content cannot be sent, the others can
            self._failed(email, f"{type(exc).__name__}: {exc}")
            return _FAILED
        try:
            self.transport.send(Outgoing(email.id, self.sender, to, email.subject, data))
        except Refused as exc:
            self.outages.working(MAIL_SERVER)
            self._failed(email, str(exc))
            return _FAILED
        except Unreachable as exc:
            if self.outages.failing(MAIL_SERVER):
                self._failed(email, str(exc), note=f"; {MAIL_SERVER} is unreachable, {_QUIET}")
            else:
                self._failed(email, str(exc), level=logging.DEBUG)
            return _UNREACHABLE
        self.outages.working(MAIL_SERVER)
        statement = _MARK_SENT_AND_ERASE if email.sensitive else _MARK_SENT
        self.connection.execute(statement, {"row_id": email.id, "now": utcnow()})
        return _SENT

    def _lock(self, row_id: int) -> bool:
        """PostgreSQL: lock a row of the batch, if it is still due and no one else has it."""
        found = self.connection.execute(_LOCK, {"row_id": row_id, "now": utcnow()})
        return found.first() is not None

    def _failed(
        self, email: _Email, error: str, level: int = logging.WARNING, note: str = ""
    ) -> None:
        """Count the attempt: retry with backoff, or dead after CCR_OUTBOX_MAX_ATTEMPTS."""
        attempts = email.attempts + 1
        error = header_safe(error, 500)
        values: dict[str, object] = {"attempts": attempts, "last_error": error}
        if attempts >= current_app.config["CCR_OUTBOX_MAX_ATTEMPTS"]:
            values["status"] = OutboxStatus.DEAD
            log.error("outbox email %s is dead after %s attempts: %s", email.id, attempts, error)
        else:
            values["next_attempt_at"] = retry_at = utcnow() + backoff(attempts)
            log.log(
                level,
                "outbox email %s failed (attempt %s), retry at %s: %s%s",
                email.id,
                attempts,
                retry_at.isoformat(timespec="seconds"),
                error,
                note,
            )
        self.connection.execute(update(_TABLE).where(_TABLE.c.id == email.id).values(values))


def _claim_batch(connection: Connection, size: int) -> list[Row]:
    """Read (and on PostgreSQL lock) up to size due rows, the longest due first. SKIP
    LOCKED lets two dispatchers work side by side and never claim the same row."""
    query = (
        select(*(_TABLE.c[column] for column in _COLUMNS))
        .where(_TABLE.c.status == OutboxStatus.PENDING)
        .where(_TABLE.c.next_attempt_at <= utcnow())
        .order_by(_TABLE.c.next_attempt_at, _TABLE.c.id)
        .limit(size)
    )
    if connection.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(connection.execute(query))


def run_dispatcher(app: Flask, stop: threading.Event | None = None) -> None:
    """Loop forever (or until stop is set): send what is due, then wait for a wake-up."""
    stop = stop or threading.Event()
    poll = app.config["CCR_OUTBOX_POLL_SECONDS"]
    outages = Outages()
    log.info("outbox dispatcher started")
    while not stop.is_set():
        with app.app_context(), bound_request_id(f"outbox-{new_request_id()[:12]}"):
            try:
                dispatch_pending(outages=outages)
            except SQLAlchemyError as exc:  # the database is down: it will come back
                if outages.failing(DATABASE):
                    log.error(
                        "outbox: %s fails, retrying every %s s (one line when it works): %s",
                        DATABASE,
                        poll,
                        _first_line(exc),
                    )
            except Exception as exc:  # a bug: its traceback once, not every round
                if outages.failing(f"the dispatch round ({type(exc).__name__})"):
                    log.exception("outbox dispatch round failed (one line when it works)")
            else:
                for kind in outages.failing_kinds():
                    if kind != MAIL_SERVER:
                        outages.working(kind)
            finally:
                try:
                    db.session.remove()
                except SQLAlchemyError:
                    pass
        wait_for_work(poll)


def _first_line(exc: Exception) -> str:
    """SQLAlchemy's messages go on with the statement and a link to its documentation."""
    return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"


def start_dispatcher(app: Flask) -> bool:
    """Start the in-process dispatcher as a background task when configured to (the default)."""
    if app.config["CCR_OUTBOX_DISPATCHER"] != "inprocess":
        return False
    socketio.start_background_task(run_dispatcher, app)
    return True
