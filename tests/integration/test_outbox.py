"""The transactional outbox against a real SMTP server (aiosmtpd)."""

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from ccr.extensions import db
from ccr.models import OutboxEmail, OutboxStatus, Role, utcnow
from ccr.notify import mime
from ccr.notify.dispatcher import REDACTED, _claim_batch, backoff, dispatch_pending
from ccr.notify.outbox import queue_email
from ccr.services import Forbidden, ServiceError
from ccr.services.outbox import retry_email
from ccr.services.uow import commit, rollback
from tests.support.faults import commit_fails
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


def test_after_max_attempts_the_row_is_dead_and_logged(app, mailbox, caplog, make_user):
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
    retry_email(row, actor=make_user(Role.ADMIN))
    commit()
    assert dispatch_pending() == 1
    assert len(mailbox.wait_for(1)) == 1


def test_a_sensitive_row_no_longer_holds_its_body_once_sent(app, mailbox):
    _queue(sensitive=True)
    _queue()  # in the same batch, an ordinary row keeps its body
    commit()
    assert dispatch_pending() == 2
    messages = mailbox.wait_for(2)
    assert all("Printer on fire" in body_text(msg) for msg in messages)
    secret, ordinary = _rows()
    assert secret.body_text == REDACTED and secret.body_html == REDACTED
    assert "Printer on fire" in ordinary.body_text and "Printer on fire" in ordinary.body_html


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
    """FOR UPDATE SKIP LOCKED: a second dispatcher skips the rows of the first one's batch."""
    if backend != "postgresql":
        pytest.skip("row locking with SKIP LOCKED is a PostgreSQL feature")
    for i in range(3):
        _queue(subject=f"n{i}")
    commit()
    # this session now holds two row locks
    first = {row.id for row in _claim_batch(db.session.connection(), 2)}
    other = db.engine.connect()
    try:
        rows = (
            other.execute(
                select(OutboxEmail.id)
                .where(OutboxEmail.status == OutboxStatus.PENDING)
                .order_by(OutboxEmail.id)
                .with_for_update(skip_locked=True)
            )
            .scalars()
            .all()
        )
        assert len(first) == 2 and len(rows) == 1 and rows[0] not in first
    finally:
        other.close()
        db.session.rollback()


def test_more_rows_than_a_batch_are_each_sent_once(app, mailbox):
    for i in range(7):
        _queue(to=f"user{i}@example.com", subject=f"n{i}")
    commit()
    assert dispatch_pending(limit=5, batch_size=2) == 5  # the limit holds across batches
    assert dispatch_pending(batch_size=2) == 2
    assert dispatch_pending(batch_size=2) == 0
    messages = mailbox.wait_for(7)
    rows = _rows()
    assert all(row.status == OutboxStatus.SENT and row.attempts == 1 for row in rows)
    assert sorted(m["Message-ID"] for m in messages) == sorted(
        f"<ccr-outbox-{row.id}@localhost>" for row in rows
    )
    assert {m["To"] for m in messages} == {f"user{i}@example.com" for i in range(7)}


def test_a_refused_recipient_fails_alone_and_the_rest_of_the_batch_is_sent(app, mailbox):
    mailbox.refuse.add("nobody@example.com")
    for to in ("a@example.com", "nobody@example.com", "c@example.com"):
        _queue(to=to)
    commit()
    start = utcnow()
    assert dispatch_pending() == 2
    assert sorted(m["To"] for m in mailbox.wait_for(2)) == ["a@example.com", "c@example.com"]
    a, refused, c = _rows()
    assert a.status == c.status == OutboxStatus.SENT
    assert refused.status == OutboxStatus.PENDING and refused.attempts == 1
    assert "550" in refused.last_error and refused.next_attempt_at > start

    mailbox.refuse.clear()
    assert dispatch_pending() == 0  # it waits for its retry time
    with time_machine.travel(refused.next_attempt_at + timedelta(seconds=1), tick=False):
        assert dispatch_pending() == 1
    assert mailbox.wait_for(3)[-1]["To"] == "nobody@example.com"


def test_the_server_going_away_mid_batch_leaves_the_unsent_rows_pending(app, mailbox):
    mailbox.drop_after = 2  # accepts two messages, then hangs up on the third
    for i in range(5):
        _queue(subject=f"n{i}")
    commit()
    start = utcnow()
    assert dispatch_pending() == 2
    rows = _rows()
    assert [row.status for row in rows] == [OutboxStatus.SENT] * 2 + [OutboxStatus.PENDING] * 3
    cut_off = rows[2]  # no answer to its data: not sent, retried with backoff
    assert cut_off.attempts == 1 and cut_off.last_error and cut_off.next_attempt_at > start
    assert [row.attempts for row in rows[3:]] == [0, 0]  # never tried: still due
    assert all(row.next_attempt_at <= start for row in rows[3:])

    mailbox.drop_after = None
    assert dispatch_pending() == 2
    with time_machine.travel(cut_off.next_attempt_at + timedelta(seconds=1), tick=False):
        assert dispatch_pending() == 1
    subjects = sorted(m["Subject"] for m in mailbox.wait_for(5))
    assert subjects == [f"n{i}" for i in range(5)]


def test_a_round_stopped_mid_batch_records_what_was_already_accepted(app, mailbox, monkeypatch):
    """The worker told to stop (an exception that is not an Exception) between two sends:
    the accepted email is recorded as sent, so a restart does not send it again."""
    for i in range(3):
        _queue(subject=f"n{i}")
    commit()
    real_build = mime.build
    built = []

    def stop_on_the_second(row, sender, to):
        built.append(row.id)
        if len(built) == 2:
            raise KeyboardInterrupt
        return real_build(row, sender, to)

    monkeypatch.setattr(mime, "build", stop_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        dispatch_pending()
    db.session.expire_all()
    first, second, third = _rows()
    assert first.status == OutboxStatus.SENT and len(mailbox.wait_for(1)) == 1
    assert second.status == third.status == OutboxStatus.PENDING
    assert second.attempts == third.attempts == 0


def test_a_failure_to_record_a_sent_email_resends_it_rather_than_losing_it(
    app, mailbox, monkeypatch
):
    """Sent but not recorded (the database failed the COMMIT, or the process died before
    it): that row is still pending, so it goes again, recognisable by the same Message-ID.
    The round ends there, so no other email goes out unrecorded."""
    for i in range(3):
        _queue(subject=f"n{i}")
    commit()

    with commit_fails(monkeypatch), pytest.raises(OperationalError):
        dispatch_pending()
    db.session.rollback()
    [unrecorded] = mailbox.wait_for(1)
    assert all(row.status == OutboxStatus.PENDING for row in _rows())

    assert dispatch_pending() == 3
    ids = [m["Message-ID"] for m in mailbox.wait_for(4)]
    rows = _rows()
    assert unrecorded["Message-ID"] == f"<ccr-outbox-{rows[0].id}@localhost>"
    assert sorted(ids) == sorted(f"<ccr-outbox-{row.id}@localhost>" for row in [rows[0], *rows])
    assert all(row.status == OutboxStatus.SENT for row in rows)


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


def test_an_address_that_cannot_be_sent_fails_alone_and_the_round_goes_on(app, mailbox):
    for to in ("zoë@example.com", "ana@bücher.example"):
        _queue(to=to)
    commit()
    assert dispatch_pending() == 1
    [msg] = mailbox.wait_for(1)
    assert msg["To"] == "ana@xn--bcher-kva.example"  # the domain in IDNA
    unsendable, sent = _rows()
    assert unsendable.status == OutboxStatus.PENDING and "SMTPUTF8" in unsendable.last_error
    assert sent.status == OutboxStatus.SENT


def test_retrying_a_dead_email_is_an_admins_security_logged_action(app, make_user, caplog):
    caplog.set_level("INFO", logger="ccr.security")
    admin, agent = make_user(Role.ADMIN), make_user(Role.AGENT)
    row = _queue()
    row.status, row.attempts = OutboxStatus.DEAD, 8
    commit()

    with pytest.raises(Forbidden):
        retry_email(row, actor=agent)
    rollback()
    assert row.status == OutboxStatus.DEAD
    assert any(f"admin_action_denied user={agent.id}" in r.getMessage() for r in caplog.records)

    retry_email(row, actor=admin)
    commit()
    db.session.expire_all()
    [row] = _rows()
    assert row.status == OutboxStatus.PENDING and row.attempts == 0
    [line] = [r.getMessage() for r in caplog.records if "email_retried" in r.getMessage()]
    assert f"user={admin.id}" in line and f"email={row.id}" in line

    with pytest.raises(ServiceError, match="queued already"):
        retry_email(row, actor=admin)  # a second admin, a moment later
    rollback()
    row.status = OutboxStatus.SENT
    commit()
    with pytest.raises(ServiceError, match="Only failed"):
        retry_email(row, actor=admin)
