"""A database outage logs one line per kind of failure, not a traceback per request, and
every request still gets the 503 page (RELIABILITY.md R7)."""

import logging

import pytest
import requests
from sqlalchemy import create_engine, text

from ccr import create_app, outages
from ccr.extensions import db
from ccr.models import Role
from tests.support.clients import login_session
from tests.support.database import config_for
from tests.support.faults import database_unreachable
from tests.support.live import LiveServer
from tests.support.pg import scratch_database
from tests.support.services import PG_URL
from tests.support.users import login, new_user


def test_an_unreachable_database_is_logged_once_not_per_request(
    app, client, make_user, monkeypatch, caplog
):
    login(client, make_user(Role.CUSTOMER))
    db.session.remove()  # the test's session lends no open connection to the requests
    with database_unreachable(monkeypatch), caplog.at_level(logging.INFO):
        statuses = [client.get("/customer/").status_code for _ in range(50)]
        statuses += [client.post("/login", data={"email": "a@b.c", "password": "x"}).status_code]
    assert statuses == [503] * 51
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.name for r in errors] == ["ccr.outage"]
    assert errors[0].getMessage().startswith("database failing")
    assert "OperationalError" in errors[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)


def test_repeats_are_summed_up_once_a_minute(monkeypatch, caplog):
    now = [100.0]
    monkeypatch.setattr(outages.time, "monotonic", lambda: now[0])
    outages.reset()
    boom = OSError("connection refused")
    with caplog.at_level(logging.ERROR, logger="ccr.outage"):
        for _ in range(1000):  # the thousand in six seconds
            now[0] += 0.006
            outages.failed("database", boom)
        now[0] += outages.REPEAT_EVERY - 5.5  # a minute after the first line
        outages.failed("database", boom)
        now[0] += outages.REPEAT_EVERY  # a minute without a failure: the outage was over
        outages.failed("database", boom)
        outages.failed("push", boom)  # another kind has its own line
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4
    assert lines[0].startswith("database failing: OSError: connection refused")
    assert lines[1].startswith("database still failing: OSError, 1000 more times")
    assert lines[2].startswith("database failing: OSError")
    assert lines[3].startswith("push failing")


def test_a_fault_in_the_code_still_logs_its_traceback(caplog):
    log = logging.getLogger("ccr.test")
    with caplog.at_level(logging.ERROR):
        try:
            raise KeyError("bug")
        except KeyError as exc:
            outages.report("database", exc, log, "handler failed")
    assert [r.getMessage() for r in caplog.records] == ["handler failed"]
    assert caplog.records[0].exc_info is not None


@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (CCR_TEST_DATABASE_URL): drops a database")
def test_a_live_server_whose_database_is_dropped_logs_no_traceback(tmp_path, smtp_sink):
    """A real outage: the live server's PostgreSQL database disappears under it."""
    with scratch_database(PG_URL, "ccr_outage") as url:
        app = create_app(config_for(url))
        with app.app_context():
            db.create_all()
            email = new_user(Role.CUSTOMER).email
            db.session.remove()
            db.engine.dispose()
        instance = tmp_path / "live"
        instance.mkdir()
        server = LiveServer(
            url, instance, {"CCR_OUTBOX_DISPATCHER": "off", "MAIL_PORT": str(smtp_sink.port)}
        ).start()
        try:
            browser = login_session(server.url, email)
            assert browser.get(server.url + "/customer/", timeout=10).status_code == 200
            admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                name = url.rsplit("/", 1)[1]
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()
            statuses = [
                browser.get(server.url + "/customer/", timeout=10).status_code for _ in range(100)
            ]
            statuses.append(requests.get(server.url + "/login", timeout=10).status_code)
        finally:
            server.stop()
        log = server.log()
    assert set(statuses[:100]) == {503}
    assert "Traceback" not in log
    failing = [line for line in log.splitlines() if "failing" in line]
    assert 1 <= len(failing) <= 3, failing  # one per kind of failure
