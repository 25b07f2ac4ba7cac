"""The admin list over HTTP: its one agent picker and bulk toolbar (assign, priority, close),
the no-JavaScript round trip that comes back to the same filtered list, the pager's totals,
the count chips' lists, the empty states, and the page's weight with many agents."""

import re

from sqlalchemy import func, select

from ccr.extensions import db
from ccr.models import OutboxEmail, Role, Ticket, TicketEvent, TicketStatus
from ccr.services.tickets import assign_ticket, change_status, open_ticket
from ccr.services.uow import commit
from tests.support.users import login

REF = r">(CCR-\d{6})</a>"
JSON = {"Accept": "application/json"}


def _tickets(customer, n, **kw) -> list[Ticket]:
    out = [open_ticket(actor=customer, subject=f"T{i}", description="D", **kw) for i in range(n)]
    commit()
    return out


def _seen(t: Ticket) -> str:
    return f"{t.id}:{t.assignee_id or ''}"


def _events(verb: str) -> list[TicketEvent]:
    return list(db.session.scalars(select(TicketEvent).where(TicketEvent.verb == verb)))


def _mails(kind: str) -> int:
    return db.session.scalar(select(func.count()).where(OutboxEmail.kind == kind)) or 0


def test_bulk_assign_asks_once_then_assigns_each_ticket_with_its_event_and_emails(
    client, make_user
):
    admin = make_user(Role.ADMIN)
    ann = make_user(Role.AGENT, first_name="Ann")
    tickets = _tickets(make_user(Role.CUSTOMER), 3)
    login(client, admin)
    form = {
        "action": "assign",
        "agent_id": str(ann.id),
        "ticket": [_seen(t) for t in tickets],
        "next": "/admin/?unassigned=1&sort=age",
    }
    # without JavaScript: first a confirmation page, nothing changed yet
    ask = client.post("/admin/tickets/bulk", data=form)
    page = ask.data.decode()
    assert ask.status_code == 200 and "Assign 3 tickets to Ann Tester?" in page
    assert all(t.reference in page for t in tickets)
    assert _events("assigned") == []
    # confirmed: back to the same filtered list, every ticket assigned
    done = client.post("/admin/tickets/bulk", data={**form, "confirmed": "1"})
    assert done.status_code == 302
    assert done.headers["Location"] == "/admin/?unassigned=1&sort=age"
    db.session.expire_all()
    assert {t.assignee_id for t in db.session.scalars(select(Ticket))} == {ann.id}
    assert sorted(e.ticket_id for e in _events("assigned")) == sorted(t.id for t in tickets)
    assert _mails("ticket_assigned_agent") == 3 and _mails("ticket_assigned_customer") == 3
    followed = client.get(done.headers["Location"]).data.decode()
    assert "assigned to Ann Tester" in followed


def test_a_rows_assign_button_uses_the_pages_picker_and_needs_no_confirmation(client, make_user):
    admin = make_user(Role.ADMIN)
    ann = make_user(Role.AGENT, first_name="Ann")
    [ticket] = _tickets(make_user(Role.CUSTOMER), 1)
    login(client, admin)
    nobody = client.post(
        "/admin/tickets/bulk", data={"only": _seen(ticket), "agent_id": ""}, headers=JSON
    )
    assert nobody.status_code == 400 and "Choose an agent" in nobody.json["error"]
    ok = client.post(
        "/admin/tickets/bulk", data={"only": _seen(ticket), "agent_id": str(ann.id)}, headers=JSON
    )
    assert ok.status_code == 200 and ok.json["ok"]
    assert ok.json["tickets"][0]["assignee_id"] == ann.id
    # without JavaScript the same button redirects back to the list it came from
    bob = make_user(Role.AGENT, first_name="Bob")
    plain = client.post(
        "/admin/tickets/bulk",
        data={"only": f"{ticket.id}:{ann.id}", "agent_id": str(bob.id), "next": "/admin/?q=T0"},
    )
    assert plain.status_code == 302 and plain.headers["Location"] == "/admin/?q=T0"
    db.session.refresh(ticket)
    assert ticket.assignee_id == bob.id


def test_a_stale_selection_changes_nothing_and_says_which_ticket(client, make_user):
    admin = make_user(Role.ADMIN)
    ann = make_user(Role.AGENT, first_name="Ann")
    bob = make_user(Role.AGENT, first_name="Bob")
    first, second = _tickets(make_user(Role.CUSTOMER), 2)
    seen = [_seen(first), _seen(second)]  # both unassigned when the page was drawn
    assign_ticket(second, bob, actor=admin)  # ... then another admin took the second
    commit()
    login(client, admin)
    answer = client.post(
        "/admin/tickets/bulk",
        data={"action": "assign", "agent_id": str(ann.id), "ticket": seen, "confirmed": "1"},
        headers=JSON,
    )
    assert answer.status_code == 409 and answer.json["ok"] is False
    assert "Nothing was changed" in answer.json["error"]
    assert f"{second.reference} was just assigned to Bob Tester" in answer.json["error"]
    assert [t["assignee_id"] for t in answer.json["tickets"]] == [bob.id]  # as it is now
    db.session.expire_all()
    assert db.session.get(Ticket, first.id).assignee_id is None  # the good one was not kept
    assert [e.ticket_id for e in _events("assigned")] == [second.id]


def test_bad_selections_get_a_clear_message_and_change_nothing(client, make_user):
    admin = make_user(Role.ADMIN)
    ann = make_user(Role.AGENT)
    customer = make_user(Role.CUSTOMER)
    [ticket] = _tickets(customer, 1)
    login(client, admin)
    base = {"confirmed": "1", "agent_id": str(ann.id), "priority": "high"}
    cases = [
        ({"action": "assign"}, "Select at least one ticket"),
        ({"action": "explode", "ticket": [_seen(ticket)]}, "Choose an action"),
        ({"action": "assign", "ticket": ["1;DROP", "x"]}, "not one this page offers"),
        ({"action": "assign", "ticket": ["999999:"]}, "CCR-999999 no longer exists"),
        ({"action": "assign", "ticket": [str(i) for i in range(1, 102)]}, "at most 100"),
        ({"action": "assign", "agent_id": str(customer.id), "ticket": [_seen(ticket)]}, "agent"),
        ({"action": "priority", "priority": "urgent!", "ticket": [_seen(ticket)]}, "priority"),
    ]
    for extra, message in cases:
        answer = client.post("/admin/tickets/bulk", data={**base, **extra}, headers=JSON)
        assert answer.status_code == 400, extra
        assert message in answer.json["error"], (extra, answer.json)
    # the same without JavaScript: a message on the list, never an error page
    plain = client.post("/admin/tickets/bulk", data={"action": "close", "next": "/admin/?q=x"})
    assert plain.status_code == 302 and plain.headers["Location"] == "/admin/?q=x"
    assert "Select at least one ticket" in client.get("/admin/?q=x").data.decode()
    # a `next` that is not the admin list is not followed
    away = client.post("/admin/tickets/bulk", data={"action": "close", "next": "//evil.test/"})
    assert away.headers["Location"] == "/admin/"
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).status == TicketStatus.OPEN
    assert [e.verb for e in db.session.scalars(select(TicketEvent))] == ["created"]


def test_bulk_priority_and_close_use_the_ticket_verbs(client, make_user):
    admin = make_user(Role.ADMIN)
    ann = make_user(Role.AGENT)
    customer = make_user(Role.CUSTOMER)
    a, b, c = _tickets(customer, 3)
    assign_ticket(a, ann, actor=admin)
    commit()
    login(client, admin)
    seen = [_seen(a), _seen(b), _seen(c)]
    answer = client.post(
        "/admin/tickets/bulk",
        data={"action": "priority", "priority": "urgent", "ticket": seen, "confirmed": "1"},
        headers=JSON,
    )
    assert answer.status_code == 200, answer.json
    assert [e.new_value for e in _events("priority")] == ["urgent"] * 3
    db.session.expire_all()
    assert {t.priority.value for t in db.session.scalars(select(Ticket))} == {"urgent"}
    # already urgent: left alone and said so, not an error
    again = client.post(
        "/admin/tickets/bulk",
        data={"action": "priority", "priority": "urgent", "ticket": seen[:1], "confirmed": "1"},
        headers=JSON,
    )
    assert again.status_code == 200 and "already urgent priority" in again.json["message"]
    mails = _mails("ticket_status")
    closed = client.post(
        "/admin/tickets/bulk",
        data={"action": "close", "ticket": seen, "confirmed": "1"},
        headers=JSON,
    )
    assert closed.status_code == 200 and closed.json["ok"]
    assert sorted(e.ticket_id for e in _events("close")) == sorted([a.id, b.id, c.id])
    # as a single close: the customer hears of each, the agent of theirs
    assert _mails("ticket_status") - mails == 4


def test_the_pager_shows_totals_and_numbered_pages(app, client, make_user):
    admin = make_user(Role.ADMIN)
    ann = make_user(Role.AGENT)
    customer = make_user(Role.CUSTOMER)
    tickets = _tickets(customer, 60)
    for t in tickets[:30]:
        assign_ticket(t, ann, actor=admin)
    commit()
    login(client, admin)
    page2 = client.get("/admin/?page=2").data.decode()
    assert "Showing 26–50 of 60" in page2
    assert 'aria-current="page">2<' in page2
    assert 'href="/admin/?page=3"' in page2 and 'href="/admin/?page=1"' in page2
    assert "Showing 1–25 of 30" in client.get(f"/admin/?agent={ann.id}").data.decode()
    assert "Showing 1–25 of 30" in client.get("/admin/?unassigned=1").data.decode()
    # a filter the counters do not keep: counted
    assert "Showing 1–11 of 11" in client.get("/admin/?q=T1").data.decode()
    # the agent's queue and the customer's list say it too
    agent_client, customer_client = app.test_client(), app.test_client()
    login(agent_client, ann)
    assert "Showing 1–25 of 30" in agent_client.get("/agent/").data.decode()
    login(customer_client, customer)
    assert "Showing 51–60 of 60" in customer_client.get("/customer/?page=3").data.decode()


def test_bounded_totals_stop_counting_at_the_cap(app, make_user):
    from ccr.services import queries

    customer = make_user(Role.CUSTOMER)
    _tickets(customer, 5)
    query = queries.admin_tickets(queries.parse_args({"q": "T"}))
    assert queries.bounded_total(query, cap=3) == queries.Total(3, capped=True)
    assert queries.bounded_total(query, cap=5) == queries.Total(5, capped=False)


def test_each_chip_links_to_the_list_of_exactly_what_it_counts(client, make_user):
    admin = make_user(Role.ADMIN)
    ann = make_user(Role.AGENT)
    customer = make_user(Role.CUSTOMER)
    pool, mine, done, shut = _tickets(customer, 4)
    assign_ticket(mine, ann, actor=admin)
    assign_ticket(done, ann, actor=admin)
    commit()
    change_status(done, "resolve", actor=ann)
    change_status(shut, "close", actor=customer)  # closed while unassigned
    commit()
    login(client, admin)
    page = client.get("/admin/").data.decode()

    def chip(pattern):
        href, count = re.search(pattern, page, re.S).groups()
        listed = re.findall(REF, client.get(href.replace("&amp;", "&")).data.decode())
        return int(count), sorted(listed)

    assert chip(r'href="([^"]+)">Open <span[^>]*id="count-open">(\d+)<') == (
        2,
        sorted([pool.reference, mine.reference]),
    )
    assert chip(r'href="([^"]+)">Unassigned <span[^>]*>(\d+)<') == (1, [pool.reference])
    assert chip(r'href="([^"]+)">Resolved today <span[^>]*>(\d+)<') == (1, [done.reference])
    assert chip(rf'data-agent-count="{ann.id}" href="([^"]+)">.*?>(\d+)<') == (
        1,
        [mine.reference],
    )


def test_empty_states_say_what_to_do_next(app, client, make_user):
    admin = make_user(Role.ADMIN)
    login(client, admin)
    page = client.get("/admin/?unassigned=1").data.decode()
    assert "No unassigned tickets" in page and "new tickets appear here" in page
    assert "No tickets match these filters" in client.get("/admin/?q=zzz").data.decode()
    assert 'href="/admin/agents"' in client.get("/admin/").data.decode()
    agent_client, customer_client = app.test_client(), app.test_client()
    login(agent_client, make_user(Role.AGENT))
    assert "Your queue is empty" in agent_client.get("/agent/").data.decode()
    login(customer_client, make_user(Role.CUSTOMER))
    page = customer_client.get("/customer/").data.decode()
    assert "You have no tickets yet" in page and 'href="/customer/tickets/new"' in page
    assert "past the end" in customer_client.get("/customer/?page=7").data.decode()


def test_a_page_of_25_rows_stays_under_60_kb_with_200_agents(client, make_user):
    admin = make_user(Role.ADMIN)
    agents = [
        make_user(
            Role.AGENT,
            first_name=f"Maximiliana-Josephine {i:03d}",
            last_name="Featherstonehaugh-Worthington",
        )
        for i in range(200)
    ]
    customer = make_user(Role.CUSTOMER)
    tickets = _tickets(customer, 30)
    for t, agent in zip(tickets, agents, strict=False):
        assign_ticket(t, agent, actor=admin)
    commit()
    login(client, admin)
    page = client.get("/admin/").data
    assert len(re.findall(REF, page.decode())) == 25
    assert len(page) < 60 * 1024, len(page)
    # every agent once, in the one picker, the name in full (agent 199 has no ticket row)
    assert page.decode().count("Maximiliana-Josephine 199 Featherstonehaugh-Worthington") == 1
    # no select per row: the four filters, the agent picker and the bulk priority
    assert page.decode().count("<select") == 6


def test_the_pickers_show_their_tickets_keeps_the_other_filters(client, make_user):
    admin = make_user(Role.ADMIN)
    ann = make_user(Role.AGENT, first_name="Ann")
    customer = make_user(Role.CUSTOMER)
    mine, other = _tickets(customer, 2, priority="high")
    assign_ticket(mine, ann, actor=admin)
    commit()
    login(client, admin)
    shown = client.post(
        "/admin/tickets/bulk",
        data={"action": "filter", "agent_id": str(ann.id), "next": "/admin/?priority=high&page=2"},
    )
    assert shown.status_code == 302
    assert shown.headers["Location"] == f"/admin/?priority=high&agent={ann.id}"
    page = client.get(shown.headers["Location"]).data.decode()
    assert re.findall(REF, page) == [mine.reference] and "Tickets of <strong>Ann Tester" in page
    everyone = client.post(
        "/admin/tickets/bulk",
        data={"action": "filter", "agent_id": "", "next": f"/admin/?agent={ann.id}&priority=high"},
    )
    assert everyone.headers["Location"] == "/admin/?priority=high"
    assert other.assignee_id is None
