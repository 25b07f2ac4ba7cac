import pytest


@pytest.fixture
def convo(scene):
    """A ticket assigned to an agent: (ticket_id, customer, agent, admin)."""
    s = scene(customer={"first_name": "Cara"}, agent={"first_name": "Sam"})
    return s.ticket.id, s.customer, s.agent, s.admin
