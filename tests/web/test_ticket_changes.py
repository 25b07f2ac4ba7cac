"""Issue 18 on the server: a customer's reply reopens a resolved ticket; staff set priority
and category; an agent hands a ticket on with a note; the ticket page's timeline in words,
Sent/Read from the stored markers, the rating form starting from the rating given, and the
live part the page's script asks for."""

import re

import pytest
from sqlalchemy import func, select

from ccr.extensions import db
from ccr.models import Message, Priority, Role, Ticket, TicketEvent, TicketStatus
from ccr.notify.dispatcher import dispatch_pending
from ccr.services import Forbidden, ServiceError
from ccr.services.categories import create_category, retire_category
from ccr.services.messages import post_message
from ccr.services.tickets import change_status, edit_ticket, rate_ticket
from ccr.services.transfers import transfer_ticket
from ccr.services.uow import commit
from tests.support.users import login


def _client(app, user):
    c = app.test_client()
    login(c, user)
    return c


def _mails(mailbox):
    """What the outbox sends now, by recipient: [subject, ...]."""
    sent = dispatch_pending()
    got: dict[str, list[str]] = {}
    for m in mailbox.wait_for(sent) if sent else []:
        got.setdefault(m["To"], []).append(m["Subject"])
    mailbox.clear()
    return got


def _events(ticket_id):
    return [
        (e.verb, e.old_value, e.new_value)
        for e in db.session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        )
    ]


def _ticket(ticket_id) -> Ticket:
    db.session.expire_all()
    return db.session.get(Ticket, ticket_id)


@pytest.fixture
def resolved(scene, mailbox):
    s = scene(customer={"first_name": "Alice"}, agent={"first_name": "Priya"})
    change_status(s.ticket, "resolve", actor=s.agent)
    commit()
    _mails(mailbox)
    return s


# -- item 3: a reply on a resolved ticket reopens it ------------------------------------------


def test_a_customer_reply_on_a_resolved_ticket_reopens_it_to_the_agent(app, resolved, mailbox):
    s = resolved
    C = _client(app, s.customer)
    r = C.post(
        f"/chat/tickets/{s.ticket.id}/messages",
        data={"body": "Still broken, sorry", "client_id": "re1"},
    )
    assert r.status_code == 302
    ticket = _ticket(s.ticket.id)
    assert ticket.status == TicketStatus.ASSIGNED and ticket.assignee_id == s.agent.id
    assert ticket.resolved_at is None
    assert _events(ticket.id)[-1] == ("reopen", "resolved", "assigned")
    mails = _mails(mailbox)
    # The agent hears of it as of any reopen; that email covers the message too.
    assert mails[s.agent.email] == [f"[{ticket.reference}] Reopened: {ticket.subject}"]
    page = C.get(f"/customer/tickets/{ticket.id}").data.decode()
    assert f"{s.customer.full_name}</span> reopened the ticket" in page
    assert "Still broken, sorry" in page


def test_a_staff_reply_or_a_note_leaves_a_resolved_ticket_resolved(app, resolved, mailbox):
    s = resolved
    post_message(s.ticket, s.agent, "Glad it works", "st1")
    post_message(s.ticket, s.agent, "Note to self", "st2", internal=True)
    commit()
    assert _ticket(s.ticket.id).status == TicketStatus.RESOLVED
    assert _events(s.ticket.id)[-1][0] == "status"


def test_a_reply_to_a_resolved_ticket_whose_agent_left_goes_back_to_the_pool(
    app, resolved, mailbox
):
    s = resolved
    s.agent.active = False
    db.session.commit()
    post_message(db.session.get(Ticket, s.ticket.id), s.customer, "Hello?", "gone1")
    commit()
    ticket = _ticket(s.ticket.id)
    assert ticket.status == TicketStatus.OPEN and ticket.assignee_id is None
    assert _events(ticket.id)[-1] == ("reopen", "resolved", "open")


# -- item 6: priority and category ------------------------------------------------------------


def test_the_agent_sets_priority_and_category_with_events_and_no_email_to_themself(
    app, scene, mailbox
):
    s = scene(agent={"first_name": "Priya"})
    billing = create_category("Billing", actor=s.admin)
    commit()
    _mails(mailbox)
    A = _client(app, s.agent)
    r = A.post(
        f"/agent/tickets/{s.ticket.id}/fields",
        data={"priority": "urgent", "category": str(billing.id)},
        follow_redirects=True,
    )
    assert "Priority and category saved." in r.data.decode()
    ticket = _ticket(s.ticket.id)
    assert ticket.priority == Priority.URGENT and ticket.priority_rank == Priority.URGENT.rank
    assert ticket.category_id == billing.id
    assert _events(ticket.id)[-2:] == [
        ("priority", "normal", "urgent"),
        ("category", None, "Billing"),
    ]
    assert _mails(mailbox) == {}
    page = r.data.decode()
    assert f"{s.agent.full_name}</span> changed the priority from normal to urgent" in page
    assert "changed the category from none to Billing" in page
    assert re.search(r'<option selected value="urgent">|<option value="urgent" selected', page)


def test_an_admin_changing_priority_emails_the_agent(app, scene, mailbox):
    s = scene()
    _mails(mailbox)
    M = _client(app, s.admin)
    M.post(f"/admin/tickets/{s.ticket.id}/fields", data={"priority": "high", "category": ""})
    ticket = _ticket(s.ticket.id)
    assert ticket.priority == Priority.HIGH
    mails = _mails(mailbox)
    assert mails == {s.agent.email: [f"[{ticket.reference}] Priority changed: {ticket.subject}"]}


@pytest.mark.parametrize(
    "data, message",
    [
        ({"priority": "whenever", "category": ""}, "Not a valid choice"),
        ({"priority": "high", "category": "999999"}, "Choose a category from the list."),
        ({"priority": "high", "category": "x"}, "Choose a category from the list."),
    ],
)
def test_bad_priority_or_category_is_refused_and_changes_nothing(
    app, scene, mailbox, data, message
):
    s = scene()
    before = _events(s.ticket.id)
    A = _client(app, s.agent)
    r = A.post(f"/agent/tickets/{s.ticket.id}/fields", data=data, follow_redirects=True)
    assert r.status_code == 200 and message in r.data.decode()
    ticket = _ticket(s.ticket.id)
    assert ticket.priority == Priority.NORMAL and ticket.category_id is None
    assert _events(s.ticket.id) == before


def test_a_retired_category_cannot_be_chosen_but_a_ticket_may_keep_it(app, scene):
    s = scene()
    old = create_category("Old", actor=s.admin)
    commit()
    edit_ticket(s.ticket, priority="normal", category_id=old.id, actor=s.agent)
    commit()
    retire_category(old, actor=s.admin)
    new = create_category("Gone too", actor=s.admin)
    commit()
    retire_category(new, actor=s.admin)
    commit()
    # keeping the retired category while changing the priority is fine
    edit_ticket(_ticket(s.ticket.id), priority="low", category_id=old.id, actor=s.agent)
    commit()
    with pytest.raises(ServiceError, match="Choose a category from the list."):
        edit_ticket(_ticket(s.ticket.id), priority="low", category_id=new.id, actor=s.agent)
    assert _ticket(s.ticket.id).category_id == old.id


def test_only_staff_who_see_the_ticket_edit_it(app, scene, make_user):
    s = scene()
    other_agent = make_user(Role.AGENT)
    url = f"/agent/tickets/{s.ticket.id}/fields"
    assert _client(app, other_agent).post(url, data={"priority": "high"}).status_code == 404
    assert _client(app, s.customer).post(url, data={"priority": "high"}).status_code == 404
    with pytest.raises(Forbidden):
        edit_ticket(s.ticket, priority="high", category_id=None, actor=s.customer)
    assert _ticket(s.ticket.id).priority == Priority.NORMAL


# -- item 6: handing a ticket on ------------------------------------------------------------


def test_an_agent_hands_a_ticket_on_with_a_note_the_receiver_sees_first(
    app, scene, make_user, mailbox
):
    s = scene(agent={"first_name": "Sam"})
    priya = make_user(Role.AGENT, first_name="Priya", email="priya.t@example.com")
    _mails(mailbox)
    A = _client(app, s.agent)
    page = A.get(f"/agent/tickets/{s.ticket.id}").data.decode()
    assert f'<option value="{priya.id}">{priya.full_name}</option>' in page
    assert f'<option value="{s.agent.id}">' not in page  # not to themself
    r = A.post(
        f"/agent/tickets/{s.ticket.id}/transfer",
        data={"agent_id": str(priya.id), "note": "Customer prefers email; invoice 12 attached"},
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/agent/")
    ticket = _ticket(s.ticket.id)
    assert ticket.assignee_id == priya.id
    assert _events(ticket.id)[-1] == ("transferred", s.agent.full_name, priya.full_name)
    mails = _mails(mailbox)
    assert mails[priya.email] == [
        f"[{ticket.reference}] A ticket was assigned to you: {ticket.subject}"
    ]
    assert A.get(f"/agent/tickets/{ticket.id}").status_code == 404  # the giver lost access
    theirs = _client(app, priya).get(f"/agent/tickets/{ticket.id}").data.decode()
    top = theirs.index('id="handover-note"')
    assert top < theirs.index('id="messages"')
    assert "Customer prefers email; invoice 12 attached" in theirs[top : top + 200]
    assert f"{s.agent.full_name} handed this ticket on to you" in theirs
    # the admin sees the move on the timeline; the customer never sees the note
    admin_page = _client(app, s.admin).get(f"/admin/tickets/{ticket.id}").data.decode()
    assert f"{s.agent.full_name}</span> handed the ticket on to {priya.full_name}" in admin_page
    customer_page = _client(app, s.customer).get(f"/customer/tickets/{ticket.id}").data.decode()
    assert "invoice 12" not in customer_page


def test_a_hand_over_to_an_inactive_agent_is_refused_and_changes_nothing(
    app, scene, make_user, mailbox
):
    s = scene()
    away = make_user(Role.AGENT, first_name="Away")
    away.active = False
    db.session.commit()
    before = _events(s.ticket.id)
    _mails(mailbox)
    A = _client(app, s.agent)
    r = A.post(
        f"/agent/tickets/{s.ticket.id}/transfer",
        data={"agent_id": str(away.id), "note": "yours"},
        follow_redirects=True,
    )
    assert "Choose an active agent." in r.data.decode()
    with pytest.raises(ServiceError, match="Choose an active agent."):
        transfer_ticket(_ticket(s.ticket.id), away, "yours", actor=s.agent)
    db.session.rollback()
    ticket = _ticket(s.ticket.id)
    assert ticket.assignee_id == s.agent.id and _events(ticket.id) == before
    assert db.session.scalar(select(func.count(Message.id))) == 0
    assert _mails(mailbox) == {}


@pytest.mark.parametrize("problem", ["no note", "to themself", "to an admin", "to a customer"])
def test_a_bad_hand_over_is_refused_with_a_clear_message(app, scene, make_user, problem):
    s = scene()
    colleague = make_user(Role.AGENT)
    target, note = {
        "no note": (colleague, "   "),
        "to themself": (s.agent, "x"),
        "to an admin": (s.admin, "x"),
        "to a customer": (s.customer, "x"),
    }[problem]
    with pytest.raises(ServiceError) as refused:
        transfer_ticket(s.ticket, target, note, actor=s.agent)
    assert str(refused.value).startswith(("Write a note", "Choose"))
    db.session.rollback()
    assert _ticket(s.ticket.id).assignee_id == s.agent.id
    A = _client(app, s.agent)
    r = A.post(
        f"/agent/tickets/{s.ticket.id}/transfer",
        data={"agent_id": str(target.id), "note": note},
        follow_redirects=True,
    )
    assert r.status_code == 400 and "alert-danger" in r.data.decode()
    assert _ticket(s.ticket.id).assignee_id == s.agent.id


def test_only_the_tickets_agent_hands_it_on(app, scene, make_user):
    s = scene()
    colleague = make_user(Role.AGENT)
    other = make_user(Role.AGENT)
    url = f"/agent/tickets/{s.ticket.id}/transfer"
    data = {"agent_id": str(colleague.id), "note": "take it"}
    assert _client(app, other).post(url, data=data).status_code == 404
    with pytest.raises(Forbidden):
        transfer_ticket(s.ticket, colleague, "take it", actor=s.admin)
    db.session.rollback()
    assert _ticket(s.ticket.id).assignee_id == s.agent.id


def test_a_closed_ticket_is_not_handed_on(app, scene, make_user):
    s = scene()
    colleague = make_user(Role.AGENT)
    change_status(s.ticket, "close", actor=s.customer)
    commit()
    with pytest.raises(ServiceError, match="closed"):
        transfer_ticket(_ticket(s.ticket.id), colleague, "take it", actor=s.agent)


# -- item 7: the ticket page ------------------------------------------------------------------


def test_the_timeline_reads_in_words_with_the_absolute_time_on_hover(app, resolved):
    s = resolved
    rate_ticket(s.ticket, 4, None, actor=s.customer)
    commit()
    page = _client(app, s.customer).get(f"/customer/tickets/{s.ticket.id}").data.decode()
    timeline = page[page.index('id="timeline"') :]
    alice, priya = s.customer.full_name, s.agent.full_name
    assert f"{alice}</span> created the ticket" in timeline
    assert f"{priya}</span> resolved the ticket" in timeline
    assert f"{alice}</span> rated 4 of 5" in timeline
    assert "→" not in timeline and "rated:" not in timeline
    assert re.search(
        r'<time datetime="[0-9T:.\-]+Z" title="\d{4}-\d\d-\d\d \d\d:\d\d UTC">', timeline
    )


def test_change_your_rating_starts_from_the_rating_given(app, resolved):
    s = resolved
    rate_ticket(s.ticket, 4, "Quick", actor=s.customer)
    commit()
    page = _client(app, s.customer).get(f"/customer/tickets/{s.ticket.id}").data.decode()
    assert "Change your rating" in page
    assert re.search(r'<input checked[^>]*value="4"|<input[^>]*value="4"[^>]*checked', page)
    assert "Quick</textarea>" in page


def test_sent_and_read_come_from_the_stored_read_markers(app, scene):
    s = scene()
    post_message(s.ticket, s.customer, "first", "rd1")
    commit()
    C = _client(app, s.customer)

    def state():
        page = C.get(f"/customer/tickets/{s.ticket.id}").data.decode()
        return re.search(r'class="message mine"[^>]*data-state="(\w+)"', page).group(1)

    assert state() == "sent"
    _client(app, s.agent).get(f"/agent/tickets/{s.ticket.id}")  # the agent's page marks it read
    assert state() == "read"


def test_the_live_part_has_no_chrome_and_leaves_flash_messages_for_the_page(app, scene):
    s = scene()
    A = _client(app, s.agent)
    A.post(f"/agent/tickets/{s.ticket.id}/status", data={"verb": "start"})  # flashes
    part = A.get(f"/agent/tickets/{s.ticket.id}?part=live")
    assert part.status_code == 200 and part.headers["Cache-Control"] == "no-store"
    html = part.data.decode()
    assert "data-ticket-region" in html and "<nav" not in html and "<script" not in html
    assert "is now in progress" not in html
    assert "is now in progress" in A.get(f"/agent/tickets/{s.ticket.id}").data.decode()
