"""The pages' ES modules in a real Chromium under the strict CSP: no violation and no script
error on any role's dashboard and ticket page; a live message has the server's markup
(templates/_message.html); a session ended elsewhere goes to the login URL the page names;
the chat form still works without JavaScript."""

import pytest
from playwright.sync_api import expect

from ccr.models import Role
from ccr.services import tickets
from ccr.services.messages import post_message
from ccr.services.uow import commit
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.browser
# Given to make_user explicitly, so the test does not depend on where the suite keeps its own.
PASSWORD = "scripts under a strict policy"

# Collects what the console does not always say: every CSP violation event of the page.
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
document.addEventListener("ccr:live-refreshed", () => { window.__ccrRefreshed = true; });
"""

# A message element's shape: the tags and classes of its elements, its id, its visible text
# with the delivery state ("Sent", "Read": the sender's page knows it live only) left out.
SHAPE = """(li) => {
  const copy = li.cloneNode(true);
  copy.querySelector(".state")?.replaceChildren();
  return {
    id: li.dataset.id,
    classes: li.className,
    tree: [...li.querySelectorAll("*")].map((el) => el.tagName + "." + el.className).join(" "),
    text: copy.textContent.replace(/\\s+/g, " ").trim(),
  };
}"""


@pytest.fixture
def people(app, make_user, mailbox):
    def user(role, first_name, email):
        return make_user(role, email=email, password=PASSWORD, first_name=first_name)

    customer = user(Role.CUSTOMER, "Cara", "cara.js@example.com")
    agent = user(Role.AGENT, "Sam", "sam.js@example.com")
    admin = user(Role.ADMIN, "Ada", "ada.js@example.com")
    ticket = tickets.open_ticket(actor=customer, subject="Modem", description="Offline")
    commit()
    tickets.assign_ticket(ticket, agent, actor=admin)
    commit()
    post_message(ticket, customer, "Still offline", "js1")
    post_message(ticket, agent, "Checking the line", "js2")
    post_message(ticket, agent, "Line test scheduled", "js3", internal=True)
    commit()
    return {"customer": customer, "agent": agent, "admin": admin, "ticket_id": ticket.id}


def _watched(new_page, url, problems):
    page = new_page(url)
    page.add_init_script(WATCH_CSP)
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" and "Failed to load resource" not in msg.text
            else None
        ),
    )
    page.on(
        "response",  # a module that fails to load stops its whole module graph
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    return page


def test_no_csp_violation_or_script_error_on_any_roles_pages(live_server, new_page, people):
    srv = live_server()
    ticket_id = people["ticket_id"]
    problems: list[str] = []
    for role in ("customer", "agent", "admin"):
        page = _watched(new_page, srv.url, problems)
        log_in(page, people[role].email, PASSWORD)
        page.goto(f"/{role}/")
        # live-list.js connected and swapped the page's regions once
        page.wait_for_function("() => window.__ccrRefreshed === true")
        assert page.evaluate("window.__csp") == [], role
        page.goto(f"/{role}/tickets/{ticket_id}")
        expect(page.locator("#chat-status")).to_have_attribute("data-state", "connected")
        expect(page.locator("#messages li.message")).to_have_count(2 if role == "customer" else 3)
        assert page.evaluate("window.__csp") == [], role
    assert problems == [], problems


def test_a_live_message_has_the_markup_the_server_renders(live_server, new_page, people):
    srv = live_server()
    ticket_id = people["ticket_id"]
    pages = {}
    for role in ("customer", "agent", "admin"):
        page = new_page(srv.url)
        log_in(page, people[role].email, PASSWORD)
        page.goto(f"/{role}/tickets/{ticket_id}")
        expect(page.locator("#chat-status")).to_have_attribute("data-state", "connected")
        pages[role] = page
    agt = pages["agent"]
    agt.fill("#message-body", "<b>Reboot</b> the modem")
    agt.press("#message-body", "Enter")
    agt.check("#message-internal")
    agt.fill("#message-body", "Customer line is noisy")
    agt.press("#message-body", "Enter")
    expect(agt.locator("#messages li.mine[data-id]")).to_have_count(4)
    expect(pages["admin"].locator("#messages li.message")).to_have_count(5)
    expect(pages["customer"].locator("#messages li.message")).to_have_count(3)

    def shapes(page):
        items = page.locator("#messages li.message")
        return [items.nth(i).evaluate(SHAPE) for i in range(items.count())]

    live = {role: shapes(page) for role, page in pages.items()}
    for role, page in pages.items():
        page.reload()
        expect(page.locator("#chat-status")).to_have_attribute("data-state", "connected")
        assert shapes(page) == live[role], role
    internal = pages["admin"].locator("#messages li.internal")
    expect(internal).to_have_count(2)
    expect(internal.last).to_contain_text("Internal note")
    assert pages["customer"].locator("#messages .internal-flag").count() == 0
    assert pages["customer"].locator("#messages b").count() == 0


def test_a_session_ended_elsewhere_goes_to_the_login_url_of_the_page(live_server, new_page, people):
    srv = live_server()
    ticket_id = people["ticket_id"]
    watching = new_page(srv.url)
    log_in(watching, people["customer"].email, PASSWORD)
    watching.goto(f"/customer/tickets/{ticket_id}")
    expect(watching.locator("#chat-status")).to_have_attribute("data-state", "connected")
    # The script takes the URL from the page (base.html: url_for('auth.login')).
    assert watching.evaluate("document.body.dataset.loginUrl") == "/login"
    watching.evaluate("document.body.dataset.loginUrl = '/login?ended=1'")

    other = new_page(srv.url)
    log_in(other, people["customer"].email, PASSWORD)
    other.click("button:has-text('Log out')")
    watching.wait_for_url("**/login?ended=1")


def test_the_chat_form_works_without_javascript(live_server, browser, people):
    srv = live_server()
    ctx = browser.new_context(base_url=srv.url, java_script_enabled=False)
    try:
        page = ctx.new_page()
        page.set_default_timeout(10_000)
        log_in(page, people["customer"].email, PASSWORD)
        page.goto(f"/customer/tickets/{people['ticket_id']}")
        page.fill("#message-body", "Sent by the plain form")
        page.click("#message-form button[type=submit]")
        page.wait_for_load_state()
        expect(page.locator("#messages li.message.mine").last).to_contain_text(
            "Sent by the plain form"
        )
    finally:
        ctx.close()
