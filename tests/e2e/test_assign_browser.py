"""A real Chromium (Playwright) against the live app: the admin's assign dropdown updates the
ticket in place through static/js/assign.js under the strict CSP, and works without JS too."""

import pytest
from sqlalchemy import select

from ccr.extensions import db
from ccr.models import Role, Ticket
from ccr.services.tickets import open_ticket
from ccr.services.uow import commit
from tests.support.users import PASSWORD

pytestmark = pytest.mark.browser


def _page(browser, base_url, problems, java_script=True):
    ctx = browser.new_context(
        base_url=base_url, java_script_enabled=java_script, viewport={"width": 360, "height": 740}
    )
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console",  # CSP violations are reported here; failed loads are checked below
        lambda msg: (
            problems.append(msg.text)
            if msg.type == "error" and "Failed to load resource" not in msg.text
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    return page


def _log_in(page, email):
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def test_assign_in_place_with_js_and_by_redirect_without(
    app, make_user, live_server, browser, backend
):
    if backend != "sqlite":
        pytest.skip("one backend is enough for the browser check")
    admin = make_user(Role.ADMIN, email="boss@example.com")
    make_user(Role.AGENT, email="ann@example.com", first_name="Ann", last_name="Agent")
    make_user(Role.AGENT, email="bob@example.com", first_name="Bob", last_name="Agent")
    customer = make_user(Role.CUSTOMER)
    ticket = open_ticket(actor=customer, subject="Browser", description="D")
    commit()
    ticket_id = ticket.id
    server = live_server()
    problems: list[str] = []

    page = _page(browser, server.url, problems)
    _log_in(page, admin.email)
    page.goto(f"/admin/tickets/{ticket_id}")
    form = page.locator(f"form.assign-form[data-ticket-id='{ticket_id}']")
    form.locator("select").select_option(label="Ann Agent")
    page.evaluate("window.ccrStayed = 1")  # survives only if the page does not reload
    form.locator("button[type=submit]").click()
    from playwright.sync_api import expect

    # The fetch answer (not only the live push chat.js also receives) updates the page.
    expect(page.locator(".assign-feedback")).to_contain_text("now assigned to Ann Agent")
    expect(page.locator("#ticket-agent")).to_contain_text("Ann Agent")
    assert page.evaluate("window.ccrStayed") == 1  # updated in place by fetch
    assert page.locator("#ticket-status").inner_text() == "Assigned"
    # the page's width fits a 360 px phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    db.session.expire_all()
    assignee = db.session.scalar(select(Ticket.assignee_id).where(Ticket.id == ticket_id))
    assert assignee is not None

    # the list without JavaScript: the page's agent picker and the row's button post and
    # redirect back to the same filtered list
    plain = _page(browser, server.url, problems, java_script=False)
    _log_in(plain, admin.email)
    plain.goto("/admin/?sort=age")
    plain.locator("#bulk-agent").select_option(label="Bob Agent")
    plain.locator(f"tr[data-ticket-id='{ticket_id}'] button[name=only]").click()
    plain.wait_for_load_state()
    assert "assigned to Bob Agent" in plain.content()
    assert plain.url.endswith("/admin/?sort=age")
    assert problems == [], problems
