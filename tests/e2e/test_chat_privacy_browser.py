"""What one account leaves in the browser and writes as staff stays there: unsent messages are
kept per user and cleared at logout, and typing an internal note is shown to staff only."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from ccr.extensions import db
from ccr.models import Message
from tests.e2e.conftest import log_in
from tests.support.users import PASSWORD

pytestmark = pytest.mark.browser

NOTE = "Customer is on the fraud watch list"
SOCKET = re.compile(r"/socket\.io/\?")  # the connection, not the vendored client script
PENDING_KEYS = "() => Object.keys(localStorage).filter((k) => k.startsWith('ccr:pending:'))"


@pytest.fixture
def ticket_scene(scene):
    s = scene(
        customer={"first_name": "Cara", "email": "cara@example.com"},
        agent={"first_name": "Sam", "email": "sam@example.com"},
        subject="Router blinks",
    )
    return s.ticket.id, s.customer, s.agent, s.admin


def connected(page):
    expect(page.locator("#chat-status")).to_have_attribute("data-state", "connected")


@pytest.mark.parametrize("session_ends_by", ["logout", "cookies_gone"])
def test_an_unsent_note_never_reaches_the_next_account_in_the_same_browser(
    live_server, new_page, ticket_scene, session_ends_by
):
    ticket_id, customer, agent, _ = ticket_scene
    srv = live_server()
    page = new_page(srv.url)
    context = page.context
    log_in(page, agent.email, PASSWORD)
    # The chat cannot connect (websocket or polling), so the note stays unsent.
    page.route_web_socket(SOCKET, lambda ws: ws.close())
    page.route(SOCKET, lambda route: route.abort())
    page.goto(f"/agent/tickets/{ticket_id}")
    page.check("#message-internal")
    page.fill("#message-body", NOTE)
    page.press("#message-body", "Enter")
    page.wait_for_selector("#messages li.mine[data-state=failed]")
    assert len(page.evaluate(PENDING_KEYS)) == 1  # kept for this agent's next visit

    if session_ends_by == "logout":
        page.click("nav button:has-text('Log out')")
        page.wait_for_url("**/login")
        assert page.evaluate(PENDING_KEYS) == []
    else:  # the session ended without the logout form (it expired, or cookies were cleared)
        context.clear_cookies()
    page.close()
    page = context.new_page()  # same browser profile, without the blocked connection
    log_in(page, customer.email, PASSWORD)
    page.goto(f"/customer/tickets/{ticket_id}")
    connected(page)
    expect(page.locator("#messages")).not_to_contain_text(NOTE)
    assert page.locator("#messages li.mine").count() == 0
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Message.id))) == 0


def test_typing_an_internal_note_is_shown_to_staff_but_not_to_the_customer(
    live_server, new_page, ticket_scene
):
    ticket_id, customer, agent, admin = ticket_scene
    srv = live_server()
    pages = []
    for user, path in ((customer, "customer"), (agent, "agent"), (admin, "admin")):
        page = new_page(srv.url)
        log_in(page, user.email, PASSWORD)
        page.goto(f"/{path}/tickets/{ticket_id}")
        connected(page)
        pages.append(page)
    cust, agt, adm = pages
    cust.evaluate(
        """() => {
          const el = document.getElementById("typing-indicator");
          window.typingShown = 0;
          new MutationObserver(() => { if (!el.hidden) window.typingShown += 1; })
            .observe(el, { attributes: true, childList: true, characterData: true, subtree: true });
        }"""
    )

    agt.check("#message-internal")
    agt.type("#message-body", "quiet")
    adm.wait_for_selector("#typing-indicator:not([hidden])")  # staff are told
    assert "Agent Sam" in adm.inner_text("#typing-indicator")
    # A public message from the same socket reaches the customer after any typing push would.
    agt.uncheck("#message-internal")
    agt.evaluate(
        """() => {
          document.getElementById("message-body").value = "Checking your line now";
          document.getElementById("message-form").requestSubmit();
        }"""
    )
    cust.wait_for_selector("#messages li.message >> text=Checking your line now")
    assert cust.evaluate("() => window.typingShown") == 0
    expect(cust.locator("#typing-indicator")).to_be_hidden()
