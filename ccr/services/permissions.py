"""Who may do what: pure predicates (no queries, no side effects), and require(), which
every service uses to enforce one.

A predicate takes the actor first (None: nobody signed in) and is False for a deactivated
or deleted actor. Each predicate that require() enforces has its entry in _DENIALS: the
security log's event, and the refusal (NotFound where the actor may not learn that the
thing exists).
"""

from collections.abc import Callable, Collection
from typing import Any

from ccr.models import Role, TicketLike, User
from ccr.services import Forbidden, NotFound, ServiceError
from ccr.services.security_log import security_event


def is_admin(user: User | None) -> bool:
    return user is not None and user.is_active and user.role == Role.ADMIN


def has_role(user: User | None, roles: Collection[Role]) -> bool:
    return user is not None and user.is_active and user.role in roles


def can_view_ticket(user: User | None, ticket: TicketLike | None) -> bool:
    if user is None or ticket is None or not user.is_active:
        return False
    if user.role == Role.ADMIN:
        return True
    if user.role == Role.AGENT:
        return ticket.assignee_id == user.id
    return ticket.customer_id == user.id


def can_see_internal_notes(user: User | None, ticket: TicketLike) -> bool:
    return can_view_ticket(user, ticket) and user is not None and user.is_staff


def can_open_ticket(user: User | None) -> bool:
    return has_role(user, (Role.CUSTOMER,))


def can_rate_ticket(user: User | None, ticket: TicketLike) -> bool:
    return can_view_ticket(user, ticket) and user is not None and user.id == ticket.customer_id


def can_edit_ticket(user: User | None, ticket: TicketLike) -> bool:
    """Priority and category: the staff who may see the ticket."""
    return can_view_ticket(user, ticket) and user is not None and user.is_staff


def can_transfer_ticket(user: User | None, ticket: TicketLike) -> bool:
    """Handing a ticket on to a colleague: its agent (an admin assigns instead)."""
    return has_role(user, (Role.AGENT,)) and user is not None and ticket.assignee_id == user.id


def can_assign(user: User | None) -> bool:
    return is_admin(user)


def can_manage_users(user: User | None) -> bool:
    return is_admin(user)


def can_manage_categories(user: User | None) -> bool:
    return is_admin(user)


def can_change_profile(user: User | None, account: User) -> bool:
    """The account's holder, or an admin."""
    return is_account_holder(user, account) or is_admin(user)


def is_account_holder(user: User | None, account: User) -> bool:
    return user is not None and user.is_active and user.id == account.id


_DENIALS: dict[Callable[..., bool], tuple[str, type[ServiceError], str]] = {
    can_view_ticket: ("ticket_access_denied", NotFound, "No such ticket."),
    can_rate_ticket: ("ticket_access_denied", NotFound, "No such ticket."),
    can_edit_ticket: ("ticket_edit_denied", Forbidden, "Only staff change priority and category."),
    can_transfer_ticket: (
        "ticket_transfer_denied",
        Forbidden,
        "Only the ticket's agent can hand it on.",
    ),
    has_role: ("role_denied", Forbidden, "You cannot do that."),
    can_open_ticket: ("open_ticket_denied", Forbidden, "Only customers raise tickets."),
    can_assign: ("assign_denied", Forbidden, "Only admins assign tickets."),
    can_manage_users: ("admin_action_denied", Forbidden, "Only administrators can manage agents."),
    can_manage_categories: ("category_change_denied", Forbidden, "Only admins manage categories."),
    can_change_profile: ("account_change_denied", Forbidden, "You cannot change this account."),
    is_account_holder: ("account_change_denied", Forbidden, "You cannot change this account."),
}


def require(
    predicate: Callable[..., bool], actor: User | None, *args: Any, message: str | None = None
) -> None:
    """Go on only if predicate(actor, *args): otherwise the denial is written to the security
    log and its refusal (NotFound or Forbidden, with `message` if given) is raised."""
    if predicate(actor, *args):
        return
    event, refusal, default = _DENIALS[predicate]
    target = args[0].id if args and hasattr(args[0], "id") else None
    security_event(event, actor, **({} if target is None else {"target": target}))
    raise refusal(message or default)
