"""Issue 18 item 9: a registration form refused for what was typed does not use up the
registration limit, and the limit's page says how long to wait."""

import re

import pytest
from playwright.sync_api import expect

from ccr.auth.routes import REGISTER_PER_IP
from tests.e2e.conftest import fill_registration
from tests.support.users import PASSWORD

pytestmark = pytest.mark.browser
ACCEPTED = int(REGISTER_PER_IP.split()[0])


def test_typing_mistakes_do_not_lock_registration_and_the_limit_says_the_wait(
    live_server, new_page, mailbox
):
    srv = live_server()
    page = new_page(srv.url)
    for n in range(ACCEPTED + 2):  # more refused forms than the limit allows registrations
        fill_registration(page, f"nia{n}@example.com", "short")
        expect(page.locator("h1")).to_contain_text("Create")
        expect(page.locator("main")).not_to_contain_text("too many times")
    for n in range(ACCEPTED):
        fill_registration(page, f"nia{n}@example.com", PASSWORD)
        expect(page.get_by_label("Verification code")).to_be_visible()
    fill_registration(page, "one.more@example.com", PASSWORD)
    expect(page.locator("h1")).to_have_text("Too many requests")
    message = page.locator("main").inner_text()
    assert "wait a moment" not in message
    assert re.search(r"Try again in \d+ minutes\.", message), message
