"""What gets the attention of someone working in another tab (static/js/notify.js,
lib/favicon.js, lib/dom.js): the favicon is served and linked; while the page is hidden a
message or an assignment puts a count in the title and a badge on the favicon, shows a
desktop notification and, for agents, plays a chime; the desktop-notification button asks
the browser only when clicked; the sound switch is remembered and silences the chime."""

import json

import pytest
from playwright.sync_api import expect

from ccr.models import Role
from ccr.services import tickets
from ccr.services.uow import commit
from tests.e2e.conftest import log_in
from tests.support.users import PASSWORD

pytestmark = pytest.mark.browser

# Test-side instruments, installed before the page's scripts: a hidden/shown switch for the
# tab (the page reads visibilityState and hasFocus), the chimes started (Web Audio
# oscillators), the desktop notifications shown and the permission requests. A browser
# that has not asked the person yet, or one they told to block the site, is played by
# window.__permission ("default", "denied") until the page asks; the context's permissions
# answer the request.
INSTRUMENTS = """
window.__beeps = 0;
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.__beeps += 1;
  return start.apply(this, args);
};
window.__notes = [];
window.__asked = 0;
if ("Notification" in window) {
  const Real = window.Notification;
  const ask = Real.requestPermission.bind(Real);
  const played = () => window.__permission && !sessionStorage.getItem("asked");
  window.Notification = new Proxy(Real, {
    construct(target, args) {
      window.__notes.push(args[0] + " | " + (args[1] && args[1].body));
      return Reflect.construct(target, args);
    },
    get(target, name) {
      if (name === "permission" && played()) return window.__permission;
      if (name === "requestPermission") {
        return (...a) => {
          window.__asked += 1;
          sessionStorage.setItem("asked", "1");
          return ask(...a);
        };
      }
      return Reflect.get(target, name);
    },
  });
}
window.__away = (away) => {
  const state = away ? "hidden" : "visible";
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
  Object.defineProperty(document, "hidden", { configurable: true, get: () => away });
  document.hasFocus = () => !away;
  document.dispatchEvent(new Event("visibilitychange"));
};
"""


@pytest.fixture
def people(app, make_user, backend, mailbox):
    if backend != "sqlite":
        pytest.skip("one backend is enough for the browser check")
    customer = make_user(Role.CUSTOMER, email="nora.notify@example.com", first_name="Nora")
    agent = make_user(Role.AGENT, email="sam.notify@example.com", first_name="Sam")
    admin = make_user(Role.ADMIN, email="ada.notify@example.com", first_name="Ada")
    ticket = tickets.open_ticket(actor=customer, subject="Modem", description="Offline")
    commit()
    tickets.assign_ticket(ticket, agent, actor=admin)
    commit()
    later = tickets.open_ticket(actor=customer, subject="Second line", description="Also down")
    commit()
    return {
        "customer": customer,
        "agent": agent,
        "admin": admin,
        "ticket": ticket.id,
        "later": later.id,
    }


def _page(browser, srv, user=None, permissions=(), permission=None):
    ctx = browser.new_context(base_url=srv.url, permissions=list(permissions))
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    page.add_init_script(f"window.__permission = {json.dumps(permission)};" + INSTRUMENTS)
    if user is not None:
        log_in(page, user.email, PASSWORD)
    return page


def _customer_writes(browser, srv, people, text: str):
    """The customer sends `text` on the ticket from their own browser; returns their page."""
    customer = _page(browser, srv, people["customer"])
    customer.goto(f"/customer/tickets/{people['ticket']}")
    expect(customer.locator("#chat-status")).to_have_attribute("data-state", "connected")
    customer.fill("#message-body", text)
    customer.press("#message-body", "Enter")
    return customer


def _favicon(page) -> str:
    return page.evaluate("document.querySelector('link[rel=icon]').getAttribute('href')")


def test_the_favicon_is_linked_and_served(live_server, browser, people):
    srv = live_server()
    page = _page(browser, srv)
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
    page.goto("/login")
    log_in(page, people["customer"].email, PASSWORD)
    page.goto(f"/customer/tickets/{people['ticket']}")
    href = _favicon(page)
    assert href == "/static/favicon.svg"
    answer = page.request.get(href)
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("image/svg+xml")
    # A client that asks for /favicon.ico without reading the page gets it too.
    icon = page.request.get("/favicon.ico")
    assert (icon.status, icon.url.endswith(href)) == (200, True)
    assert missing == []


def test_desktop_notifications_are_asked_for_on_click_only(live_server, browser, people):
    srv = live_server()
    page = _page(browser, srv, people["customer"], permission="default")
    page.goto("/profile")
    button = page.locator("nav [data-notify-enable]")
    expect(button).to_be_visible()
    expect(page.locator("[data-notify-state]")).to_have_text("Desktop notifications are off.")
    assert page.evaluate("[window.__asked, Notification.permission]") == [0, "default"]
    page.context.grant_permissions(["notifications"])  # the person says yes to the prompt
    button.click()
    expect(page.locator("[data-notify-state]")).to_have_text("Desktop notifications are on.")
    expect(page.locator("#notify-said")).to_have_text("Desktop notifications are on.")
    assert page.evaluate("window.__asked") == 1
    expect(button).to_be_hidden()
    page.reload()  # decided: no button, the state stays shown
    expect(page.locator("[data-notify-enable]")).to_have_count(2)
    expect(page.locator("[data-notify-enable]:visible")).to_have_count(0)
    expect(page.locator("[data-notify-state]")).to_have_text("Desktop notifications are on.")

    # Blocked in the browser: no button, and the page says where to change it.
    blocked = _page(browser, srv, people["agent"], permission="denied")
    blocked.goto("/profile")
    expect(blocked.locator("[data-notify-state]")).to_contain_text("blocked")
    expect(blocked.locator("[data-notify-enable]:visible")).to_have_count(0)


def test_an_agent_away_from_the_tab_is_told_of_messages_and_assignments(
    live_server, browser, people
):
    srv = live_server()
    agent = _page(browser, srv, people["agent"], permissions=["notifications"])
    agent.goto(f"/agent/tickets/{people['ticket']}")
    expect(agent.locator("#chat-status")).to_have_attribute("data-state", "connected")
    expect(agent.locator("#sound-toggle")).to_be_checked()  # on by default for agents
    title = agent.title()
    agent.evaluate("window.__away(true)")

    _customer_writes(browser, srv, people, "Still offline after the reboot")

    agent.wait_for_function(f"() => document.title === {json.dumps('(1) ' + title)}")
    icon = agent.evaluate("decodeURIComponent(document.querySelector('link[rel=icon]').href)")
    assert icon.startswith("data:image/svg+xml,<svg")
    assert ">1</text>" in icon
    assert agent.evaluate("window.__beeps") > 0
    assert agent.evaluate("window.__notes") == [
        "New message from Nora Tester | Still offline after the reboot"
    ]
    agent.evaluate("window.__away(false)")  # back on the tab: count and badge go
    expect(agent).to_have_title(title)
    assert _favicon(agent) == "/static/favicon.svg"

    # On the dashboard, away again: an admin assigns the second ticket to this agent.
    agent.goto("/agent/")
    agent.wait_for_load_state("networkidle")
    title = agent.title()
    agent.evaluate("window.__away(true)")
    admin = _page(browser, srv, people["admin"])
    admin.goto(f"/admin/tickets/{people['later']}")
    admin.select_option("#assign-ticket-" + str(people["later"]), label="Sam Tester")
    admin.click("#assign-ticket-" + str(people["later"]) + " ~ button")
    agent.wait_for_function(f"() => document.title === {json.dumps('(1) ' + title)}")
    assert agent.evaluate("window.__beeps") > 0
    assert agent.evaluate("window.__notes").pop().startswith("Assigned to you: CCR-")


def test_the_sound_switch_is_remembered_and_silences_the_chime(live_server, browser, people):
    srv = live_server()
    agent = _page(browser, srv, people["agent"])
    agent.goto(f"/agent/tickets/{people['ticket']}")
    switch = agent.locator("#sound-toggle")
    expect(switch).to_be_checked()
    switch.uncheck()
    agent.reload()
    expect(agent.locator("#chat-status")).to_have_attribute("data-state", "connected")
    expect(switch).not_to_be_checked()
    agent.evaluate("window.__away(true)")

    customer = _customer_writes(browser, srv, people, "Hello?")
    agent.wait_for_function("() => document.title.startsWith('(1) ')")
    assert agent.evaluate("window.__beeps") == 0

    switch.check()  # switching it on plays the chime once, so the agent hears what it is
    assert agent.evaluate("window.__beeps") > 0
    agent.reload()
    expect(agent.locator("#sound-toggle")).to_be_checked()
    # Admins have the switch too, off until they turn it on; customers have none.
    admin = _page(browser, srv, people["admin"])
    admin.goto("/admin/")
    expect(admin.locator("#sound-toggle")).not_to_be_checked()
    expect(customer.locator("#sound-toggle")).to_have_count(0)
