"""Issue 18 item 8: verifying the email, resetting the password and accepting an invitation
end signed in on the person's dashboard, with no second sign-in. Codes and links come from
the emails the live server sent."""

import re

import pytest
from playwright.sync_api import expect

from ccr.models import Role
from tests.e2e.conftest import fill_registration, log_in
from tests.e2e.test_journeys_browser import _code, _wait_mail
from tests.support.codes import link_in
from tests.support.users import PASSWORD

pytestmark = pytest.mark.browser
NEW_PASSWORD = "another quiet harbour"


def test_verifying_the_email_lands_signed_in_on_the_dashboard(live_server, new_page, mailbox):
    srv = live_server()
    page = new_page(srv.url)
    fill_registration(page, "nora@example.com", PASSWORD, first="Nora", last="Newcomer")
    page.get_by_label("Verification code").fill(_code(mailbox, "nora@example.com", "verif"))
    page.click("button:has-text('Verify')")
    expect(page).to_have_url(re.compile(r"/customer/$"))
    expect(page.locator("h1")).to_contain_text("My tickets")
    expect(page.locator("main")).to_contain_text("Your email address is verified")
    expect(page.locator("nav")).to_contain_text("Nora")


def test_a_password_reset_lands_signed_in_and_signs_out_the_old_session(
    live_server, make_user, new_page, mailbox
):
    user = make_user(Role.CUSTOMER, email="ola@example.com", first_name="Ola")
    srv = live_server()
    old = new_page(srv.url)
    log_in(old, user.email, PASSWORD)
    page = new_page(srv.url)
    page.goto("/forgot-password")
    page.get_by_label("Email").fill(user.email)
    page.click("text=Email me a code")
    code = _code(mailbox, user.email, "reset")
    page.get_by_label("Reset code").fill(code)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat the password").fill(NEW_PASSWORD)
    page.click("text=Set new password")
    expect(page.locator("h1")).to_contain_text("My tickets")
    expect(page.locator("main")).to_contain_text("Your password has been changed")
    old.goto("/customer/")
    expect(old).to_have_url(re.compile(r"/login"))


def test_accepting_an_invitation_lands_on_the_agent_queue(
    live_server, make_user, new_page, mailbox
):
    admin = make_user(Role.ADMIN, first_name="Ada")
    srv = live_server()
    adm = new_page(srv.url)
    log_in(adm, admin.email, PASSWORD)
    adm.goto("/admin/agents")
    adm.fill("input[name=first_name]", "Sam")
    adm.fill("input[name=last_name]", "Rivera")
    adm.fill("input[name=email]", "sam@example.com")
    adm.check("input[name=method][value=invite]")
    adm.click("button:has-text('Create agent')")
    link = link_in(_wait_mail(mailbox, "sam@example.com", "invited"), "/invite/")
    page = new_page(srv.url)
    page.goto(re.sub(r"^https?://[^/]+", "", link))
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.click("text=Set password")
    expect(page.locator("h1")).to_contain_text("My queue")
    expect(page.locator("main")).to_contain_text("Your password is set")
