"""A real SMTP server (aiosmtpd) on a free 127.0.0.1 port that collects what it receives, and
the fixtures that share one per run: smtp_sink, mailbox."""

import asyncio
import email
import email.policy
import threading
import time
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from tests.support.net import free_port


class _Handler:
    def __init__(self, sink: "SmtpSink") -> None:
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.lower() in self.sink.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        if self.sink.reply_code:
            return self.sink.reply_code
        if self.sink.drop_after is not None and len(self.sink.messages) >= self.sink.drop_after:
            server.transport.close()  # the server goes away before answering this message
            return "421 4.3.2 going away"
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)  # a slow server: a message takes this long
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.sink.lock:
            self.sink.messages.append(msg)
        return "250 OK"


class SmtpSink:
    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()
        self.reply_code: str | None = None  # e.g. "451 try later" to refuse every message
        self.refuse: set[str] = set()  # recipients refused at RCPT TO (550), in lower case
        self.drop_after: int | None = None  # hang up on any message after this many
        self.delay = 0.0  # seconds before each message is accepted
        self._controller: Controller | None = None

    def start(self) -> "SmtpSink":
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} emails, got {len(self.messages)}")

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address.lower() in m["To"].lower()]

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()


def body_text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def body_html(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    return part.get_content() if part is not None else ""


@pytest.fixture(scope="session")
def smtp_sink():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def mailbox(smtp_sink):
    """The SMTP sink, emptied and running; restarted after a test that stopped it."""
    smtp_sink.clear()
    smtp_sink.reply_code = None
    smtp_sink.refuse.clear()
    smtp_sink.drop_after = None
    if smtp_sink._controller is None:
        smtp_sink.start()
    yield smtp_sink
    smtp_sink.reply_code = None
    smtp_sink.refuse.clear()
    smtp_sink.drop_after = None
    if smtp_sink._controller is None:
        smtp_sink.start()
