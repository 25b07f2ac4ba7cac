"""The services reach live sockets only through ccr.services.live: pushes, revocations and
disconnects go out after the commit and never for a rolled-back change."""

import pytest

from ccr.extensions import db
from ccr.models import Role, Ticket
from ccr.realtime import Sockets
from ccr.services import live, tickets, users
from ccr.services.uow import commit, rollback


class Recorder:
    """A Live that records what the services asked of it."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def emit(self, event, data, room, skip_sid=None):
        self.calls.append(("emit", event, room))

    def watching_sids(self, user_id, ticket_id):
        return []

    def is_watching(self, user_id, ticket_id):
        return False

    def revoke(self, user_id, ticket_id):
        self.calls.append(("revoke", user_id, ticket_id))

    def disconnect_user(self, user_id):
        self.calls.append(("disconnect_user", user_id))


@pytest.fixture
def recorder(app, monkeypatch):
    rec = Recorder()
    monkeypatch.setattr(live, "_live", rec)
    return rec


def test_create_app_binds_the_realtime_sockets(app):
    assert isinstance(live._live, Sockets)


def test_a_reassignment_pushes_and_revokes_the_old_agent_only_after_the_commit(recorder, make_user):
    admin, old, new = make_user(Role.ADMIN), make_user(Role.AGENT), make_user(Role.AGENT)
    ticket = tickets.open_ticket(actor=make_user(Role.CUSTOMER), subject="S", description="D")
    tickets.assign_ticket(ticket, old, actor=admin)
    commit()
    recorder.calls.clear()

    tickets.assign_ticket(db.session.get(Ticket, ticket.id), new, actor=admin)
    assert recorder.calls == []
    commit()
    assert ("revoke", old.id, ticket.id) in recorder.calls
    assert ("emit", "ticket_assigned", f"user:{new.id}") in recorder.calls
    assert ("emit", "ticket_unassigned", f"user:{old.id}") in recorder.calls


def test_a_rolled_back_change_reaches_no_socket(recorder, make_user):
    admin, agent = make_user(Role.ADMIN), make_user(Role.AGENT)
    ticket = tickets.open_ticket(actor=make_user(Role.CUSTOMER), subject="S", description="D")
    commit()
    recorder.calls.clear()
    tickets.assign_ticket(db.session.get(Ticket, ticket.id), agent, actor=admin)
    users.end_all_sessions(agent)
    rollback()
    commit()
    assert recorder.calls == []


def test_ending_all_sessions_disconnects_the_users_sockets_after_the_commit(recorder, make_user):
    user = make_user(Role.CUSTOMER)
    users.end_all_sessions(user)
    assert recorder.calls == []
    commit()
    assert recorder.calls == [("disconnect_user", user.id)]


def test_before_create_app_binds_it_any_use_is_a_wiring_error():
    with pytest.raises(RuntimeError, match="not bound"):
        live._Unbound().is_watching(1, 2)
