"""The three roles' journeys in three browser contexts against a live server and a real
SMTP sink (issue: proof in the real world). Codes come from the emails, never the database."""

import re
import time

import pytest
from playwright.sync_api import expect

from ccr.models import Role
from tests.e2e.conftest import log_in
from tests.support.smtp import body_text
from tests.support.users import PASSWORD

pytestmark = pytest.mark.browser
NEW_PASSWORD = "another quiet harbour"
XSS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert('x')</script>",
    '"><svg onload=alert(1)>',
]


def _wait_mail(mailbox, address, subject_word, after=0, timeout=30.0):
    """The newest email to address whose subject has subject_word, among those after the
    first `after` emails to that address; waits for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hits = [
            m for m in mailbox.to(address)[after:] if subject_word.lower() in m["Subject"].lower()
        ]
        if hits:
            return hits[-1]
        time.sleep(0.1)
    raise AssertionError(f"no {subject_word!r} email to {address}")


def _code(mailbox, address, subject_word, after=0):
    msg = _wait_mail(mailbox, address, subject_word, after)
    return re.search(r"\b(\d{6})\b", body_text(msg)).group(1)


def _emails_to(mailbox, address):
    return [m for m in mailbox.messages if address in m["To"]]


def test_customer_admin_and_agent_journeys(
    app, live_server, make_user, new_page, mailbox, output_dir
):
    admin = make_user(Role.ADMIN, email="ada@example.com", first_name="Ada")
    agent = make_user(Role.AGENT, email="sam@example.com", first_name="Sam")
    srv = live_server()

    # 1. A newcomer registers, reads the code from the email, verifies and is signed in.
    cus = new_page(srv.url)
    cus.goto("/register")
    cus.get_by_label("First name").fill("Nora")
    cus.get_by_label("Last name").fill("Newcomer")
    cus.get_by_label("Email").fill("nora@example.com")
    cus.get_by_label("Password", exact=True).fill(PASSWORD)
    cus.get_by_label("Repeat the password").fill(PASSWORD)
    cus.click("text=Create account")
    code = _code(mailbox, "nora@example.com", "verif")
    cus.get_by_label("Verification code").fill(code)
    assert cus.locator("#email").input_value() == "nora@example.com"  # carried over
    cus.click("button:has-text('Verify')")
    expect(cus.locator("h1")).to_contain_text("My tickets")

    adm = new_page(srv.url)
    log_in(adm, admin.email, PASSWORD)
    adm.goto("/admin/")
    agt = new_page(srv.url)
    log_in(agt, agent.email, PASSWORD)
    agt.goto("/agent/")

    # 2. The customer raises a ticket; it appears on the admin's dashboard without a reload.
    cus.goto("/customer/tickets/new")
    cus.fill("input[name=subject]", "Router keeps rebooting")
    cus.fill("textarea[name=description]", "Every ten minutes.\nSince Monday.")
    cus.click("text=Raise ticket")
    expect(cus.locator("h1")).to_contain_text("CCR-")
    ticket_id = int(cus.url.rstrip("/").rsplit("/", 1)[1])
    row = adm.locator(f"tr[data-ticket-id='{ticket_id}']")
    expect(row).to_contain_text("Router keeps rebooting")

    # 3. The admin assigns it from the dropdown; the agent's queue and the customer's page
    #    follow without a reload; both get their emails.
    agent_mails = len(mailbox.to(agent.email))
    customer_mails = len(mailbox.to("nora@example.com"))
    adm.locator("#bulk-agent").select_option(label=agent.full_name)
    row.locator("button[name=only]").click()
    expect(agt.locator(f"tr[data-ticket-id='{ticket_id}']")).to_contain_text("Router")
    expect(cus.locator("#ticket-agent")).to_have_text(agent.full_name)
    _wait_mail(mailbox, agent.email, "assigned", after=agent_mails)
    _wait_mail(mailbox, "nora@example.com", "agent", after=customer_mails)

    # 4. Chat both ways, live.
    agt.goto(f"/agent/tickets/{ticket_id}")
    adm.goto(f"/admin/tickets/{ticket_id}")
    for page in (agt, adm):
        expect(page.locator("#chat-status")).to_have_attribute("data-state", "connected")
    cus.fill("#message-body", "It just rebooted again")
    cus.press("#message-body", "Enter")
    expect(agt.locator("#messages")).to_contain_text("It just rebooted again")

    # 6. An internal note reaches the admin live; the customer never sees it.
    agt.check("#message-internal")
    agt.fill("#message-body", "Firmware 2.1 bug, known issue")
    agt.press("#message-body", "Enter")
    expect(adm.locator("#messages li.internal")).to_contain_text("Firmware 2.1 bug")
    agt.fill("#message-body", "Please update the firmware")
    agt.press("#message-body", "Enter")
    expect(cus.locator("#messages")).to_contain_text("Please update the firmware")
    cus.reload()
    assert "Firmware 2.1" not in cus.content()

    # 7. The agent resolves; the customer rates 4 with a comment and closes; the chat is
    #    read-only; the rating shows on the agent's and the admin's pages.
    agt.click("button:has-text('Resolve')")
    expect(agt.locator("#ticket-status")).to_have_text("Resolved")
    cus.reload()
    cus.check("#rate-form input[value='4']")
    cus.fill("#rate-form textarea", "Quick fix, thanks")
    cus.click("text=Send rating")
    cus.click("text=Close ticket…")
    cus.click("text=Yes, close the ticket")
    expect(cus.locator("#chat-closed")).to_be_visible()
    for page in (agt, adm):
        page.reload()
        expect(page.locator("main")).to_contain_text("4 / 5 — Quick fix, thanks")
        expect(page.locator("#chat-closed")).to_be_visible()
    cus.screenshot(path=str(output_dir / "journey-customer-closed.png"), full_page=True)

    # 8. The customer forgets the password, resets it with the emailed code and is signed in
    #    with it; the old session in the other context is logged out.
    fresh = new_page(srv.url)
    fresh.goto("/forgot-password")
    fresh.get_by_label("Email").fill("nora@example.com")
    before = len(mailbox.to("nora@example.com"))  # counted before the click
    fresh.click("text=Email me a code")
    code = _code(mailbox, "nora@example.com", "reset", after=before)
    fresh.goto("/reset-password")
    fresh.get_by_label("Email").fill("nora@example.com")
    fresh.get_by_label("Reset code").fill(code)
    fresh.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    fresh.get_by_label("Repeat the password").fill(NEW_PASSWORD)
    fresh.click("text=Set new password")
    expect(fresh.locator("h1")).to_contain_text("My tickets")
    cus.goto("/customer/")
    expect(cus).to_have_url(re.compile(r"/login"))

    # Nothing internal ever reached the customer by email.
    assert all("Firmware 2.1" not in body_text(m) for m in _emails_to(mailbox, "nora@example.com"))


def test_xss_payloads_render_as_text_on_every_page(app, live_server, make_user, new_page, mailbox):
    from ccr.services import tickets
    from ccr.services.messages import post_message
    from ccr.services.uow import commit

    customer = make_user(Role.CUSTOMER, first_name=XSS[0][:40], email="x1@example.com")
    agent = make_user(Role.AGENT, first_name="Sam", email="x2@example.com")
    admin = make_user(Role.ADMIN, email="x3@example.com")
    for i, payload in enumerate(XSS):
        t = tickets.open_ticket(actor=customer, subject=payload, description=payload * 2)
        commit()
        tickets.assign_ticket(t, agent, actor=admin)
        commit()
        post_message(t, customer, payload, f"x{i}")
        commit()
    srv = live_server()
    pages = {
        customer.email: ["/customer/", f"/customer/tickets/{t.id}"],
        agent.email: ["/agent/", f"/agent/tickets/{t.id}"],
        admin.email: ["/admin/", f"/admin/tickets/{t.id}", "/admin/audit"],
    }
    for email, paths in pages.items():
        page = new_page(srv.url)  # the fixture fails the test on any dialog
        log_in(page, email, PASSWORD)
        for path in paths:
            page.goto(path)
            assert page.locator("main img[src='x'], main script, main svg").count() == 0, path
            assert XSS[0] in page.inner_text("main") or path == "/admin/audit", path
