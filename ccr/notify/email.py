"""Email through a transactional outbox.

queue_email() adds a row to the caller's session: it is committed with the change it
reports, or rolled back with it. The dispatcher sends pending rows in batches over SMTP
(Flask-Mail's connection settings), retries failures with exponential backoff and marks
rows sent or dead.
"""

import logging
import re
import secrets
import smtplib
import threading
from datetime import timedelta
from email import policy
from email.charset import Charset
from email.generator import BytesGenerator
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid
from io import BytesIO

from flask import current_app, render_template
from flask_mail import Connection, sanitize_address
from sqlalchemy import select, update

from ccr.extensions import db
from ccr.logs import bound_request_id, new_request_id
from ccr.models import OutboxEmail, OutboxStatus, utcnow

log = logging.getLogger(__name__)
REDACTED = "[This message held a one-time code or link and was erased after sending.]"
_HEADER_UNSAFE = re.compile(r"[\r\n\x00-\x1f\x7f]+")
_wake = threading.Event()
BATCH_SIZE = 50  # rows claimed, sent and committed per transaction
# An SMTP error reply about one message: the server is there, the next message may pass.
_REFUSED = (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused)
# How an email goes on the wire: CRLF line ends, headers kept as the strings they were set to.
_WIRE = policy.compat32.clone(linesep="\r\n")
# UTF-8 bodies as they are (7bit or 8bit), never base64 or quoted-printable, as Flask-Mail
# sends them.
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = None


def header_safe(value: str, limit: int = 250) -> str:
    """Collapse CR, LF and other control characters: they can never reach a header."""
    return _HEADER_UNSAFE.sub(" ", value).strip()[:limit]


def queue_email(
    recipient: str,
    subject: str,
    template: str,
    *,
    kind: str = "notice",
    sensitive: bool = False,
    ticket_id: int | None = None,
    **context: object,
) -> OutboxEmail:
    """Render templates/email/<template>.txt and .html into an outbox row (not committed)."""
    context.setdefault("base_url", current_app.config["CCR_BASE_URL"])
    row = OutboxEmail(
        recipient=header_safe(recipient, 254),
        subject=header_safe(subject),
        body_text=render_template(f"email/{template}.txt", kind=kind, **context),
        body_html=render_template(f"email/{template}.html", kind=kind, **context),
        kind=kind,
        sensitive=sensitive,
        ticket_id=ticket_id,
        status=OutboxStatus.PENDING,
        next_attempt_at=utcnow(),
    )
    db.session.add(row)
    from ccr.services.uow import on_commit

    on_commit(wake_dispatcher)
    return row


def wake_dispatcher() -> None:
    _wake.set()


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s ... capped at one hour."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


def message_id(row_id: int) -> str:
    """Derived from the outbox id, so a rare duplicate after a crash is recognisable."""
    domain = current_app.config["CCR_BASE_URL"].split("://")[-1].split("/")[0].split(":")[0]
    return f"<ccr-outbox-{row_id}@{domain or 'ccr.local'}>"


def _claim_batch(size: int) -> list[OutboxEmail]:
    """Lock up to size due rows, the longest due first. On PostgreSQL, SKIP LOCKED lets
    two dispatchers work side by side and never claim the same row."""
    query = (
        select(OutboxEmail)
        .where(OutboxEmail.status == OutboxStatus.PENDING)
        .where(OutboxEmail.next_attempt_at <= utcnow())
        .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
        .limit(size)
    )
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(db.session.scalars(query))


def dispatch_pending(limit: int = 500, batch_size: int = BATCH_SIZE) -> int:
    """Send up to limit due rows over one SMTP connection. Returns how many were sent.

    Rows go in batches of batch_size, one transaction each: claim them, send them one by
    one, then record every outcome and commit. A row is marked sent only once the server
    has accepted it; a crash before the commit leaves the batch's rows pending, so they go
    again (a duplicate, with the same Message-ID) and are never lost. A row that cannot be
    built, or that the server refuses (an SMTP error reply), fails alone and is retried
    with backoff; anything else means the server is unreachable and ends the round, the
    rest of the batch staying pending and due.
    """
    sent = claimed = 0
    outlet = _Outlet()
    try:
        while claimed < limit:
            rows = _claim_batch(min(batch_size, limit - claimed))
            if not rows:
                db.session.rollback()
                break
            claimed += len(rows)
            delivered, reachable = _send_batch(rows, outlet)
            sent += delivered
            if not reachable:
                break
    finally:
        outlet.close()
    return sent


def _send_batch(rows: list[OutboxEmail], outlet: "_Outlet") -> tuple[int, bool]:
    """Send the claimed rows and commit their outcomes: (how many sent, server reachable)."""
    delivered: list[OutboxEmail] = []
    reachable = True
    try:
        for row in rows:
            try:
                to = _recipient(row)
                data = _build(row, outlet.sender, to)
            except Exception as exc:  # this row's content cannot be sent, the others can
                _failed(row, exc)
                continue
            try:
                outlet.open()
                outlet.send(row, to, data)
            except Exception as exc:  # refused, or down, timed out, disconnected ...
                opened = outlet.is_open()
                outlet.close()
                _failed(row, exc)
                if opened and isinstance(exc, _REFUSED):
                    continue
                # Not connected (even if it answered an error to the greeting or login) or
                # gone: later rows would fail the same way and stay pending.
                reachable = False
                break
            delivered.append(row)
    finally:
        # Also when the loop is interrupted: what the server accepted is recorded as sent.
        _mark_sent(delivered)
        db.session.commit()
    return len(delivered), reachable


def _mark_sent(rows: list[OutboxEmail]) -> None:
    if not rows:
        return
    now = utcnow()
    db.session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id.in_([row.id for row in rows]))
        .values(
            status=OutboxStatus.SENT,
            sent_at=now,
            attempts=OutboxEmail.attempts + 1,
            last_error=None,
        ),
        execution_options={"synchronize_session": False},  # the commit expires the rows
    )
    secret = [row.id for row in rows if row.sensitive]
    if secret:
        db.session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id.in_(secret))
            .values(body_text=REDACTED, body_html=REDACTED),
            execution_options={"synchronize_session": False},
        )


def _failed(row: OutboxEmail, exc: Exception) -> None:
    """Count the attempt: retry with backoff, or dead after CCR_OUTBOX_MAX_ATTEMPTS."""
    row.attempts += 1
    row.last_error = header_safe(f"{type(exc).__name__}: {exc}", 500)
    if row.attempts >= current_app.config["CCR_OUTBOX_MAX_ATTEMPTS"]:
        row.status = OutboxStatus.DEAD
        log.error(
            "outbox email %s is dead after %s attempts: %s", row.id, row.attempts, row.last_error
        )
    else:
        row.next_attempt_at = utcnow() + backoff(row.attempts)
        log.warning(
            "outbox email %s failed (attempt %s), retry at %s: %s",
            row.id,
            row.attempts,
            row.next_attempt_at.isoformat(timespec="seconds"),
            row.last_error,
        )


class _Outlet:
    """Where a round's emails go: one SMTP connection, opened on first use and again after
    a refusal; or files under instance/mail/ (CCR_MAIL_TRANSPORT=file)."""

    def __init__(self) -> None:
        self.sender = _sender()
        self.to_file = current_app.config["CCR_MAIL_TRANSPORT"] == "file"
        self.connection: Connection | None = None

    def open(self) -> None:
        if not self.to_file and self.connection is None:
            self.connection = _TimeoutConnection(current_app.extensions["mail"]).__enter__()

    def is_open(self) -> bool:
        return self.to_file or self.connection is not None

    def send(self, row: OutboxEmail, to: str, data: bytes) -> None:
        if self.to_file:
            _write_file(row, data)
        elif self.connection.host is not None:  # None: MAIL_SUPPRESS_SEND
            self.connection.host.sendmail(self.sender, [to], data)

    def close(self) -> None:
        self.connection = _close(self.connection)


class _TimeoutConnection(Connection):
    """Flask-Mail's connection opens SMTP without a timeout; a hung server must not hang us."""

    def configure_host(self):
        timeout = current_app.config["MAIL_TIMEOUT"]
        cls = smtplib.SMTP_SSL if self.mail.use_ssl else smtplib.SMTP
        host = cls(self.mail.server, self.mail.port, timeout=timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


def _build(row: OutboxEmail, sender: str, to: str) -> bytes:
    """The email as Flask-Mail's Message built it: multipart/mixed around a
    multipart/alternative of the text and HTML bodies (UTF-8, 8bit), with Flask-Mail's own
    encoding of Subject, From and To. Serialised under compat32 with CRLF line ends rather
    than Flask-Mail's policy.SMTP, which parses every header again through the header
    registry, and with boundaries chosen here rather than by the generator, which compiles
    a fresh regex per part to search the text for a free one.
    """
    alternative = MIMEMultipart(
        "alternative",
        _boundary(row.body_text, row.body_html),
        [
            MIMEText(row.body_text, "plain", _UTF8, policy=_WIRE),
            MIMEText(row.body_html, "html", _UTF8, policy=_WIRE),
        ],
        policy=_WIRE,
    )
    msg = MIMEMultipart(
        "mixed", _boundary(row.body_text, row.body_html), [alternative], policy=_WIRE
    )
    # header_safe again: a row edited after queue_email still cannot put CR/LF in a header.
    subject = header_safe(row.subject)
    if subject.isascii():
        if subject:
            msg["Subject"] = subject
    else:  # encoded words folded to fit after "Subject: ", as Flask-Mail encodes it
        msg["Subject"] = Header(subject, "utf-8", header_name="Subject")
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message_id(row.id) if row.id else make_msgid()
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=_WIRE).flatten(msg)
    return out.getvalue()


def _boundary(*bodies: str) -> str:
    """128 random bits that none of the bodies contains (so no part can end early)."""
    while True:
        boundary = f"==============={secrets.token_hex(16)}=="
        if not any(boundary in body for body in bodies):
            return boundary


def _sender() -> str:
    return sanitize_address(header_safe(current_app.extensions["mail"].default_sender))


def _recipient(row: OutboxEmail) -> str:
    return sanitize_address(header_safe(row.recipient, 254))


def _write_file(row: OutboxEmail, data: bytes | None = None) -> None:
    """Development transport: the email as an .eml file under instance/mail/."""
    from pathlib import Path

    folder = Path(current_app.instance_path) / "mail"
    folder.mkdir(parents=True, exist_ok=True)
    if data is None:
        data = _build(row, _sender(), _recipient(row))
    path = folder / f"{row.id:06d}.eml"
    path.write_bytes(data)
    log.info("email to %s (%s) written to %s", row.recipient, row.subject, path)


def _close(connection):
    if connection is not None:
        try:
            connection.__exit__(None, None, None)
        except Exception:
            pass
    return None


def retry_dead(row: OutboxEmail) -> None:
    """Put a dead row back in the queue (admin's mail log). The caller commits."""
    row.status = OutboxStatus.PENDING
    row.attempts = 0
    row.next_attempt_at = utcnow()
    from ccr.services.uow import on_commit

    on_commit(wake_dispatcher)


def run_dispatcher(app, stop: threading.Event | None = None) -> None:
    """Loop forever (or until stop is set): send what is due, then wait for a wake-up."""
    stop = stop or threading.Event()
    poll = app.config["CCR_OUTBOX_POLL_SECONDS"]
    log.info("outbox dispatcher started")
    while not stop.is_set():
        with app.app_context(), bound_request_id(f"outbox-{new_request_id()[:12]}"):
            try:
                dispatch_pending()
            except Exception:  # the database is down: keep going, it will come back
                log.exception("outbox dispatch round failed")
                db.session.rollback()
            finally:
                db.session.remove()
        _wake.wait(poll)
        _wake.clear()


def start_dispatcher(app) -> bool:
    """Start the in-process dispatcher as a background task when configured to (the default)."""
    if app.config["CCR_OUTBOX_DISPATCHER"] != "inprocess":
        return False
    from ccr.extensions import socketio

    socketio.start_background_task(run_dispatcher, app)
    return True
