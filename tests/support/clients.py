"""Real python-socketio clients logged in through a live server's login form."""

import re
import threading
import time

import requests
import socketio

from tests.support.users import PASSWORD


def login_session(base: str, email: str, password: str = PASSWORD) -> requests.Session:
    s = requests.Session()
    page = s.get(base + "/login", timeout=5)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    r = s.post(
        base + "/login",
        data={"csrf_token": token, "email": email, "password": password},
        timeout=5,
        allow_redirects=False,
    )
    assert r.status_code == 302, r.text[:300]
    return s


class ChatClient:
    """One socket for one user on one server; collects message_created events."""

    def __init__(self, base: str, session: requests.Session):
        self.base = base
        self.session = session
        self.cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        self.received: list[dict] = []
        self.lock = threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("message_created", self._on_message)

    def _on_message(self, data):
        with self.lock:
            self.received.append(data)

    def connect(self) -> "ChatClient":
        self.sio.connect(
            self.base, headers={"Cookie": self.cookie}, transports=["websocket"], wait_timeout=10
        )
        return self

    def join(
        self,
        ticket_id: int,
        after_id: int = 0,
        *,
        after_seq: int | None = None,
        after_note_seq: int = 0,
    ) -> list[dict]:
        """join_ticket: the messages after `after_seq` (and `after_note_seq` for staff)
        when given, else after the id `after_id` (the catch-up of pages from before
        sequence numbers)."""
        data: dict = {"ticket_id": ticket_id}
        if after_seq is None:
            data["after_id"] = after_id
        else:
            data.update(after_seq=after_seq, after_note_seq=after_note_seq)
        ack = self.sio.call("join_ticket", data, timeout=10)
        assert ack["ok"], ack
        return ack["messages"]

    def send(self, ticket_id: int, body: str, client_id: str, *, internal: bool = False) -> dict:
        return self.sio.call(
            "send_message",
            {"ticket_id": ticket_id, "body": body, "client_id": client_id, "internal": internal},
            timeout=10,
        )

    def holdings(self, ticket_id: int, own_acks: list[dict]) -> dict[int, int]:
        """What the page ends with, as chat.js builds it: the public messages pushed to it
        and its own acknowledged ones, then a catch-up after the highest number up to which
        it holds every one. Returns {seq: message id}; a number seen as two messages fails."""
        held: dict[int, int] = {}

        def take(seq: int, message_id: int) -> None:
            assert held.setdefault(seq, message_id) == message_id, f"number {seq} twice"

        with self.lock:
            pushed = list(self.received)
        for m in pushed:
            take(m["seq"], m["id"])
        for ack in own_acks:
            take(ack["seq"], ack["id"])
        up_to = 0
        while up_to + 1 in held:
            up_to += 1
        for m in self.join(ticket_id, after_seq=up_to):
            take(m["seq"], m["id"])
        return held

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} messages, got {len(self.received)}")

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()

    def drop(self) -> None:
        """The connection breaks without a closing handshake, as a network drop does (and
        without close()'s wait for the server's closing frame)."""
        ws = getattr(self.sio.eio, "ws", None)
        if ws is not None:
            ws.abort()
        try:
            self.close()
        except Exception:  # already gone
            pass
