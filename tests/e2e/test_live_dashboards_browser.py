"""Dashboards and ticket pages follow changes made elsewhere, without a reload."""

import pytest
from playwright.sync_api import expect

from ccr.models import Role
from tests.e2e.conftest import log_in
from tests.support.users import PASSWORD

pytestmark = pytest.mark.browser


def test_a_new_ticket_appears_on_the_admin_dashboard_without_a_reload(
    app, live_server, make_user, new_page, mailbox
):
    customer = make_user(Role.CUSTOMER, email="live.cust@example.com")
    admin = make_user(Role.ADMIN, email="live.admin@example.com")
    srv = live_server()
    adm = new_page(srv.url)
    log_in(adm, admin.email, PASSWORD)
    adm.goto("/admin/")
    adm.evaluate("window.ccrStayed = 1")
    expect(adm.locator("#count-open")).to_have_text("0")

    cus = new_page(srv.url)
    log_in(cus, customer.email, PASSWORD)
    cus.goto("/customer/tickets/new")
    cus.fill("input[name=subject]", "Printer <b>jammed</b>")
    cus.fill("textarea[name=description]", "Paper everywhere")
    cus.click("text=Raise ticket")
    expect(cus.locator("h1")).to_contain_text("CCR-")

    expect(adm.locator("table.ticket-list")).to_contain_text("Printer <b>jammed</b>")
    expect(adm.locator("#count-open")).to_have_text("1")
    assert adm.evaluate("window.ccrStayed") == 1  # updated in place, not reloaded


def test_closing_makes_the_agents_chat_read_only_live(app, live_server, scene, new_page, mailbox):
    s = scene(
        customer={"email": "close.cust@example.com"},
        agent={"email": "close.agent@example.com"},
        subject="Close me",
        description="x",
    )
    customer, agent, ticket = s.customer, s.agent, s.ticket
    srv = live_server()
    agt = new_page(srv.url)
    log_in(agt, agent.email, PASSWORD)
    agt.goto(f"/agent/tickets/{ticket.id}")
    expect(agt.locator("#chat-status")).to_have_attribute("data-state", "connected")

    cus = new_page(srv.url)
    log_in(cus, customer.email, PASSWORD)
    cus.goto(f"/customer/tickets/{ticket.id}")
    cus.click("text=Close ticket…")
    cus.click("text=Yes, close the ticket")
    expect(cus.locator("#chat-closed")).to_be_visible()

    expect(agt.locator("#chat-closed-live")).to_be_visible()
    expect(agt.locator("#message-body")).to_be_disabled()
    expect(agt.locator("#ticket-status")).to_have_text("Closed")
