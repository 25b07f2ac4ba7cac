"""Request ids on every response and log line; JSON lines in production."""

import io
import json
import logging
import threading
from datetime import datetime

import pytest

from ccr.extensions import db, socketio
from ccr.logs import HEADER, bound_request_id, well_formed
from ccr.models import OutboxEmail, OutboxStatus, Role, utcnow
from ccr.notify.dispatcher import run_dispatcher
from ccr.realtime import identity
from ccr.services import tickets
from ccr.services.uow import commit
from tests.support.chat import send
from tests.support.users import login


@pytest.fixture
def log_stream():
    """What the CCR root handler writes (installed by the `app` fixture's create_app)."""
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_ccr", False))
    buffer = io.StringIO()
    old = handler.setStream(buffer)
    yield buffer
    handler.setStream(old)


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_request_id_is_generated_and_returned(client):
    first = client.get("/healthz").headers[HEADER]
    second = client.get("/healthz").headers[HEADER]
    assert len(first) == 32 and int(first, 16) >= 0
    assert first != second


def test_a_well_formed_incoming_request_id_is_honoured(client):
    response = client.get("/login", headers={HEADER: "lb-1234abcd-5678"})
    assert response.headers[HEADER] == "lb-1234abcd-5678"


@pytest.mark.parametrize(
    "bad", ["short", "has space inside it", "x" * 200, "<script>alert</script>"]
)
def test_a_malformed_incoming_request_id_is_replaced(client, bad):
    returned = client.get("/healthz", headers={HEADER: bad}).headers[HEADER]
    assert returned != bad and len(returned) == 32


def test_404_responses_carry_a_request_id_too(client):
    assert len(client.get("/no-such-page").headers[HEADER]) == 32


@pytest.fixture
def app_config(app_config):
    app_config.CCR_LOG_FORMAT = "json"
    return app_config


def test_json_log_lines_carry_time_level_logger_message_and_request_id(app, client, log_stream):
    def boom():
        raise RuntimeError("kaput")

    app.add_url_rule("/boom", "boom", boom)
    response = client.get("/boom", headers={HEADER: "trace-0001-abcdef"})
    assert response.status_code == 500
    lines = _json_lines(log_stream.getvalue())
    entry = next(e for e in lines if e["logger"] == "ccr.errors")
    assert entry["level"] == "ERROR"
    assert entry["message"] == "unhandled error on GET /boom"
    assert entry["request_id"] == "trace-0001-abcdef"
    assert "RuntimeError: kaput" in entry["exc_info"]
    assert entry["time"].endswith("Z")
    assert datetime.fromisoformat(entry["time"]).utcoffset().total_seconds() == 0


def test_production_defaults_to_json(monkeypatch):
    from ccr.config import DevelopmentConfig
    from ccr.logs import log_format

    class FakeApp:
        def __init__(self, config):
            self.config = config

    monkeypatch.delenv("CCR_LOG_FORMAT", raising=False)
    assert log_format(FakeApp({"ENV_NAME": "production"})) == "json"
    assert log_format(FakeApp({"ENV_NAME": "development"})) == "text"
    monkeypatch.setenv("CCR_LOG_FORMAT", "json")
    settings = vars(DevelopmentConfig())  # the environment is read by ccr.config
    assert log_format(FakeApp({"ENV_NAME": "development", **settings})) == "json"


def test_lines_outside_a_request_carry_a_bound_id(app, log_stream):
    with bound_request_id("job-00000042"):
        logging.getLogger("ccr.test").warning("background work")
    logging.getLogger("ccr.test").warning("unbound")
    lines = _json_lines(log_stream.getvalue())
    assert [(e["message"], e["request_id"]) for e in lines] == [
        ("background work", "job-00000042"),
        ("unbound", None),
    ]


class _OneRound(threading.Event):
    """is_set() is false once, then true: run_dispatcher does exactly one round."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def is_set(self):
        self.calls += 1
        return self.calls > 1


def test_outbox_dispatcher_lines_carry_a_round_id(app, log_stream):
    app.config["MAIL_PORT"] = 9  # nothing listens: the send fails and is logged
    app.config["CCR_OUTBOX_POLL_SECONDS"] = 0
    db.session.add(
        OutboxEmail(
            recipient="a@example.com",
            subject="s",
            body_text="t",
            body_html="h",
            status=OutboxStatus.PENDING,
            next_attempt_at=utcnow(),
        )
    )
    db.session.commit()
    run_dispatcher(app, _OneRound())
    failed = [e for e in _json_lines(log_stream.getvalue()) if "failed (attempt 1)" in e["message"]]
    assert len(failed) == 1
    assert failed[0]["logger"] == "ccr.notify.email"
    assert failed[0]["request_id"].startswith("outbox-")


def _failing_event(sc, monkeypatch, ticket_id: int) -> dict:
    """A send_message whose user check fails with a fault in the code, so the handler logs
    a line each time (an outage, such as the database down, is logged once: ccr.outages)."""

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug in the user check")

    with monkeypatch.context() as patch:
        patch.setattr(identity, "socket_state", broken)
        return send(sc, ticket_id, "hello")


def test_socket_event_lines_carry_the_handshake_request_id_and_the_sid(
    app, socket_client, make_user, log_stream, monkeypatch
):
    """Socket events run without a request context; their lines still name the socket."""
    customer = make_user(Role.CUSTOMER)
    ticket = tickets.open_ticket(actor=customer, subject="Help", description="It broke.")
    commit()
    client = app.test_client()
    login(client, customer)
    tagged = socket_client(client, headers={HEADER: "handshake-77aa01"})
    untagged = socket_client(client)
    for sc in (tagged, untagged, tagged, untagged):
        assert _failing_event(sc, monkeypatch, ticket.id)["ok"] is False
    lines = [e for e in _json_lines(log_stream.getvalue()) if "user check" in e["message"]]
    sids = [socketio.server.manager.sid_from_eio_sid(sc.eio_sid, "/") for sc in (tagged, untagged)]
    assert [e["sid"] for e in lines] == [sids[0], sids[1], sids[0], sids[1]]
    assert lines[0]["request_id"] == lines[2]["request_id"] == "handshake-77aa01"
    # no id from the handshake: one made for the socket, the same on each of its lines
    assert well_formed(lines[1]["request_id"]) and lines[1]["request_id"] == lines[3]["request_id"]
    assert lines[1]["request_id"] != "handshake-77aa01"
