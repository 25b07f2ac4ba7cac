"""Issue 18 item 12: the app served on another port has working live chat with only
CCR_PORT set (even when CCR_BASE_URL still names the old port, in development), and a page
whose address is not an allowed origin says so instead of "Reconnecting…" for ever."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in
from tests.support.users import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def convo(scene):
    return scene(customer={"first_name": "Cara"}, agent={"first_name": "Sam"})


def _chat_page(srv, new_page, user, ticket_id, role="customer"):
    page = new_page(srv.url)
    log_in(page, user.email, PASSWORD)
    page.goto(f"/{role}/tickets/{ticket_id}")
    return page


@pytest.mark.parametrize(
    "base_url",
    [None, "http://127.0.0.1:5000"],
    ids=["only-CCR_PORT", "stale-CCR_BASE_URL"],
)
def test_chat_works_on_another_port(live_server, new_page, convo, base_url):
    srv = live_server(CCR_BASE_URL=base_url)  # CCR_PORT is the free port it serves on
    assert srv.port != 5000
    cust = _chat_page(srv, new_page, convo.customer, convo.ticket.id)
    agt = _chat_page(srv, new_page, convo.agent, convo.ticket.id, "agent")
    for page in (cust, agt):
        expect(page.locator("#chat-status")).to_have_attribute("data-state", "connected")
    cust.fill("#message-body", "Hello from another port")
    cust.press("#message-body", "Enter")
    expect(agt.locator("#messages")).to_contain_text("Hello from another port")


def test_a_refused_origin_is_explained_on_the_page(live_server, new_page, convo):
    # Production allows only CCR_BASE_URL and CCR_SOCKET_ORIGINS: here neither is this page's.
    srv = live_server(
        CCR_ENV="production",
        CCR_ASYNC_MODE="threading",
        CCR_BASE_URL="https://ccr.example.com",
        SESSION_COOKIE_SECURE="true",  # Chromium keeps secure cookies on http://127.0.0.1
    )
    page = _chat_page(srv, new_page, convo.customer, convo.ticket.id)
    status = page.locator("#chat-status")
    expect(status).to_have_attribute("data-state", "blocked")
    expect(status).to_contain_text(
        f"Live updates are blocked: this page's address ({srv.url}) is not an allowed origin"
    )
    expect(status).to_contain_text("CCR_BASE_URL or CCR_SOCKET_ORIGINS")
    page.wait_for_timeout(3000)  # no retry brings "Reconnecting…" back
    expect(status).not_to_contain_text("Reconnecting")
    expect(status).to_have_attribute("data-state", "blocked")
