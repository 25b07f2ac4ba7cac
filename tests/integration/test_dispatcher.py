"""The outbox dispatcher as it runs: a real `flask ccr worker` killed mid-batch, and the
loop's log lines through database and mail server outages."""

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ccr.extensions import db
from ccr.models import OutboxEmail, OutboxStatus, utcnow
from ccr.notify import dispatcher
from ccr.notify.dispatcher import BATCH_SIZE, run_dispatcher
from tests.support.faults import database_unreachable

ROOT = Path(__file__).resolve().parents[2]


def _add_emails(count: int, start: int = 0) -> list[int]:
    rows = [
        OutboxEmail(
            recipient=f"user{i}@example.com",
            subject=f"n{i}",
            body_text=f"text {i}",
            body_html=f"<p>html {i}</p>",
            status=OutboxStatus.PENDING,
            next_attempt_at=utcnow(),
        )
        for i in range(start, start + count)
    ]
    db.session.add_all(rows)
    db.session.commit()
    return [row.id for row in rows]


def _sent() -> int:
    db.session.rollback()  # a fresh look at what the worker committed
    query = select(func.count(OutboxEmail.id)).where(OutboxEmail.status == OutboxStatus.SENT)
    return db.session.scalar(query) or 0


class _Worker:
    """`flask ccr worker` in a process of its own, on the test's database and SMTP sink."""

    def __init__(self, database_url: str, smtp_port: int, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.log_path = folder / "worker.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CCR_", "MAIL_"))}
        env.update(
            CCR_ENV="development",
            CCR_INSTANCE_PATH=str(folder),
            CCR_BASE_URL="http://localhost",
            DATABASE_URL=database_url,
            CCR_MAIL_TRANSPORT="smtp",
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=str(smtp_port),
            CCR_OUTBOX_POLL_SECONDS="0.2",
            PYTHONUNBUFFERED="1",
        )
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "app", "ccr", "worker"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_until(self, condition: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.proc.poll() is not None:
                raise AssertionError(f"the worker exited: {self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for the worker: {self.log()}")
            time.sleep(0.01)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


@pytest.mark.live
def test_a_worker_killed_mid_batch_sends_every_email_and_at_most_one_twice(
    app, database_url, mailbox, tmp_path
):
    count = BATCH_SIZE + 10
    expected = {f"<ccr-outbox-{row_id}@localhost>" for row_id in _add_emails(count)}
    mailbox.delay = 0.05  # a slow server, so the kill lands inside the first batch
    try:
        first = _Worker(database_url, mailbox.port, tmp_path / "first")
        try:
            first.wait_until(lambda: len(mailbox.messages) >= 10)
        finally:
            first.kill()
        received_before_the_kill = len(mailbox.messages)
        assert received_before_the_kill < BATCH_SIZE, "the kill came after the first batch"

        second = _Worker(database_url, mailbox.port, tmp_path / "second")
        try:
            second.wait_until(lambda: _sent() == count)
        finally:
            second.kill()
    finally:
        mailbox.delay = 0.0
    arrived = Counter(m["Message-ID"] for m in mailbox.wait_for(count))
    assert set(arrived) == expected  # every email arrived
    assert sum(arrived.values()) - len(arrived) <= 1, arrived.most_common(3)  # one twice at most


class _Rounds(threading.Event):
    """run_dispatcher's stop event: before(n) runs before round n; stops after `rounds`."""

    def __init__(self, rounds: int, before: Callable[[int], None]) -> None:
        super().__init__()
        self.rounds, self.before, self.round = rounds, before, 0

    def is_set(self) -> bool:
        self.round += 1
        if self.round > self.rounds:
            return True
        self.before(self.round)
        return False


def _lines(caplog) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == dispatcher.log.name]


def test_a_database_outage_logs_one_line_when_it_starts_and_one_when_it_ends(
    app, mailbox, monkeypatch, caplog
):
    app.config["CCR_OUTBOX_POLL_SECONDS"] = 0
    faults = ExitStack()

    def before(n: int) -> None:
        if n == 1:
            faults.enter_context(database_unreachable(monkeypatch))
        if n == 5:
            faults.close()
            _add_emails(1)

    caplog.set_level(logging.INFO)
    run_dispatcher(app, _Rounds(6, before))
    started, down, back = _lines(caplog)
    assert started == ("INFO", "outbox dispatcher started")
    assert down[0] == "ERROR" and "the database fails" in down[1]
    assert "could not connect to server" in down[1]
    assert back[0] == "WARNING" and back[1].startswith("outbox: the database works again after")
    assert not [r for r in caplog.records if r.exc_info]  # no traceback, from any logger
    assert len(mailbox.wait_for(1)) == 1


def test_a_mail_server_outage_logs_one_line_when_it_starts_and_one_when_it_ends(
    app, mailbox, caplog
):
    app.config["CCR_OUTBOX_POLL_SECONDS"] = 0

    def before(n: int) -> None:
        if n == 1:
            mailbox.stop()
        if n == 5:
            mailbox.start()
        _add_emails(1, start=n)  # due now: every round tries to send one

    caplog.set_level(logging.INFO)
    run_dispatcher(app, _Rounds(5, before))
    started, down, back = _lines(caplog)
    assert started == ("INFO", "outbox dispatcher started")
    assert down[0] == "WARNING" and "failed (attempt 1)" in down[1]
    assert "the mail server is unreachable" in down[1]
    assert back[0] == "WARNING" and back[1].startswith("outbox: the mail server works again after")
    assert [m["Subject"] for m in mailbox.wait_for(1)] == ["n5"]
    waiting = select(OutboxEmail).where(OutboxEmail.status == OutboxStatus.PENDING)
    tried = db.session.scalars(waiting.where(OutboxEmail.attempts == 1)).all()
    assert len(tried) == 4  # each round's email was tried; only the first failure was logged


def test_an_unexpected_error_logs_its_traceback_once(app, monkeypatch, caplog):
    app.config["CCR_OUTBOX_POLL_SECONDS"] = 0
    real_claim = dispatcher._claim_batch

    def broken(connection, size):
        raise RuntimeError("a bug")

    def before(n: int) -> None:
        if n == 1:
            monkeypatch.setattr(dispatcher, "_claim_batch", broken)
        if n == 4:
            monkeypatch.setattr(dispatcher, "_claim_batch", real_claim)

    caplog.set_level(logging.INFO)
    run_dispatcher(app, _Rounds(5, before))
    started, failed, back = _lines(caplog)
    assert failed[0] == "ERROR"
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [RuntimeError]
    assert back[1].startswith("outbox: the dispatch round (RuntimeError) works again after")
