"""Live chat in two real browsers: instant delivery, typing, read state, offline catch-up,
read-only after close, and messages that render as text."""

import pytest
from playwright.sync_api import expect

from ccr.extensions import db
from ccr.models import Ticket
from ccr.services import tickets
from ccr.services.uow import commit
from tests.e2e.conftest import log_in
from tests.support.clients import ChatClient, login_session
from tests.support.users import PASSWORD

pytestmark = pytest.mark.browser

XSS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert('x')</script>",
    '"><svg onload=alert(1)>',
    "javascript:alert(1)",
    "<iframe src=javascript:alert(1)>",
]


@pytest.fixture
def chat(app, live_server, scene, new_page, mailbox):
    s = scene(
        customer={"first_name": "Cara", "email": "cara@example.com"},
        agent={"first_name": "Sam", "email": "sam@example.com"},
        subject="Router blinks",
        description="Red light",
    )
    customer, agent, admin, ticket = s.customer, s.agent, s.admin, s.ticket
    srv = live_server()
    cust = new_page(srv.url)
    log_in(cust, customer.email, PASSWORD)
    agt = new_page(srv.url)
    log_in(agt, agent.email, PASSWORD)
    cust.goto(f"/customer/tickets/{ticket.id}")
    agt.goto(f"/agent/tickets/{ticket.id}")
    for page in (cust, agt):
        expect(page.locator("#chat-status")).to_have_attribute("data-state", "connected")
    return ticket.id, cust, agt, admin


def say(page, text):
    page.fill("#message-body", text)
    page.press("#message-body", "Enter")


def bodies(page):
    return page.locator("#messages li.message .body").all_inner_texts()


def test_messages_appear_on_the_other_screen_with_typing_and_read_state(chat):
    ticket_id, cust, agt, _ = chat
    agt.fill("#message-body", "Let me check")
    agt.type("#message-body", ".")
    cust.wait_for_selector("#typing-indicator:not([hidden])")
    assert "Agent Sam" in cust.inner_text("#typing-indicator")

    say(cust, "Hello, it is still red")
    agt.wait_for_selector("#messages li.message >> text=Hello, it is still red")
    # The agent's open page marks it read; the customer sees Sent then Read.
    cust.wait_for_selector("#messages li.mine[data-state=read]")
    say(agt, "Please unplug it for 10 seconds")
    cust.wait_for_selector("#messages li.message >> text=Please unplug it for 10 seconds")
    assert (
        bodies(cust) == bodies(agt) == ["Hello, it is still red", "Please unplug it for 10 seconds"]
    )


def test_an_offline_agent_gets_every_missed_message_once_in_order(chat):
    ticket_id, cust, agt, _ = chat
    agt.context.set_offline(True)
    agt.wait_for_selector("#chat-status[data-state=reconnecting]", timeout=30_000)
    for i in range(3):
        say(cust, f"missed {i}")
    expect(cust.locator("#messages li.mine[data-state=sent]")).to_have_count(3)
    agt.context.set_offline(False)
    expect(agt.locator("#messages li.message")).to_have_count(3, timeout=30_000)
    assert bodies(agt) == ["missed 0", "missed 1", "missed 2"]


def test_a_message_written_offline_is_sent_on_reconnect(chat):
    ticket_id, cust, agt, _ = chat
    cust.context.set_offline(True)
    cust.wait_for_selector("#chat-status[data-state=reconnecting]", timeout=30_000)
    say(cust, "typed while offline")
    cust.wait_for_selector("#messages li.mine[data-state=failed]")
    cust.context.set_offline(False)
    agt.wait_for_selector("#messages li.message >> text=typed while offline", timeout=30_000)
    cust.wait_for_selector("#messages li.mine[data-state=sent], #messages li.mine[data-state=read]")
    assert bodies(agt) == ["typed while offline"]


def test_xss_payloads_in_chat_render_as_text(chat):
    ticket_id, cust, agt, _ = chat
    for payload in XSS:
        say(cust, payload)
    expect(agt.locator("#messages li.message")).to_have_count(len(XSS))
    assert bodies(agt) == XSS
    agt.reload()
    assert bodies(agt) == XSS
    assert (
        agt.locator("#messages img, #messages script, #messages svg, #messages iframe").count() == 0
    )


def test_a_closed_tickets_conversation_is_read_only(chat, app):
    ticket_id, cust, agt, admin = chat
    tickets.change_status(db.session.get(Ticket, ticket_id), "close", actor=admin)
    commit()
    for page in (cust, agt):
        page.reload()
        expect(page.locator("#chat-closed")).to_be_visible()
        assert page.locator("#message-form").count() == 0


def test_a_gap_in_the_pushes_is_filled_at_once(app, live_server, scene, new_page, mailbox):
    """Two processes with no message queue between them (as when Redis is down): the
    agent's first message is saved on the other process and its push never reaches the
    customer's page. The second one's push arrives numbered 2; the page holds no 1, so it
    asks for it at once (not at its periodic catch-up, 20 s later) and shows both in order."""
    s = scene(customer={"email": "gap-cust@example.com"}, agent={"email": "gap-agent@example.com"})
    env = {"CCR_OUTBOX_DISPATCHER": "off"}
    one, two = live_server(**env), live_server(**env)
    cust = new_page(one.url)
    log_in(cust, s.customer.email, PASSWORD)
    cust.goto(f"/customer/tickets/{s.ticket.id}")
    expect(cust.locator("#chat-status")).to_have_attribute("data-state", "connected")
    elsewhere = ChatClient(two.url, login_session(two.url, s.agent.email)).connect()
    here = ChatClient(one.url, elsewhere.session).connect()
    try:
        assert elsewhere.send(s.ticket.id, "pushed nowhere", "g1")["seq"] == 1
        assert here.send(s.ticket.id, "pushed to the page", "g2")["seq"] == 2
        expect(cust.locator("#messages li.message")).to_have_count(2, timeout=10_000)
        assert bodies(cust) == ["pushed nowhere", "pushed to the page"]
        seqs = cust.locator("#messages li.message").evaluate_all(
            "els => els.map(e => e.dataset.seq)"
        )
        assert seqs == ["1", "2"]
    finally:
        elsewhere.drop()
        here.drop()
