"""Email: the outbox dispatcher's throughput against an SMTP sink (`emails_per_s`)."""

import os
import secrets
import statistics
import subprocess
import sys
import time

from sqlalchemy import text

from bench.harness import log
from ccr import create_app
from ccr.extensions import db
from ccr.models import OutboxEmail, OutboxStatus
from ccr.models.base import utcnow
from ccr.notify.dispatcher import dispatch_pending
from tests.support.net import free_port, wait_port


def emails_per_s(database_url: str, runs: int = 3, count: int = 1000) -> dict:
    """The dispatcher in this process (as `flask ccr worker` runs it) against an aiosmtpd sink."""
    # The sink runs in its own process, as a real SMTP server would: in this process it
    # would share the GIL with the dispatcher being measured.
    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
         "-c", "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_port(port)
    except RuntimeError:
        sink.kill()
        raise
    saved = dict(os.environ)
    try:
        os.environ.update(
            CCR_ENV="production",
            SECRET_KEY=secrets.token_hex(32),
            DATABASE_URL=database_url,
            CCR_ASYNC_MODE="threading",
            CCR_OUTBOX_DISPATCHER="off",
            CCR_MAIL_TRANSPORT="smtp",
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=str(port),
        )
        app = create_app()
        rates = []
        body = "Hello Ana,\n\nYour ticket CCR-000042 was updated.\n\n" + "Details. " * 60
        html = f"<p>{body}</p>" * 2
        with app.app_context():
            for run in range(runs):
                db.session.execute(OutboxEmail.__table__.delete())
                db.session.execute(
                    OutboxEmail.__table__.insert(),
                    [
                        {
                            "recipient": f"customer{i}@bench.example",
                            "subject": f"[CCR-{i:06d}] Your ticket was updated",
                            "body_text": body,
                            "body_html": html,
                            "kind": "ticket_updated",
                            "sensitive": False,
                            "status": OutboxStatus.PENDING,
                            "attempts": 0,
                            "next_attempt_at": utcnow(),
                            "created_at": utcnow(),
                        }
                        for i in range(count)
                    ],
                )
                db.session.commit()
                t0 = time.perf_counter()
                sent = 0
                while sent < count:
                    n = dispatch_pending(limit=count)
                    if n == 0:
                        break
                    sent += n
                elapsed = time.perf_counter() - t0
                delivered = db.session.execute(
                    text("SELECT COUNT(*) FROM outbox_emails WHERE status = 'sent'")
                ).scalar()
                if delivered != count:
                    raise RuntimeError(f"only {delivered} of {count} emails were sent")
                rates.append(count / elapsed)
                log(f"emails run {run + 1}: {sent} sent in {elapsed:.2f} s")
            db.session.remove()
            db.engine.dispose()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        sink.terminate()
        sink.wait(timeout=10)
    return {"median": statistics.median(rates), "runs": [round(r, 1) for r in rates]}


def email_metrics(database_url: str, m: dict, suffix: str) -> None:
    e = emails_per_s(database_url)
    m["emails_per_s" + suffix] = {"value": round(e["median"], 1), "unit": "msg/s",
                                  "baseline": None, "detail": {"runs": e["runs"]}}  # fmt: skip
