import pytest

from ccr.models import Role
from ccr.services import tickets
from ccr.services.uow import commit


@pytest.fixture
def convo(app, make_user):
    """A ticket assigned to an agent: (ticket_id, customer, agent, admin)."""
    customer = make_user(Role.CUSTOMER, first_name="Cara")
    agent = make_user(Role.AGENT, first_name="Sam")
    admin = make_user(Role.ADMIN)
    ticket = tickets.open_ticket(actor=customer, subject="Help", description="It broke.")
    commit()
    tickets.assign_ticket(ticket, agent, actor=admin)
    commit()
    return ticket.id, customer, agent, admin
