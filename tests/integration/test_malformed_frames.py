"""Malformed frames over a real websocket (and long-polling) to the live server, a fixed
corpus and a seeded Hypothesis fuzz: bad JSON, wrong shapes at the engine.io and Socket.IO
levels, reserved event names and binary junk are refused quietly (no traceback in the
server's log), store nothing, and leave the server serving everyone else."""

import io
import json

import pytest
import websocket
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ccr.extensions import db, socketio
from ccr.models import Message, Role
from ccr.services import tickets
from ccr.services.uow import commit
from tests.support.clients import ChatClient, login_session

ENGINE_IO = ["", "x", "9", "4", "6junk", "2probe-not-a-ping\x00", b"\x00\xff\xfe junk", b""]
SOCKET_IO = [
    "42",
    '42["send_message"',
    '42{"ticket_id": 1}',
    "42[]",
    "42[123]",
    "42[null]",
    '42["connect"]',
    '42["disconnect"]',
    '42["connect", {"ticket_id": 1}]',
    '42["send_message", {"ticket_id": 1}, 5, 6]',
    '42/nowhere,["send_message", {}]',
    '42999999999999999999999["send_message", {}]',
    "43",
    "43x[]",
    '44{"message": "x"}',
    "49",
    '45-["send_message", {"_placeholder": true, "num": 0}]',
    '451-["send_message", {"_placeholder": true, "num": 0}]',
    '461-[{"_placeholder": true, "num": 0}]',
    "40/nowhere,",
    "41/nowhere,",
    "40{broken",
    '4\u00002["typing"]',
]


def open_socket(url: str, cookie: str) -> websocket.WebSocket:
    ws = websocket.create_connection(
        url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket",
        header=[f"Cookie: {cookie}"],
        origin=url,
        timeout=5,
    )
    assert ws.recv().startswith("0")  # engine.io open
    ws.send("40")
    while (reply := ws.recv()) == "2":
        ws.send("3")
    assert reply.startswith("40"), reply
    return ws


def send_frame(ws: websocket.WebSocket, frame: str | bytes) -> None:
    if isinstance(frame, bytes):
        ws.send_binary(frame)
    else:
        ws.send(frame)


def still_answers(ws: websocket.WebSocket, ticket_id: int) -> bool:
    """Whether this socket still acks an event (False once the server closed it)."""
    try:
        ws.send("42900" + json.dumps(["join_ticket", {"ticket_id": ticket_id}]))
        for _ in range(20):
            reply = ws.recv()
            if reply == "2":
                ws.send("3")
            elif reply.startswith("43900"):
                return json.loads(reply[5:])[0]["ok"] is True
        return False
    except (websocket.WebSocketException, OSError):
        return False


@pytest.fixture
def live_chat(app, live_server, make_user, mailbox):
    customer = make_user(Role.CUSTOMER, email="frames@example.com")
    ticket = tickets.open_ticket(actor=customer, subject="Frames", description="junk")
    commit()
    srv = live_server()
    session = login_session(srv.url, customer.email)
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    return srv, session, cookie, ticket.id


@pytest.mark.parametrize("frames", [ENGINE_IO, SOCKET_IO], ids=["engine.io", "socket.io"])
def test_malformed_frames_are_refused_without_a_traceback_and_store_nothing(live_chat, frames):
    srv, session, cookie, ticket_id = live_chat
    for frame in frames:
        ws = open_socket(srv.url, cookie)
        try:
            send_frame(ws, frame)
            ws.settimeout(1)  # some frames leave the socket waiting for more: no need to wait
            still_answers(ws, ticket_id)  # answered, closed or waiting: whichever, no traceback
        finally:
            ws.close()

    # The server still serves a well-formed client, and kept nothing of the junk.
    client = ChatClient(srv.url, session).connect()
    client.join(ticket_id)
    assert client.send(ticket_id, "after the junk", "ok-1")["ok"]
    client.close()
    db.session.expire_all()
    assert db.session.scalars(select(Message.body)).all() == ["after the junk"]
    assert db.session.scalar(select(func.count(Message.id))) == 1
    log = srv.log()
    assert "Traceback" not in log, log[-4000:]
    assert "handler error" not in log and "Unknown receive error" not in log


def test_a_client_cannot_run_the_disconnect_handler_by_naming_the_event(live_chat):
    srv, session, cookie, ticket_id = live_chat
    ws = open_socket(srv.url, cookie)
    try:
        assert still_answers(ws, ticket_id)
        send_frame(ws, '42["disconnect"]')
        send_frame(ws, '42["connect", {}]')
        assert still_answers(ws, ticket_id)  # the same socket, still joined and served
    finally:
        ws.close()
    assert "Traceback" not in srv.log()


POLLING = [
    b"x",
    b"\xff\xfe\x00",
    b"",
    b"d=",
    b"d=x",
    b"4",
    b"1\x1ex",
    b"b!!!",
    "42[\u00a0".encode(),
]
POLLING_SOCKET_IO = [b'42["send_message"', b"42[]", b'42["disconnect"]', b"49"]


def polling_session(url: str, session):
    """An engine.io long-polling session of this logged-in user, connected to "/"."""
    base = url + "/socket.io/?EIO=4&transport=polling"
    opened = session.get(base, headers={"Origin": url}, timeout=5)
    sid = json.loads(opened.text[1:])["sid"]
    poll = f"{base}&sid={sid}"
    assert session.post(poll, data=b"40", headers={"Origin": url}, timeout=5).status_code == 200
    assert session.get(poll, headers={"Origin": url}, timeout=5).text.startswith("40")
    return poll


def test_malformed_long_polling_bodies_are_refused_without_a_traceback(live_chat):
    srv, session, _cookie, ticket_id = live_chat
    for body in POLLING + POLLING_SOCKET_IO:
        poll = polling_session(srv.url, session)
        answer = session.post(poll, data=body, headers={"Origin": srv.url}, timeout=5)
        assert answer.status_code in (200, 400), (body, answer.status_code)

    client = ChatClient(srv.url, session).connect()
    client.join(ticket_id)
    assert client.send(ticket_id, "after the junk", "ok-1")["ok"]
    client.close()
    log = srv.log()
    assert "Traceback" not in log, log[-4000:]
    assert "handler error" not in log


@pytest.mark.parametrize("length", ["+2", "2.0", "-1", "x"])
def test_a_polling_post_without_a_valid_content_length_is_refused_unread(app, length):
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": length,
        "QUERY_STRING": "EIO=4&transport=polling&sid=nosuch",
        "wsgi.input": io.BytesIO(b"40"),
    }
    statuses = []
    body = socketio.server.eio.handle_request(environ, lambda status, _h: statuses.append(status))
    assert statuses == ["400 BAD REQUEST"] and body == [b"Bad request"]


frame_heads = st.sampled_from(["", "0", "1", "2", "3", "4", "5", "6", "b", "40", "41", "42", "43"])
frame_heads |= st.sampled_from(["44", "45", "46", "451-", "42/nowhere,", "4299", "42/,"])
frame_tails = st.one_of(
    st.text(max_size=30),
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=5,
    ).map(json.dumps),
)
frames = st.one_of(st.tuples(frame_heads, frame_tails).map("".join), st.binary(max_size=20))


def test_fuzzed_frames_never_log_a_traceback(live_chat):
    srv, session, cookie, ticket_id = live_chat
    sockets = [open_socket(srv.url, cookie)]

    @settings(max_examples=80, derandomize=True, deadline=None, database=None)
    @given(frame=frames)
    def one_frame(frame):
        ws = sockets[-1]
        send_frame(ws, frame)
        ws.settimeout(0.5)
        if not still_answers(ws, ticket_id):  # closed by the server, or waiting for more
            ws.close()
            sockets.append(open_socket(srv.url, cookie))

    one_frame()
    for ws in sockets:
        ws.close()
    client = ChatClient(srv.url, session).connect()
    client.join(ticket_id)
    assert client.send(ticket_id, "after the fuzz", "ok-1")["ok"]
    client.close()
    log = srv.log()
    assert "Traceback" not in log, log[-4000:]
    assert "handler error" not in log and "Unknown receive error" not in log
