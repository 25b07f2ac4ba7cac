"""The transactional outbox against a real SMTP server (aiosmtpd)."""

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from ccr.extensions import db
from ccr.models import OutboxEmail, OutboxStatus, utcnow
from ccr.notify.email import REDACTED, backoff, dispatch_pending, queue_email, retry_dead
from ccr.services.uow import commit, rollback
from tests.support.smtp import body_html, body_text


def _queue(to="alice@example.com", subject="Hello", headline="Test", **kw):
    return queue_email(
        to,
        subject,
        "ticket_notice",
        user=_Who(),
        ticket=_Ticket(),
        headline=headline,
        link="http://localhost/t/1",
        **kw,
    )


class _Who:
    first_name = "Alice"
    id = 1


class _Ticket:
    reference = "CCR-000001"
    subject = "Printer on fire"
    assignee = None
    assignee_id = None
    rating = None

    class status:  # noqa: N801
        label = "Open"


def _rows():
    return list(db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))


def test_a_committed_email_is_delivered_once_with_text_and_html(app, mailbox):
    _queue()
    commit()
    assert dispatch_pending() == 1
    assert dispatch_pending() == 0  # nothing is sent twice
    [msg] = mailbox.wait_for(1)
    assert msg["To"] == "alice@example.com"
    assert msg["Subject"] == "Hello"
    assert "Printer on fire" in body_text(msg) and "Printer on fire" in body_html(msg)
    [row] = _rows()
    assert row.status == OutboxStatus.SENT and row.sent_at is not None
    assert msg["Message-ID"] == f"<ccr-outbox-{row.id}@localhost>"


def test_a_rolled_back_transaction_sends_nothing(app, mailbox):
    _queue()
    rollback()
    assert _rows() == []
    assert dispatch_pending() == 0
    assert mailbox.messages == []


def test_smtp_down_then_back_delivers_exactly_once(app, mailbox):
    mailbox.stop()
    _queue()
    commit()
    start = utcnow()
    assert dispatch_pending() == 0
    [row] = _rows()
    assert row.status == OutboxStatus.PENDING and row.attempts == 1
    assert row.last_error and row.next_attempt_at > start
    first_retry = row.next_attempt_at

    with time_machine.travel(first_retry + timedelta(seconds=1), tick=False):
        assert dispatch_pending() == 0  # still down: the wait grows
    db.session.expire_all()
    [row] = _rows()
    assert row.attempts == 2 and row.next_attempt_at - first_retry >= backoff(1)

    mailbox.start()
    assert dispatch_pending() == 0  # not due yet: backoff is respected
    with time_machine.travel(row.next_attempt_at + timedelta(seconds=1), tick=False):
        assert dispatch_pending() == 1
    assert len(mailbox.wait_for(1)) == 1
    db.session.expire_all()
    [row] = _rows()
    assert row.status == OutboxStatus.SENT and row.attempts == 3 and row.last_error is None


def test_smtp_answering_451_keeps_the_row_pending_then_delivers(app, mailbox):
    mailbox.reply_code = "451 4.3.0 try again later"
    _queue()
    commit()
    assert dispatch_pending() == 0
    [row] = _rows()
    assert row.status == OutboxStatus.PENDING and "451" in row.last_error
    mailbox.reply_code = None
    with time_machine.travel(row.next_attempt_at + timedelta(seconds=1), tick=False):
        assert dispatch_pending() == 1
    assert len(mailbox.wait_for(1)) == 1


def test_after_max_attempts_the_row_is_dead_and_logged(app, mailbox, caplog):
    app.config["CCR_OUTBOX_MAX_ATTEMPTS"] = 2
    mailbox.stop()
    _queue()
    commit()
    dispatch_pending()
    [row] = _rows()
    with time_machine.travel(row.next_attempt_at + timedelta(seconds=1), tick=False):
        dispatch_pending()
    db.session.expire_all()
    [row] = _rows()
    assert row.status == OutboxStatus.DEAD
    assert any("is dead" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)

    mailbox.start()
    retry_dead(row)
    commit()
    assert dispatch_pending() == 1
    assert len(mailbox.wait_for(1)) == 1


def test_a_sensitive_row_no_longer_holds_its_body_once_sent(app, mailbox):
    _queue(sensitive=True)
    commit()
    dispatch_pending()
    [msg] = mailbox.wait_for(1)
    assert "Printer on fire" in body_text(msg)
    [row] = _rows()
    assert row.body_text == REDACTED and row.body_html == REDACTED


@pytest.mark.parametrize("subject", ["Hi\r\nBcc: victim@example.com", "Hi\nX-Evil: 1"])
def test_cr_lf_never_reaches_a_header(app, mailbox, subject):
    _queue(subject=subject)
    commit()
    dispatch_pending()
    [msg] = mailbox.wait_for(1)
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]


@pytest.mark.parametrize(
    "subject",
    [
        "Réponse à votre ticket — ça brûle",
        "Ünïcödé " + "très long sujet " * 12,
        "A plain subject long enough to be folded over more than one line " * 3,
    ],
)
def test_non_ascii_and_long_subjects_arrive_as_queued(app, mailbox, subject):
    _queue(subject=subject, headline="Ça brûle: 3 € de réduction")
    commit()
    assert dispatch_pending() == 1
    [msg] = mailbox.wait_for(1)
    [row] = _rows()
    assert msg["Subject"] == row.subject == subject.strip()
    assert msg["From"] == "CCR <no-reply@ccr.local>"
    [alternative] = [p for p in msg.walk() if p.get_content_type() == "multipart/alternative"]
    parts = [p.get_content_type() for p in alternative.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in alternative.iter_parts())
    assert "Ça brûle: 3 € de réduction" in body_text(msg)
    assert "Ça brûle: 3 € de réduction" in body_html(msg)


def test_two_dispatchers_on_postgresql_never_send_the_same_row(app, mailbox, backend):
    """FOR UPDATE SKIP LOCKED: a second dispatcher skips the row the first one holds."""
    if backend != "postgresql":
        pytest.skip("row locking with SKIP LOCKED is a PostgreSQL feature")
    from ccr.notify.email import _claim_next

    for i in range(2):
        _queue(subject=f"n{i}")
    commit()
    first = _claim_next(set())  # this session now holds the row lock
    other = db.engine.connect()
    try:
        row = other.execute(
            select(OutboxEmail.id)
            .where(OutboxEmail.status == OutboxStatus.PENDING)
            .order_by(OutboxEmail.id)
            .with_for_update(skip_locked=True)
            .limit(1)
        ).scalar()
        assert row is not None and row != first.id
    finally:
        other.close()
        db.session.rollback()


def test_development_without_a_mail_server_writes_emails_to_instance_mail(app, mailbox):
    from pathlib import Path

    app.config["CCR_MAIL_TRANSPORT"] = "file"
    _queue(subject="Dev mail")
    commit()
    assert dispatch_pending() == 1
    [row] = _rows()
    assert row.status == OutboxStatus.SENT
    files = list((Path(app.instance_path) / "mail").glob("*.eml"))
    assert len(files) == 1 and b"Dev mail" in files[0].read_bytes()
    assert mailbox.messages == []
