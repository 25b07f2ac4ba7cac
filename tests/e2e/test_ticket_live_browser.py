"""Issue 18 in real browsers: the ticket page follows changes made elsewhere without losing
what is under the user's hands (item 2); a customer's reply reopens a resolved ticket
(item 3); staff set priority and category and an agent hands a ticket on with a note
(item 6); the timeline in words with relative times, Sent/Read from the stored markers and
the rating form starting from the rating given (item 7)."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from ccr.extensions import db
from ccr.models import Role, TicketEvent, utcnow
from ccr.services import tickets
from ccr.services.categories import create_category
from ccr.services.messages import post_message
from ccr.services.uow import commit
from tests.e2e.conftest import log_in
from tests.support.users import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def desk(app, live_server, scene, new_page, mailbox):
    """Alice's ticket with agent Priya; open(user, path) -> a signed-in page on it."""
    s = scene(
        customer={"first_name": "Alice", "email": "alice.live@example.com"},
        agent={"first_name": "Priya", "email": "priya.live@example.com"},
        admin={"first_name": "Ada", "email": "ada.live@example.com"},
        subject="Invoice missing",
        description="No invoice for March",
    )
    srv = live_server()

    def open_page(user, path):
        page = new_page(srv.url)
        log_in(page, user.email, PASSWORD)
        page.goto(path)
        if "/tickets/" in path:
            expect(page.locator("#chat-status")).to_have_attribute("data-state", "connected")
        page.evaluate("window.ccrStayed = 1")  # gone if the page reloads
        return page

    s.open = open_page
    s.url = {
        "customer": f"/customer/tickets/{s.ticket.id}",
        "agent": f"/agent/tickets/{s.ticket.id}",
        "admin": f"/admin/tickets/{s.ticket.id}",
    }
    return s


def stayed(page) -> bool:
    return page.evaluate("window.ccrStayed") == 1


def timeline(page):
    return page.locator("#timeline li")


def test_the_customer_page_follows_a_resolve_while_a_half_typed_message_stays(desk):
    cus = desk.open(desk.customer, desk.url["customer"])
    adm = desk.open(desk.admin, desk.url["admin"])
    lines = timeline(cus).count()
    expect(cus.get_by_role("link", name="Close ticket…")).to_be_visible()
    expect(cus.get_by_role("button", name="Reopen")).to_have_count(0)
    expect(cus.get_by_role("heading", name="How did we do?")).to_have_count(0)
    cus.click("#message-body")
    cus.keyboard.type("Thanks, one more quest")

    agt = desk.open(desk.agent, desk.url["agent"])
    agt.get_by_role("button", name="Resolve").click()
    expect(agt.locator("#ticket-status")).to_have_text("Resolved")
    agt.evaluate("window.ccrStayed = 1")  # the agent's own form post reloaded their page

    expect(cus.locator("#ticket-status")).to_have_text("Resolved")
    expect(cus.get_by_role("button", name="Reopen")).to_be_visible()
    expect(cus.get_by_role("heading", name="How did we do?")).to_be_visible()
    expect(timeline(cus)).to_have_count(lines + 1)
    expect(timeline(cus).last).to_contain_text("Priya Tester resolved the ticket · just now")
    # what the customer was doing is untouched: the text, the focus, the page itself
    expect(cus.locator("#message-body")).to_have_value("Thanks, one more quest")
    expect(cus.locator("#message-body")).to_be_focused()
    cus.keyboard.type("ion")
    expect(cus.locator("#message-body")).to_have_value("Thanks, one more question")
    assert stayed(cus)
    # the admin's page follows too
    expect(adm.locator("#ticket-status")).to_have_text("Resolved")
    expect(timeline(adm).last).to_contain_text("resolved the ticket")
    assert stayed(adm)

    # and back: the customer reopens; the agent's buttons follow
    cus.get_by_role("button", name="Reopen").click()
    expect(cus.locator("#ticket-status")).to_have_text("Assigned")
    expect(agt.locator("#ticket-status")).to_have_text("Assigned")
    expect(agt.get_by_role("button", name="Start work")).to_be_visible()
    expect(timeline(agt).last).to_contain_text("Alice Tester reopened the ticket")
    assert stayed(agt)


def test_a_page_loaded_closed_gets_its_message_box_back_when_reopened(desk):
    tickets.change_status(desk.ticket, "close", actor=desk.customer)
    commit()
    agt = desk.open(desk.agent, desk.url["agent"])
    expect(agt.locator("#chat-closed")).to_be_visible()
    adm = desk.open(desk.admin, desk.url["admin"])
    adm.get_by_role("button", name="Reopen").click()
    expect(agt.locator("#ticket-status")).to_have_text("Assigned")
    expect(agt.locator("#chat-closed")).to_have_count(0)
    agt.fill("#message-body", "Back on it")
    agt.press("#message-body", "Enter")
    # saved (Sent, or Read already: the admin's open page reads it)
    saved = agt.locator("#messages li.mine:is([data-state=sent], [data-state=read]) .body")
    expect(saved).to_have_text("Back on it")
    assert stayed(agt)


def test_a_customer_chat_reply_reopens_a_resolved_ticket_to_the_agent(desk):
    tickets.change_status(desk.ticket, "resolve", actor=desk.agent)
    commit()
    agt = desk.open(desk.agent, desk.url["agent"])
    expect(agt.get_by_role("button", name="Resolve")).to_have_count(0)
    cus = desk.open(desk.customer, desk.url["customer"])
    expect(cus.get_by_role("heading", name="How did we do?")).to_be_visible()
    cus.fill("#message-body", "Sorry, still no invoice")
    cus.press("#message-body", "Enter")

    expect(agt.locator("#messages")).to_contain_text("Sorry, still no invoice")
    expect(agt.locator("#ticket-status")).to_have_text("Assigned")
    expect(timeline(agt).last).to_contain_text("Alice Tester reopened the ticket")
    expect(agt.get_by_role("button", name="Resolve")).to_be_visible()
    # the customer's page: the ticket is open again, so no rating form
    expect(cus.locator("#ticket-status")).to_have_text("Assigned")
    expect(cus.get_by_role("heading", name="How did we do?")).to_have_count(0)
    assert stayed(agt) and stayed(cus)


def test_a_reply_without_javascript_reopens_a_resolved_ticket(desk, browser):
    tickets.change_status(desk.ticket, "resolve", actor=desk.agent)
    commit()
    base = desk.open(desk.agent, desk.url["agent"]).url.split("/agent/")[0]
    ctx = browser.new_context(base_url=base, java_script_enabled=False)
    try:
        page = ctx.new_page()
        log_in(page, desk.customer.email, PASSWORD)
        page.goto(desk.url["customer"])
        page.fill("#message-body", "Plain form: still broken")
        page.get_by_role("button", name="Send", exact=True).click()
        expect(page.locator("#ticket-status")).to_have_text("Assigned")
        expect(page.locator("#timeline")).to_contain_text("Alice Tester reopened the ticket")
        expect(page.locator("#messages")).to_contain_text("Plain form: still broken")
    finally:
        ctx.close()


def test_staff_change_priority_and_category_and_other_pages_follow(desk):
    billing = create_category("Billing", actor=desk.admin)
    commit()
    cus = desk.open(desk.customer, desk.url["customer"])
    adm = desk.open(desk.admin, desk.url["admin"])
    # the admin has half-chosen a priority when the agent saves a change
    adm.select_option("#edit-form select[name=priority]", "low")
    adm.focus("#edit-form select[name=priority]")

    agt = desk.open(desk.agent, desk.url["agent"])
    agt.select_option("#edit-form select[name=priority]", "urgent")
    agt.select_option("#edit-form select[name=category]", label="Billing")
    agt.get_by_role("button", name="Save").click()
    expect(agt.locator(".alert-success")).to_contain_text("Priority and category saved.")
    expect(timeline(agt).nth(-2)).to_contain_text(
        "Priya Tester changed the priority from normal to urgent"
    )
    expect(timeline(agt).last).to_contain_text("changed the category from none to Billing")

    expect(cus.locator("#ticket-priority")).to_have_text("Urgent")
    expect(cus.locator("#ticket-category")).to_have_text("Billing")
    expect(timeline(cus).last).to_contain_text("changed the category from none to Billing")
    expect(adm.locator("#ticket-priority")).to_have_text("Urgent")
    expect(adm.locator("#edit-form select[name=category]")).to_have_value(str(billing.id))
    # the admin's half-chosen value and focus survived the patch
    expect(adm.locator("#edit-form select[name=priority]")).to_have_value("low")
    expect(adm.locator("#edit-form select[name=priority]")).to_be_focused()
    assert stayed(cus) and stayed(adm)


def test_an_agent_hands_a_ticket_on_and_the_receiver_reads_the_note_first(desk, make_user):
    sam = make_user(Role.AGENT, first_name="Sam", email="sam.live@example.com")
    away = make_user(Role.AGENT, first_name="Away", email="away.live@example.com")
    away.active = False
    commit()
    adm = desk.open(desk.admin, desk.url["admin"])
    agt = desk.open(desk.agent, desk.url["agent"])
    choices = agt.locator("#transfer-form select[name=agent_id] option").all_inner_texts()
    assert (
        "Sam Tester" in choices and "Away Tester" not in choices and "Priya Tester" not in choices
    )

    agt.fill("#transfer-form textarea[name=note]", "She needs the March invoice re-sent")
    agt.get_by_role("button", name="Hand on").click()  # nobody chosen
    expect(agt.locator(".alert-danger")).to_have_text("Choose a colleague from the list.")
    expect(agt.locator("#ticket-agent")).to_have_text("Priya Tester")
    # the note written is still there
    expect(agt.locator("#transfer-form textarea[name=note]")).to_have_value(
        "She needs the March invoice re-sent"
    )

    agt.select_option("#transfer-form select[name=agent_id]", label="Sam Tester")
    agt.get_by_role("button", name="Hand on").click()
    agt.wait_for_url("**/agent/")
    expect(agt.locator(".alert-success")).to_contain_text("is now with Sam Tester")

    expect(adm.locator("#ticket-agent")).to_have_text("Sam Tester")
    expect(timeline(adm).last).to_contain_text("Priya Tester handed the ticket on to Sam Tester")
    assert stayed(adm)

    rcv = desk.open(sam, desk.url["agent"])
    note = rcv.locator("#handover-note")
    expect(note).to_have_text("She needs the March invoice re-sent")
    expect(
        rcv.get_by_role("heading", name="Priya Tester handed this ticket on to you")
    ).to_be_visible()
    top = note.bounding_box()["y"]
    assert top < rcv.locator("#conversation").bounding_box()["y"]
    expect(rcv.locator("#messages li.internal")).to_contain_text(
        "She needs the March invoice re-sent"
    )


def test_timeline_in_words_relative_times_read_state_and_the_rating_preselected(desk):
    post_message(desk.ticket, desk.customer, "Thanks!", "rel1")
    commit()
    tickets.change_status(desk.ticket, "resolve", actor=desk.agent)
    commit()
    tickets.rate_ticket(desk.ticket, 4, "Quick answer", actor=desk.customer)
    commit()
    five_ago = utcnow() - timedelta(minutes=5)
    db.session.execute(
        update(TicketEvent)
        .where(TicketEvent.ticket_id == desk.ticket.id, TicketEvent.verb == "status")
        .values(created_at=five_ago)
    )
    db.session.commit()

    cus = desk.open(desk.customer, desk.url["customer"])
    # read state before and after the agent has read it, from the stored markers alone
    expect(cus.locator("#messages li.mine .state")).to_have_text("Sent")
    desk.open(desk.agent, desk.url["agent"])  # the agent's page marks it read
    cus.reload()
    expect(cus.locator("#messages li.mine .state")).to_have_text("Read")

    lines = timeline(cus)
    expect(lines.first).to_contain_text("Alice Tester created the ticket")
    expect(lines.filter(has_text="Priya Tester resolved the ticket")).to_contain_text("5 min ago")
    expect(lines.filter(has_text="rated")).to_contain_text("Alice Tester rated 4 of 5 · just now")
    resolved_at = lines.filter(has_text="resolved the ticket").locator("time")
    title = resolved_at.get_attribute("title")
    assert title and ":" in title and title != resolved_at.inner_text()
    for text in lines.all_inner_texts():
        assert "→" not in text and ": —" not in text

    expect(cus.get_by_role("heading", name="Change your rating")).to_be_visible()
    expect(cus.get_by_label("4", exact=True)).to_be_checked()
    expect(cus.locator("#rate-form textarea[name=comment]")).to_have_value("Quick answer")
