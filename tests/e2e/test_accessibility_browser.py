"""What a screen reader says where the page changes: a field with an error is announced as
invalid with its own error and its hint; new messages and their Sent/Read states arrive in
a live region. axe-core finds nothing wrong with a form showing its errors."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e import axe
from tests.e2e.conftest import log_in
from tests.support.users import PASSWORD

pytestmark = pytest.mark.browser
HINT = "At least 8 characters"

UNIQUE_IDS = """() => {
  const ids = [...document.querySelectorAll("[id]")].map((el) => el.id);
  return ids.filter((id, i) => ids.indexOf(id) !== i);
}"""


def test_field_errors_are_announced_with_their_field(app, live_server, new_page, backend):
    if backend != "sqlite":
        pytest.skip("one backend is enough for the browser check")
    srv = live_server()
    page = new_page(srv.url, viewport={"width": 375, "height": 812})
    page.goto("/register")
    password = page.get_by_label("Password", exact=True)
    # Before anything is sent the hint is already linked, and nothing is invalid.
    expect(password).to_have_accessible_description(re.compile("^" + HINT))
    expect(page.locator("[aria-invalid]")).to_have_count(0)

    page.get_by_label("First name").fill("Ann")
    page.get_by_label("Email").fill("not-an-email")
    password.fill("short")
    page.get_by_label("Repeat the password").fill("different")
    page.get_by_role("button", name="Create account").click()

    email = page.get_by_label("Email")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_accessible_description("Invalid email address.")
    expect(page.get_by_label("Last name")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Last name")).to_have_accessible_description("This field is required.")
    # The password's own error first, then the rules it has to meet.
    expect(password).to_have_attribute("aria-invalid", "true")
    description = password.evaluate(
        """(el) => el.getAttribute("aria-describedby").split(" ")
                     .map((id) => document.getElementById(id).textContent.trim())"""
    )
    assert len(description) == 2 and description[1].startswith(HINT), description
    expect(page.get_by_label("Repeat the password")).to_have_accessible_description(
        "The passwords do not match."
    )
    expect(page.get_by_label("First name")).not_to_have_attribute("aria-invalid", "true")
    assert page.evaluate(UNIQUE_IDS) == []
    axe.load(page)
    assert axe.violations(page) == []


def test_messages_and_their_states_arrive_in_a_live_region(
    app, live_server, scene, new_page, mailbox, backend
):
    if backend != "sqlite":
        pytest.skip("one backend is enough for the browser check")
    s = scene(
        customer={"email": "live.region.cust@example.com", "first_name": "Lea"},
        agent={"email": "live.region.agent@example.com", "first_name": "Sam"},
        subject="Screen reader",
        description="Announce it",
    )
    srv = live_server()
    pages = {}
    for role, user in (("customer", s.customer), ("agent", s.agent)):
        page = new_page(srv.url)
        log_in(page, user.email, PASSWORD)
        page.goto(f"/{role}/tickets/{s.ticket.id}")
        expect(page.locator("#chat-status")).to_have_attribute("data-state", "connected")
        pages[role] = page

    logs = {role: page.get_by_role("log", name="Messages") for role, page in pages.items()}
    for log in logs.values():
        expect(log).to_have_attribute("aria-live", "polite")
        expect(log).to_have_attribute("aria-relevant", "additions text")
    pages["agent"].fill("#message-body", "Try a different cable")
    pages["agent"].press("#message-body", "Enter")
    # The customer's reader hears the new message; the agent's hears it sent, then read.
    expect(logs["customer"].get_by_role("listitem")).to_contain_text(["Try a different cable"])
    mine = logs["agent"].get_by_role("listitem").filter(has_text="Try a different cable")
    expect(mine.locator(".state")).to_have_text("Read")
