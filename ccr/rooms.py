"""Every Socket.IO room name is built here, from ids the server has checked."""


def ticket(ticket_id: int) -> str:
    """Participants of a ticket's conversation (customer, assignee, admins watching)."""
    return f"ticket:{int(ticket_id)}"


def ticket_staff(ticket_id: int) -> str:
    """Staff viewing a ticket: internal notes go here and never to the customer."""
    return f"ticket-staff:{int(ticket_id)}"


def user(user_id: int) -> str:
    """Every socket of one user (dashboards, badges, forced disconnects)."""
    return f"user:{int(user_id)}"


def agents() -> str:
    return "agents"


def admins() -> str:
    return "admins"
