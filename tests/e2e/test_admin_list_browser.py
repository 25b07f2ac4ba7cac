"""The admin list in a real Chromium: live updates patch it in place and never take what
the admin is holding (a half-chosen agent, the keyboard focus, checked rows, the filter, the
scroll position); bulk actions ask once in a <dialog>; the pager's totals and page numbers;
the chips' lists; the create-agent form and the confirmations; the page's weight."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from ccr.extensions import db
from ccr.models import Role, Ticket, TicketEvent
from ccr.services.tickets import change_status, open_ticket
from ccr.services.uow import commit
from tests.e2e.conftest import log_in
from tests.support.clients import login_session
from tests.support.users import PASSWORD

pytestmark = pytest.mark.browser

COUNT_REFRESHES = """
document.addEventListener("ccr:live-refreshed", () => {
  window.__refreshes = (window.__refreshes || 0) + 1;
});
"""


def _tickets(customer, n, subject="Ticket") -> list[Ticket]:
    out = [
        open_ticket(actor=customer, subject=f"{subject} {i:02d}", description="D") for i in range(n)
    ]
    commit()
    return out


def _admin_page(new_page, srv, admin, path, viewport=None):
    page = new_page(srv.url, viewport=viewport)
    page.add_init_script(COUNT_REFRESHES)
    log_in(page, admin.email, PASSWORD)
    page.goto(path)
    page.wait_for_function("() => window.__refreshes >= 1")  # connected and merged once
    page.evaluate("window.ccrStayed = 1")  # survives only if the page never reloads
    return page


def _assign_elsewhere(srv, admin, ticket, agent) -> None:
    """Another admin, in another session, assigns the ticket (a live event for the list)."""
    s = login_session(srv.url, admin.email)
    token = re.search(r'name="csrf_token" value="([^"]+)"', s.get(srv.url + "/admin/").text)
    answer = s.post(
        srv.url + "/admin/tickets/bulk",
        data={"csrf_token": token.group(1), "only": f"{ticket.id}:", "agent_id": str(agent.id)},
        headers={"Accept": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


def _refreshes(page) -> int:
    return page.evaluate("window.__refreshes")


def test_live_updates_never_replace_what_the_admin_is_holding(
    app, live_server, make_user, new_page, mailbox
):
    admin = make_user(Role.ADMIN, email="hold.admin@example.com")
    other_admin = make_user(Role.ADMIN, email="hold.other@example.com")
    ann = make_user(Role.AGENT, first_name="Ann", email="hold.ann@example.com")
    make_user(Role.AGENT, first_name="Bob", email="hold.bob@example.com")
    customer = make_user(Role.CUSTOMER, email="hold.cust@example.com")
    tickets = _tickets(customer, 30)
    srv = live_server()
    adm = _admin_page(
        new_page, srv, admin, "/admin/?unassigned=1&sort=age", {"width": 1280, "height": 500}
    )
    url = adm.url

    # Half-way through: an agent chosen, two rows checked, focus on a third row's box, scrolled.
    adm.locator("#bulk-agent").select_option(label="Bob Tester")
    adm.get_by_label(f"Select {tickets[1].reference}").check()
    adm.get_by_label(f"Select {tickets[2].reference}").check()
    adm.get_by_label(f"Select {tickets[3].reference}").focus()
    adm.evaluate("window.scrollTo(0, 200)")
    scrolled = adm.evaluate("window.scrollY")
    assert scrolled > 0

    # A customer raises a ticket elsewhere (a ticket_created event: the total grows) ...
    seen = _refreshes(adm)
    cus = new_page(srv.url)
    log_in(cus, customer.email, PASSWORD)
    cus.goto("/customer/tickets/new")
    cus.fill("input[name=subject]", "Raised in another tab")
    cus.fill("textarea[name=description]", "x")
    cus.click("text=Raise ticket")
    expect(adm.locator("#list-total")).to_have_text("Showing 1–25 of 31")
    # ... and another admin assigns a ticket on this page (a ticket_updated event).
    _assign_elsewhere(srv, other_admin, tickets[0], ann)
    row0 = adm.locator(f"tr[data-ticket-id='{tickets[0].id}']")
    expect(row0).to_contain_text("Ann Tester")
    expect(row0.locator("button[name=only]")).to_have_text("Reassign")
    expect(row0).to_have_class(re.compile("row-gone"))  # no longer unassigned: kept, dimmed
    adm.wait_for_function(f"() => window.__refreshes >= {seen + 2}")

    assert adm.locator("#bulk-agent").input_value() != ""
    expect(adm.locator("#bulk-agent option:checked")).to_have_text("Bob Tester")
    expect(adm.get_by_label(f"Select {tickets[1].reference}")).to_be_checked()
    expect(adm.get_by_label(f"Select {tickets[2].reference}")).to_be_checked()
    assert adm.evaluate("document.activeElement.getAttribute('aria-label')") == (
        f"Select {tickets[3].reference}"
    )
    assert adm.evaluate("window.scrollY") == scrolled
    assert adm.url == url and adm.evaluate("window.ccrStayed") == 1
    expect(adm.locator("#f-unassigned")).to_be_checked()

    # Assign in place from a row: the half-chosen agent is used, the filter and page stay.
    button = adm.locator(f"tr[data-ticket-id='{tickets[4].id}'] button[name=only]")
    button.focus()
    adm.keyboard.press("Enter")
    expect(adm.locator("#bulk-feedback")).to_have_text(
        f"{tickets[4].reference} assigned to Bob Tester."
    )
    expect(adm.locator(f"tr[data-ticket-id='{tickets[4].id}']")).to_contain_text("Bob Tester")
    assert adm.url == url and adm.evaluate("window.ccrStayed") == 1
    assert adm.evaluate("document.activeElement.getAttribute('aria-label')") == (
        f"Reassign {tickets[4].reference}"
    )
    expect(adm.get_by_label(f"Select {tickets[1].reference}")).to_be_checked()


def test_bulk_assign_asks_once_then_assigns_each_ticket_with_its_event_and_emails(
    app, live_server, make_user, new_page, mailbox
):
    admin = make_user(Role.ADMIN, email="bulk.admin@example.com")
    ann = make_user(Role.AGENT, first_name="Ann", email="bulk.ann@example.com")
    customer = make_user(Role.CUSTOMER, email="bulk.cust@example.com")
    tickets = _tickets(customer, 4)
    srv = live_server()
    adm = _admin_page(new_page, srv, admin, "/admin/?sort=age")

    # Nothing selected: a message, no dialog.
    adm.click("text=Close selected")
    expect(adm.locator("#bulk-feedback")).to_have_text("Select at least one ticket first.")
    expect(adm.locator("#bulk-confirm")).to_be_hidden()

    for t in tickets[:3]:
        adm.get_by_label(f"Select {t.reference}").check()
    expect(adm.locator("#selected-count")).to_have_text("3 selected")
    adm.locator("#bulk-agent").select_option(label="Ann Tester")
    # Cancel changes nothing
    adm.click("text=Assign selected")
    expect(adm.locator("#bulk-confirm")).to_be_visible()
    adm.click("#bulk-confirm-no")
    expect(adm.locator("#bulk-confirm")).to_be_hidden()
    db.session.expire_all()
    assert db.session.scalars(select(TicketEvent).where(TicketEvent.verb == "assigned")).all() == []

    adm.click("text=Assign selected")
    expect(adm.locator("#bulk-confirm-title")).to_have_text("Assign 3 tickets to Ann Tester?")
    adm.click("#bulk-confirm-yes")
    expect(adm.locator("#bulk-feedback")).to_contain_text("assigned to Ann Tester")
    for t in tickets[:3]:
        expect(adm.locator(f"tr[data-ticket-id='{t.id}']")).to_contain_text("Ann Tester")
        expect(adm.get_by_label(f"Select {t.reference}")).not_to_be_checked()
    expect(adm.locator(f"tr[data-ticket-id='{tickets[3].id}']")).to_contain_text("—")
    assert adm.evaluate("window.ccrStayed") == 1
    db.session.expire_all()
    events = db.session.scalars(select(TicketEvent).where(TicketEvent.verb == "assigned")).all()
    assert sorted(e.ticket_id for e in events) == sorted(t.id for t in tickets[:3])
    mailbox.wait_for(3 * 2 + 4 + 4)  # 3 to the agent and 3 to the customer, after the creations
    assert len([m for m in mailbox.to(ann.email) if "assigned to you" in m["Subject"]]) == 3

    # Set the priority of one ticket, then close two, with one confirmation each.
    adm.get_by_label(f"Select {tickets[3].reference}").check()
    adm.locator("#bulk-priority").select_option("urgent")
    adm.click("text=Set priority")
    expect(adm.locator("#bulk-confirm-title")).to_have_text("Set 1 ticket to urgent priority?")
    adm.click("#bulk-confirm-yes")
    expect(adm.locator(f"tr[data-ticket-id='{tickets[3].id}']")).to_contain_text("Urgent")
    for t in tickets[2:]:
        adm.get_by_label(f"Select {t.reference}").check()
    adm.click("text=Close selected")
    expect(adm.locator("#bulk-confirm-title")).to_have_text("Close 2 tickets?")
    adm.click("#bulk-confirm-yes")
    for t in tickets[2:]:
        expect(adm.locator(f"[data-status-for='{t.id}']")).to_have_text("Closed")
        expect(adm.locator(f"tr[data-ticket-id='{t.id}'] button[name=only]")).to_be_hidden()


def test_the_pager_has_totals_and_page_numbers_and_the_open_chip_lists_no_closed_ticket(
    app, live_server, make_user, new_page, mailbox
):
    admin = make_user(Role.ADMIN, email="pager.admin@example.com")
    customer = make_user(Role.CUSTOMER, email="pager.cust@example.com")
    tickets = _tickets(customer, 60)
    for t in tickets[:5]:
        change_status(t, "close", actor=customer)
    commit()
    srv = live_server()
    adm = _admin_page(new_page, srv, admin, "/admin/")
    expect(adm.locator("#list-total")).to_have_text("Showing 1–25 of 60")
    adm.get_by_label("Page 2", exact=True).click()
    expect(adm.locator("#list-total")).to_have_text("Showing 26–50 of 60")
    expect(adm.locator("nav[aria-label=Pages] [aria-current=page]")).to_have_text("2")
    adm.get_by_label("Page 3", exact=True).click()
    expect(adm.locator("#list-total")).to_have_text("Showing 51–60 of 60")

    adm.click("#admin-counts >> text=Open")
    expect(adm.locator("#count-open")).to_have_text("55")
    expect(adm.locator("#list-total")).to_have_text("Showing 1–25 of 55")
    expect(adm.locator("table.ticket-list .status-closed")).to_have_count(0)
    adm.get_by_label("Page 3", exact=True).click()
    expect(adm.locator("#list-total")).to_have_text("Showing 51–55 of 55")
    expect(adm.locator("table.ticket-list .status-closed")).to_have_count(0)


def test_create_agent_shows_the_password_only_when_chosen_and_role_changes_ask_first(
    app, browser, live_server, make_user, new_page, mailbox
):
    admin = make_user(Role.ADMIN, email="staff.admin@example.com")
    ann = make_user(Role.AGENT, first_name="Ann", email="staff.ann@example.com")
    srv = live_server()
    adm = new_page(srv.url)
    log_in(adm, admin.email, PASSWORD)
    adm.goto("/admin/agents")
    password = adm.get_by_label("Initial password", exact=True)
    expect(adm.get_by_label("Email an invitation link")).to_be_checked()
    expect(password).to_be_hidden()
    adm.get_by_label("Set an initial password").check()
    expect(password).to_be_visible()
    adm.get_by_label("Email an invitation link").check()
    expect(password).to_be_hidden()

    # Without JavaScript too.
    ctx = browser.new_context(base_url=srv.url, java_script_enabled=False)
    plain = ctx.new_page()
    log_in(plain, admin.email, PASSWORD)
    plain.goto("/admin/agents")
    expect(plain.get_by_label("Initial password", exact=True)).to_be_hidden()
    plain.get_by_label("Set an initial password").check()
    expect(plain.get_by_label("Initial password", exact=True)).to_be_visible()
    ctx.close()

    # "Make admin…" asks first; Cancel leaves the agent an agent.
    row = adm.locator(f"#staff-{ann.id}")
    row.get_by_role("button", name="Make admin…").click()
    expect(adm.locator("h1")).to_have_text("Make Ann Tester an admin?")
    adm.click("text=Cancel")
    expect(adm.locator("h1")).to_have_text("Agents and admins")
    db.session.expire_all()
    assert db.session.get(type(ann), ann.id).role == Role.AGENT
    row.get_by_role("button", name="Make admin…").click()
    adm.click("text=Yes, make them an admin")
    expect(adm.locator(".alert-success")).to_contain_text("Ann Tester is now an admin.")
    row.get_by_role("button", name="Remove admin…").click()
    expect(adm.locator("h1")).to_have_text("Remove Ann Tester's admin role?")
    adm.click("text=Yes, remove the admin role")
    row.get_by_role("button", name="Deactivate…").click()
    expect(adm.locator("h1")).to_have_text("Deactivate Ann Tester?")
    adm.click("text=Yes, deactivate")
    expect(adm.locator(".alert-success")).to_contain_text("deactivated")
    db.session.expire_all()
    user = db.session.get(type(ann), ann.id)
    assert user.role == Role.AGENT and not user.active


def test_a_list_page_with_200_agents_weighs_under_60_kb_and_shows_names_in_full(
    app, live_server, make_user, new_page, mailbox
):
    admin = make_user(Role.ADMIN, email="weight.admin@example.com")
    longest = "Maximiliana-Josephine Alexandrina Featherstonehaugh-Worthington"
    for i in range(200):
        make_user(
            Role.AGENT,
            email=f"weight.{i}@example.com",
            first_name=f"Maximiliana-Josephine {'Alexandrina' if i == 199 else i}",
            last_name="Featherstonehaugh-Worthington",
        )
    _tickets(make_user(Role.CUSTOMER, email="weight.cust@example.com"), 30)
    srv = live_server()
    adm = new_page(srv.url)
    log_in(adm, admin.email, PASSWORD)
    response = adm.goto("/admin/")
    body = response.body()
    assert len(body) < 60 * 1024, len(body)
    expect(adm.locator("table.ticket-list tbody tr")).to_have_count(25)
    expect(adm.locator("#bulk-agent option")).to_have_count(201)
    # The picker is as wide as its longest name: nothing is cut off.
    fits = adm.evaluate(
        """(name) => {
          const select = document.getElementById("bulk-agent");
          const style = getComputedStyle(select);
          const ctx = document.createElement("canvas").getContext("2d");
          ctx.font = style.fontWeight + " " + style.fontSize + " " + style.fontFamily;
          return select.clientWidth >= ctx.measureText(name).width;
        }""",
        longest,
    )
    assert fits
