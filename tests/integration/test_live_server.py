"""The real server process: it serves pages, sends the outbox in the background, and checks
the Socket.IO handshake Origin (the test client skips that check, so this needs a live one)."""

import pytest
import requests
import socketio

from ccr.models import Role
from tests.support.clients import login_session


def _cookie_header(session: requests.Session) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


@pytest.fixture
def server(live_server, make_user, mailbox):
    user = make_user(Role.AGENT, email="agent.live@example.com")
    return live_server(), user


def test_live_server_serves_the_login_page_with_assets(server):
    srv, _ = server
    page = requests.get(srv.url + "/login", timeout=5)
    assert page.status_code == 200 and "Log in" in page.text
    css = requests.get(srv.url + "/static/vendor/bootstrap/bootstrap.min.css", timeout=5)
    assert css.status_code == 200 and len(css.content) > 10_000
    js = requests.get(srv.url + "/static/vendor/socket.io/socket.io.min.js", timeout=5)
    assert js.status_code == 200


def test_same_origin_socket_connects_and_a_foreign_origin_is_refused(server):
    srv, user = server
    session = login_session(srv.url, user.email)
    headers = {"Cookie": _cookie_header(session)}

    # websocket-client sends the server's own origin unless told otherwise.
    good = socketio.Client(reconnection=False)
    good.connect(srv.url, headers=headers, transports=["websocket"], wait_timeout=5)
    assert good.connected
    good.disconnect()

    evil = socketio.Client(
        reconnection=False, websocket_extra_options={"origin": "http://evil.example"}
    )
    with pytest.raises(socketio.exceptions.ConnectionError):
        evil.connect(srv.url, headers=headers, transports=["websocket"], wait_timeout=5)
    assert not evil.connected


def test_a_socket_without_a_session_is_refused(server):
    srv, _ = server
    anon = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        anon.connect(srv.url, transports=["websocket"], wait_timeout=5)


def test_the_in_process_dispatcher_sends_emails_from_the_live_server(
    app, live_server, make_user, mailbox
):
    from ccr.services import tickets
    from ccr.services.uow import commit

    customer = make_user(Role.CUSTOMER, email="cust.live@example.com")
    srv = live_server()
    tickets.open_ticket(actor=customer, subject="Live outbox", description="Please send.")
    commit()
    # The test process only wrote the row; the server's background dispatcher sends it.
    received = mailbox.wait_for(1, timeout=20)
    assert received[0]["To"] == "cust.live@example.com"
    assert "Live outbox" in received[0]["Subject"]
    assert srv.proc.poll() is None


def test_a_frame_over_max_http_buffer_size_is_refused_and_stores_nothing(
    app, live_server, make_user, mailbox
):
    from sqlalchemy import func, select

    from ccr.extensions import db
    from ccr.models import Message
    from ccr.services import tickets
    from ccr.services.uow import commit
    from tests.support.clients import ChatClient, login_session

    customer = make_user(Role.CUSTOMER, email="big.frame@example.com")
    ticket = tickets.open_ticket(actor=customer, subject="Big", description="frame")
    commit()
    srv = live_server()
    client = ChatClient(srv.url, login_session(srv.url, customer.email)).connect()
    client.join(ticket.id)
    # 100 kB is over the 64 kB frame limit: the server drops the connection unread.
    with pytest.raises(socketio.exceptions.SocketIOError):
        client.send(ticket.id, "x" * 100_000, "big-1")
    client.close()
    # A normal message still works on a new connection, and nothing of the big one was kept.
    again = ChatClient(srv.url, login_session(srv.url, customer.email)).connect()
    again.join(ticket.id)
    assert again.send(ticket.id, "small one", "small-1")["ok"]
    again.close()
    db.session.expire_all()
    bodies = db.session.scalars(select(Message.body)).all()
    assert bodies == ["small one"]
    assert db.session.scalar(select(func.count(Message.id))) == 1
