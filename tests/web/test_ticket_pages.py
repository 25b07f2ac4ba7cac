"""The three dashboards and the ticket pages over HTTP: forms, lists, filters, actions."""

import re

from sqlalchemy import select

from ccr.extensions import db
from ccr.models import Category, Message, Role, Ticket, TicketEvent, TicketStatus
from ccr.services.categories import create_category
from ccr.services.messages import post_message
from ccr.services.tickets import assign_ticket, change_status, open_ticket
from ccr.services.uow import commit
from tests.support.users import login

REF = r">(CCR-\d{6})</a>"  # the link in each list row


def _ticket(customer, subject="Printer on fire", **kw) -> Ticket:
    ticket = open_ticket(
        actor=customer, subject=subject, description=kw.pop("description", "It burns."), **kw
    )
    commit()
    return ticket


def _category(admin, name="Billing") -> Category:
    category = create_category(name, actor=admin)
    commit()
    return category


def test_customer_raises_a_ticket_and_lands_on_its_page(client, make_user):
    admin = make_user(Role.ADMIN)
    billing = _category(admin)
    customer = make_user(Role.CUSTOMER)
    login(client, customer)
    form = client.get("/customer/tickets/new")
    assert form.status_code == 200 and b"Billing" in form.data
    response = client.post(
        "/customer/tickets/new",
        data={
            "subject": "Invoice wrong",
            "description": "Line one\r\nLine two",
            "category": str(billing.id),
            "priority": "high",
        },
    )
    assert response.status_code == 302
    ticket = db.session.scalars(select(Ticket)).one()
    assert response.headers["Location"].endswith(f"/customer/tickets/{ticket.id}")
    assert ticket.description == "Line one\nLine two"
    assert ticket.category_id == billing.id and ticket.priority.value == "high"
    page = client.get(response.headers["Location"])
    assert ticket.reference.encode() in page.data
    assert b"Line one\nLine two" in page.data  # line breaks kept (pre-wrap)


def test_new_ticket_form_rejects_bad_input_and_changes_nothing(client, login_as):
    login_as(Role.CUSTOMER)
    for data in (
        {"subject": "", "description": "x", "priority": "normal"},
        {"subject": "x" * 201, "description": "x", "priority": "normal"},
        {"subject": "ok", "description": "x" * 10_001, "priority": "normal"},
        {"subject": "ok", "description": "x", "priority": "critical"},
        {"subject": "ok", "description": "x", "priority": "normal", "category": "999"},
    ):
        response = client.post("/customer/tickets/new", data=data)
        assert response.status_code == 400, data
    assert db.session.scalars(select(Ticket)).all() == []


def test_a_retired_category_is_not_offered(client, make_user):
    from ccr.services.categories import retire_category

    admin = make_user(Role.ADMIN)
    old = _category(admin, "Old stuff")
    retire_category(old, actor=admin)
    commit()
    login(client, make_user(Role.CUSTOMER))
    assert b"Old stuff" not in client.get("/customer/tickets/new").data
    response = client.post(
        "/customer/tickets/new",
        data={"subject": "s", "description": "d", "priority": "low", "category": str(old.id)},
    )
    assert response.status_code == 400


def test_posting_assignee_status_or_customer_on_the_new_ticket_form_is_ignored(client, make_user):
    agent = make_user(Role.AGENT)
    other = make_user(Role.CUSTOMER)
    customer = make_user(Role.CUSTOMER)
    login(client, customer)
    response = client.post(
        "/customer/tickets/new",
        data={
            "subject": "Mass assignment",
            "description": "d",
            "priority": "normal",
            "assignee_id": str(agent.id),
            "status": "resolved",
            "customer_id": str(other.id),
            "rating": "5",
            "role": "admin",
        },
    )
    assert response.status_code == 302
    ticket = db.session.scalars(select(Ticket)).one()
    assert ticket.assignee_id is None
    assert ticket.status == TicketStatus.OPEN
    assert ticket.customer_id == customer.id
    assert ticket.rating is None
    db.session.refresh(customer)
    assert customer.role == Role.CUSTOMER


def test_my_tickets_tabs_count_search_and_newest_activity_first(client, make_user):
    admin = make_user(Role.ADMIN)
    agent = make_user(Role.AGENT)
    customer = make_user(Role.CUSTOMER)
    a = _ticket(customer, "Alpha router", description="blinking lights")
    b = _ticket(customer, "Beta invoice", description="wrong total")
    c = _ticket(customer, "Gamma login", description="password 100%_done")
    _ticket(make_user(Role.CUSTOMER), "Someone else's alpha")
    assign_ticket(b, agent, actor=admin)
    change_status(b, "wait", actor=agent)
    commit()
    login(client, customer)

    page = client.get("/customer/").data.decode()
    refs = re.findall(REF, page)
    assert refs == [b.reference, c.reference, a.reference]  # b had the latest activity
    assert "Someone else" not in page
    counts = dict(re.findall(r'data-tab="(\w+)".*?tab-count">(\d+)<', page, re.S))
    assert counts == {
        "open": "2",
        "in_progress": "0",
        "waiting": "1",
        "resolved": "0",
        "closed": "0",
    }

    waiting = client.get("/customer/?tab=waiting").data.decode()
    assert re.findall(REF, waiting) == [b.reference]
    found = client.get("/customer/?q=ALPHA").data.decode()
    assert re.findall(REF, found) == [a.reference]
    assert re.findall(REF, client.get("/customer/?q=total").data.decode()) == [b.reference]
    # LIKE wildcards are searched as text, not patterns
    assert re.findall(REF, client.get("/customer/?q=0%25_d").data.decode()) == [c.reference]
    assert re.findall(REF, client.get("/customer/?q=%25").data.decode()) == [c.reference]
    # an unknown tab is ignored, not an error
    assert client.get("/customer/?tab=drop+table").status_code == 200


def test_my_tickets_paginates_without_losing_filters(client, make_user):
    customer = make_user(Role.CUSTOMER)
    for i in range(27):
        _ticket(customer, f"Printer {i}")
    login(client, customer)
    first = client.get("/customer/?q=printer").data.decode()
    assert len(re.findall(r'data-ticket-id="', first)) == 25
    assert "page=2" in first and "q=printer" in first
    second = client.get("/customer/?q=printer&page=2").data.decode()
    assert len(re.findall(r'data-ticket-id="', second)) == 2


def test_customer_sees_agent_name_never_email_and_no_internal_notes(client, scene):
    s = scene(agent={"first_name": "Ada", "last_name": "Lovelace"})
    agent, customer, ticket = s.agent, s.customer, s.ticket
    post_message(ticket, agent, "Secret staff note", "c1", internal=True)
    post_message(ticket, agent, "Hello from support", "c2")
    login(client, customer)
    page = client.get(f"/customer/tickets/{ticket.id}").data.decode()
    assert "Ada Lovelace" in page and agent.email not in page
    assert "Hello from support" in page and "Secret staff note" not in page
    assert "assigned" in page  # timeline


def test_customer_close_has_a_confirm_step_then_reopen_and_rate(client, scene):
    s = scene()
    admin, agent, customer, ticket = s.admin, s.agent, s.customer, s.ticket
    login(client, customer)
    page = client.get(f"/customer/tickets/{ticket.id}").data.decode()
    assert f"/customer/tickets/{ticket.id}/close" in page
    confirm = client.get(f"/customer/tickets/{ticket.id}/close")
    assert confirm.status_code == 200 and b"Yes, close the ticket" in confirm.data
    db.session.refresh(ticket)
    assert ticket.status == TicketStatus.ASSIGNED  # GET changed nothing
    client.post(f"/customer/tickets/{ticket.id}/status", data={"verb": "close"})
    db.session.refresh(ticket)
    assert ticket.status == TicketStatus.CLOSED and ticket.closed_at is not None

    response = client.post(
        f"/customer/tickets/{ticket.id}/rating", data={"rating": "4", "comment": "Quick, thanks"}
    )
    assert response.status_code == 302
    db.session.refresh(ticket)
    assert ticket.rating == 4 and ticket.rating_comment == "Quick, thanks"
    client.post(f"/customer/tickets/{ticket.id}/status", data={"verb": "reopen"})
    db.session.refresh(ticket)
    assert ticket.status == TicketStatus.ASSIGNED and ticket.closed_at is None

    # agent and admin see the rating
    client.post("/logout")
    login(client, agent)
    assert b"Quick, thanks" in client.get(f"/agent/tickets/{ticket.id}").data
    client.post("/logout")
    login(client, admin)
    assert b"Quick, thanks" in client.get(f"/admin/tickets/{ticket.id}").data


def test_rating_is_refused_before_resolution_and_out_of_range(client, make_user):
    customer = make_user(Role.CUSTOMER)
    ticket = _ticket(customer)
    login(client, customer)
    client.post(f"/customer/tickets/{ticket.id}/rating", data={"rating": "5"})
    client.post(f"/customer/tickets/{ticket.id}/rating", data={"rating": "9"})
    db.session.refresh(ticket)
    assert ticket.rating is None


def test_agent_queue_sorts_filters_and_counts_unread(client, make_user):
    admin = make_user(Role.ADMIN)
    agent = make_user(Role.AGENT)
    customer = make_user(Role.CUSTOMER)
    low = _ticket(customer, "Low one", priority="low")
    urgent = _ticket(customer, "Urgent one", priority="urgent")
    normal = _ticket(customer, "Normal one", priority="normal")
    mine_not = _ticket(customer, "Not mine")
    for t in (low, urgent, normal):
        assign_ticket(t, agent, actor=admin)
        commit()
    change_status(normal, "start", actor=agent)
    commit()
    post_message(urgent, customer, "Are you there?", "m1")
    post_message(urgent, customer, "Hello?", "m2")
    login(client, agent)

    def refs(url):
        return re.findall(REF, client.get(url).data.decode())

    assert mine_not.reference not in refs("/agent/")
    assert refs("/agent/?sort=priority") == [urgent.reference, normal.reference, low.reference]
    assert refs("/agent/?sort=age") == [low.reference, urgent.reference, normal.reference]
    assert refs("/agent/?status=in_progress") == [normal.reference]
    # values outside the allowlist are ignored
    assert client.get("/agent/?sort=id;drop&status=bogus").status_code == 200
    assert len(refs("/agent/?sort=id;drop&status=bogus")) == 3

    queue = client.get("/agent/").data.decode()
    assert re.search(
        rf'data-ticket-id="{urgent.id}".*?class="badge text-bg-danger unread"[^>]*>2<', queue, re.S
    )
    client.get(f"/agent/tickets/{urgent.id}")  # viewing marks read
    queue = client.get("/agent/").data.decode()
    assert 'unread"' not in queue.split(f'data-ticket-id="{urgent.id}"')[1].split("</tr>")[0]


def test_agent_ticket_page_shows_customer_and_only_visible_other_tickets(client, make_user):
    admin = make_user(Role.ADMIN)
    agent = make_user(Role.AGENT)
    customer = make_user(Role.CUSTOMER, first_name="Carla", last_name="Client")
    shown = _ticket(customer, "Shown ticket")
    mine = _ticket(customer, "Other mine")
    hidden = _ticket(customer, "Hidden other")
    for t in (shown, mine):
        assign_ticket(t, agent, actor=admin)
        commit()
    login(client, agent)
    page = client.get(f"/agent/tickets/{shown.id}").data.decode()
    assert "Carla Client" in page and customer.email in page
    assert mine.reference in page and hidden.reference not in page
    for label in ("Start work", "Wait on customer", "Resolve"):
        assert label in page
    assert 'name="verb" value="close"' not in page


def test_agent_status_buttons_walk_the_ticket(client, scene):
    s = scene()
    agent, ticket = s.agent, s.ticket
    login(client, agent)
    for verb, status in [
        ("start", "in_progress"),
        ("wait", "waiting_on_customer"),
        ("start", "in_progress"),
        ("resolve", "resolved"),
    ]:
        assert (
            client.post(f"/agent/tickets/{ticket.id}/status", data={"verb": verb}).status_code
            == 302
        )
        db.session.refresh(ticket)
        assert ticket.status.value == status
    assert ticket.resolved_at is not None
    # an illegal verb is a clear error that changes nothing
    response = client.post(
        f"/agent/tickets/{ticket.id}/status", data={"verb": "wait"}, follow_redirects=True
    )
    assert "not possible while the ticket is resolved" in response.data.decode()
    db.session.refresh(ticket)
    assert ticket.status == TicketStatus.RESOLVED


def test_admin_list_filters_counts_and_sorting(client, make_user):
    admin = make_user(Role.ADMIN)
    ann = make_user(Role.AGENT, first_name="Ann")
    bob = make_user(Role.AGENT, first_name="Bob")
    billing = _category(admin, "Billing")
    customer = make_user(Role.CUSTOMER)
    t1 = _ticket(customer, "One", priority="urgent", category_id=billing.id)
    t2 = _ticket(customer, "Two", priority="low")
    t3 = _ticket(customer, "Three")
    t4 = _ticket(customer, "Four")
    assign_ticket(t1, ann, actor=admin)
    assign_ticket(t2, bob, actor=admin)
    assign_ticket(t3, ann, actor=admin)
    commit()
    change_status(t3, "resolve", actor=ann)
    commit()
    login(client, admin)

    def refs(url):
        return re.findall(REF, client.get(url).data.decode())

    page = client.get("/admin/").data.decode()
    assert re.search(r'id="count-open">3<', page)
    assert re.search(r'id="count-unassigned">1<', page)
    assert re.search(r'id="count-resolved-today">1<', page)
    assert re.search(rf'data-agent-count="{ann.id}".*?>1<', page, re.S)
    assert refs("/admin/?unassigned=1") == [t4.reference]
    assert set(refs(f"/admin/?agent={ann.id}")) == {t1.reference, t3.reference}
    assert refs(f"/admin/?category={billing.id}") == [t1.reference]
    assert refs("/admin/?priority=low") == [t2.reference]
    assert refs("/admin/?status=resolved") == [t3.reference]
    assert refs("/admin/?q=thr") == [t3.reference]
    assert refs("/admin/?sort=priority")[0] == t1.reference
    assert refs("/admin/?sort=age") == [t1.reference, t2.reference, t3.reference, t4.reference]
    # outside the allowlist: ignored, never an error
    assert len(refs("/admin/?sort=subject&status=x&priority=y&category=z&agent=-1")) == 4


def test_admin_assigns_without_js_and_with_fetch(client, make_user):
    admin = make_user(Role.ADMIN)
    ann = make_user(Role.AGENT, first_name="Ann")
    bob = make_user(Role.AGENT, first_name="Bob")
    customer = make_user(Role.CUSTOMER)
    ticket = _ticket(customer)
    login(client, admin)
    page = client.get(f"/admin/tickets/{ticket.id}").data.decode()
    assert 'src="/static/js/assign.js" nonce="' in page
    assert f'action="/admin/tickets/{ticket.id}/assign"' in page

    response = client.post(f"/admin/tickets/{ticket.id}/assign", data={"agent_id": str(ann.id)})
    assert response.status_code == 302
    db.session.refresh(ticket)
    assert ticket.assignee_id == ann.id and ticket.status == TicketStatus.ASSIGNED

    response = client.post(
        f"/admin/tickets/{ticket.id}/assign",
        data={"agent_id": str(bob.id)},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200 and response.json["ok"] is True
    assert response.json["ticket"]["assignee_name"] == bob.full_name
    db.session.refresh(ticket)
    assert ticket.assignee_id == bob.id

    bad = client.post(
        f"/admin/tickets/{ticket.id}/assign",
        data={"agent_id": str(customer.id)},
        headers={"Accept": "application/json"},
    )
    assert bad.status_code == 400 and bad.json["ok"] is False and bad.json["error"]
    db.session.refresh(ticket)
    assert ticket.assignee_id == bob.id
    verbs = [e.verb for e in db.session.scalars(select(TicketEvent).order_by(TicketEvent.id))]
    assert verbs == ["created", "assigned", "status", "reassigned"]


def test_assign_js_sends_the_csrf_token_from_the_meta_tag():
    from pathlib import Path

    js = (Path(__file__).resolve().parents[2] / "static/js/assign.js").read_text()
    assert 'meta[name="csrf-token"]' in js and "X-CSRFToken" in js


def test_admin_manages_categories(client, make_user):
    login(client, make_user(Role.ADMIN))
    client.post("/admin/categories", data={"name": "  Billing  "})
    [cat] = db.session.scalars(select(Category)).all()
    assert cat.name == "Billing" and not cat.retired
    dup = client.post("/admin/categories", data={"name": "billing"}, follow_redirects=True)
    assert "already exists" in dup.data.decode()
    client.post(f"/admin/categories/{cat.id}/rename", data={"name": "Invoices"})
    client.post(f"/admin/categories/{cat.id}/retire")
    db.session.refresh(cat)
    assert cat.name == "Invoices" and cat.retired
    assert db.session.scalars(select(Category)).all() == [cat]
    page = client.get("/admin/categories").data.decode()
    assert "Invoices" in page and "Retired" in page


def test_admin_audit_log_lists_events(client, scene):
    s = scene(agent={"first_name": "Zed"})
    admin, ticket = s.admin, s.ticket
    login(client, admin)
    page = client.get("/admin/audit").data.decode()
    assert ticket.reference in page and "assigned" in page and "Zed Tester" in page


def test_agent_first_reply_stamps_first_response_and_customer_reply_restarts(client, scene):
    s = scene()
    agent, customer, ticket = s.agent, s.customer, s.ticket
    post_message(ticket, agent, "note", "n1", internal=True)
    assert ticket.first_response_at is None  # an internal note is not a response
    post_message(ticket, agent, "On it", "r1")
    assert ticket.first_response_at is not None
    change_status(ticket, "wait", actor=agent)
    commit()
    login(client, customer)
    client.post(
        f"/chat/tickets/{ticket.id}/messages", data={"body": "Here you go", "client_id": "x1"}
    )
    db.session.refresh(ticket)
    assert ticket.status == TicketStatus.IN_PROGRESS
    assert db.session.scalar(select(Message).where(Message.client_id == "x1")) is not None


def test_the_admin_list_has_one_agent_picker_and_rows_that_name_their_agent(client, make_user):
    admin = make_user(Role.ADMIN)
    ann = make_user(Role.AGENT, first_name="Ann")
    bob = make_user(Role.AGENT, first_name="<b>Bob</b>")
    gone = make_user(Role.AGENT, first_name="Gone")
    customer = make_user(Role.CUSTOMER)
    tickets = [_ticket(customer, subject=f"T{i}") for i in range(4)]
    for ticket, agent in zip(tickets, (ann, bob, gone), strict=False):
        assign_ticket(ticket, agent, actor=admin)
    commit()
    from ccr.services.staff import deactivate_user

    deactivate_user(gone, actor=admin)
    commit()
    login(client, admin)
    page = client.get("/admin/").data.decode()

    picker = re.search(r'<select id="bulk-agent" name="agent_id".*?</select>', page, re.S).group(0)
    offered = re.findall(r'<option value="(\d+)"', picker)
    # the active agents by name, once for the page (not per row); a deactivated one is not offered
    assert offered == [str(u.id) for u in sorted([ann, bob], key=lambda u: u.first_name)]
    assert page.count('name="agent_id"') == 1
    # each row's checkbox and Assign button carry the assignee the row shows
    for ticket, agent in zip(tickets, (ann, bob, gone, None), strict=True):
        seen = f"{ticket.id}:{agent.id if agent else ''}"
        assert page.count(f'value="{seen}"') == 2, seen
    assert "&lt;b&gt;Bob&lt;/b&gt; Tester" in page and "<b>Bob</b>" not in page
    # no form (and CSRF field) per row: the toolbar's and the log-out button's; no duplicate ids
    assert page.count('name="csrf_token"') == 2
    assert 'id="csrf_token"' not in page
