"""Pure predicates about who may do what. No queries, no side effects."""

from ccr.models import Role, Ticket, TicketSnapshot, User


def is_admin(user: User | None) -> bool:
    return user is not None and user.is_active and user.role == Role.ADMIN


def is_agent(user: User | None) -> bool:
    return user is not None and user.is_active and user.role == Role.AGENT


def can_view_ticket(user: User | None, ticket: Ticket | TicketSnapshot | None) -> bool:
    if user is None or ticket is None or not user.is_active:
        return False
    if user.role == Role.ADMIN:
        return True
    if user.role == Role.AGENT:
        return ticket.assignee_id == user.id
    return ticket.customer_id == user.id


def can_see_internal_notes(user: User | None, ticket: Ticket | TicketSnapshot) -> bool:
    return can_view_ticket(user, ticket) and user is not None and user.is_staff


def can_assign(user: User | None) -> bool:
    return is_admin(user)


def can_manage_users(user: User | None) -> bool:
    return is_admin(user)
