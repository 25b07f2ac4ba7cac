"""Read-only queries for the pages: the dashboards' lists (filters and sort keys come from
allowlists; values are always bound parameters; each list leads with an indexed column),
the admin's staff, mail and audit pages, and the loaders views use."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, false, func, or_, select
from sqlalchemy.orm import load_only

from ccr.extensions import db
from ccr.inputs import parse_id, text_problem
from ccr.models import (
    OPEN_STATUSES,
    Category,
    Message,
    OutboxEmail,
    OutboxStatus,
    Priority,
    ReadMarker,
    Role,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
    utcnow,
)
from ccr.services import counts
from ccr.services.permissions import is_admin
from ccr.services.transfers import TRANSFER_NOTE

S = TicketStatus
SEARCH_MAX = 200

# Customer tabs: label and the statuses each covers.
CUSTOMER_TABS: dict[str, tuple[str, tuple[TicketStatus, ...]]] = {
    "open": ("Open", (S.OPEN, S.ASSIGNED)),
    "in_progress": ("In progress", (S.IN_PROGRESS,)),
    "waiting": ("Waiting on me", (S.WAITING_ON_CUSTOMER,)),
    "resolved": ("Resolved", (S.RESOLVED,)),
    "closed": ("Closed", (S.CLOSED,)),
}

SORTS = {
    "activity": ("Last activity", (Ticket.last_activity_at.desc(), Ticket.id.desc())),
    "priority": (
        "Priority",
        (Ticket.priority_rank.desc(), Ticket.last_activity_at.desc(), Ticket.id.desc()),
    ),
    # Ids grow with creation time, so age sorts ride the primary key.
    "age": ("Oldest first", (Ticket.id.asc(),)),
    "newest": ("Newest first", (Ticket.id.desc(),)),
}
DEFAULT_SORT = "activity"


def _choice(value: str | None, allowed, default=None):
    """The value if it is in the allowlist, otherwise the default (unknown input is ignored)."""
    return value if value in allowed else default


def _status(value: str | None) -> TicketStatus | None:
    return TicketStatus(value) if value in {s.value for s in TicketStatus} else None


def _search_text(raw: str | None) -> str:
    """The search box's text, whitespace collapsed, control characters (which no stored
    text holds, and PostgreSQL cannot even compare) dropped, at most SEARCH_MAX long."""
    text = " ".join((raw or "").split())[:SEARCH_MAX]
    return "".join(c for c in text if text_problem(c) is None) if text_problem(text) else text


def _search(query: Select, text: str | None) -> Select:
    text = _search_text(text)
    if not text:
        return query
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return query.where(
        or_(
            Ticket.subject.ilike(pattern, escape="\\"),
            Ticket.description.ilike(pattern, escape="\\"),
        )
    )


def _sorted(query: Select, sort: str) -> Select:
    return query.order_by(*SORTS[sort][1])


@dataclass
class ListArgs:
    """Cleaned list parameters: anything outside the allowlists has been dropped."""

    status: TicketStatus | None = None
    tab: str | None = None
    sort: str = DEFAULT_SORT
    q: str = ""
    priority: Priority | None = None
    category_id: int | None = None
    agent_id: int | None = None
    unassigned: bool = False
    active: bool = False  # only tickets not resolved yet (the "Open" chip's list)
    resolved_today: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def filtered(self) -> bool:
        """Any filter at all (the sort is not one): the empty state offers to clear them."""
        return any(
            (self.status, self.tab, self.q, self.priority, self.category_id, self.agent_id)
        ) or any((self.unassigned, self.active, self.resolved_today))

    def params(self, **override) -> dict:
        """Query-string values for links (pagination, tabs, sorting)."""
        out = {
            "status": self.status.value if self.status else None,
            "tab": self.tab,
            "sort": self.sort if self.sort != DEFAULT_SORT else None,
            "q": self.q or None,
            "priority": self.priority.value if self.priority else None,
            "category": self.category_id,
            "agent": self.agent_id,
            "unassigned": "1" if self.unassigned else None,
            "active": "1" if self.active else None,
            "resolved": "today" if self.resolved_today else None,
        }
        out.update(override)
        return {k: v for k, v in out.items() if v not in (None, "")}


def parse_args(args) -> ListArgs:
    priority = args.get("priority")
    return ListArgs(
        status=_status(args.get("status")),
        tab=_choice(args.get("tab"), CUSTOMER_TABS),
        sort=_choice(args.get("sort"), SORTS, DEFAULT_SORT),
        q=_search_text(args.get("q")),
        priority=Priority(priority) if priority in {p.value for p in Priority} else None,
        category_id=parse_id(args.get("category")),
        agent_id=parse_id(args.get("agent")),
        unassigned=args.get("unassigned") == "1",
        active=args.get("active") == "1",
        resolved_today=args.get("resolved") == "today",
    )


# -- totals for the pager ---------------------------------------------------------------------

COUNT_CAP = 1000  # a filtered total the kept counters cannot give is counted up to this


@dataclass(frozen=True)
class Total:
    """How many tickets a list holds: exact, or at least `n` when `capped`."""

    n: int
    capped: bool = False


def bounded_total(query: Select, cap: int = COUNT_CAP) -> Total:
    """Count the list's rows, reading at most cap + 1 of them (the list's own index)."""
    ids = query.with_only_columns(Ticket.id).order_by(None).limit(cap + 1).subquery()
    n = db.session.scalar(select(func.count()).select_from(ids)) or 0
    return Total(min(n, cap), n > cap)


def _statuses(a: ListArgs) -> set[TicketStatus]:
    wanted = {a.status} if a.status else set(TicketStatus)
    return wanted & OPEN_STATUSES if a.active else wanted


# -- customer -------------------------------------------------------------------------------


def customer_tickets(user: User, a: ListArgs) -> Select:
    query = select(Ticket).where(Ticket.customer_id == user.id)
    if a.tab:
        query = query.where(Ticket.status.in_(CUSTOMER_TABS[a.tab][1]))
    query = _search(query, a.q)
    return query.order_by(Ticket.last_activity_at.desc(), Ticket.id.desc())


def customer_tab_counts(user: User) -> dict[str, int]:
    by_status = _status_counts(Ticket.customer_id == user.id)
    return {
        tab: sum(by_status.get(s, 0) for s in statuses)
        for tab, (_label, statuses) in CUSTOMER_TABS.items()
    }


def customer_total(a: ListArgs, query: Select, tab_counts: dict[str, int]) -> Total:
    """The customer's list total from the tab counts already on the page (a search: a
    bounded count)."""
    if a.q:
        return bounded_total(query)
    return Total(tab_counts[a.tab] if a.tab else sum(tab_counts.values()))


def _status_counts(*where) -> dict[TicketStatus, int]:
    rows = db.session.execute(
        select(Ticket.status, func.count()).where(*where).group_by(Ticket.status)
    )
    return {TicketStatus(s): n for s, n in rows}


# -- agent ----------------------------------------------------------------------------------


def agent_queue(user: User, a: ListArgs) -> Select:
    query = select(Ticket).where(Ticket.assignee_id == user.id)
    if a.status:
        query = query.where(Ticket.status == a.status)
    query = _search(query, a.q)
    return _sorted(query, a.sort)


def agent_status_counts(user: User) -> dict[TicketStatus, int]:
    return counts.by_status(user.id)


def agent_total(a: ListArgs, query: Select, by_status: dict[TicketStatus, int]) -> Total:
    """The queue's total from the agent's kept counters (a search: a bounded count)."""
    if a.q:
        return bounded_total(query)
    return Total(sum(n for s, n in by_status.items() if s in _statuses(a)))


def unread_counts(user: User, ticket_ids: list[int]) -> dict[int, int]:
    """Visible messages by others after the user's read marker, per ticket (one query)."""
    if not ticket_ids:
        return {}
    marker = (
        select(ReadMarker.last_read_message_id)
        .where(ReadMarker.user_id == user.id, ReadMarker.ticket_id == Message.ticket_id)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Message.ticket_id, func.count())
        .where(
            Message.ticket_id.in_(ticket_ids),
            Message.author_id != user.id,
            Message.id > func.coalesce(marker, 0),
        )
        .group_by(Message.ticket_id)
    )
    return dict(rows.all())


def customer_other_tickets(ticket: Ticket, viewer: User, limit: int = 10) -> list[Ticket]:
    """The customer's other tickets that the viewer may see (an agent: only assigned ones)."""
    query = select(Ticket).where(Ticket.customer_id == ticket.customer_id, Ticket.id != ticket.id)
    if not is_admin(viewer):
        query = query.where(Ticket.assignee_id == viewer.id)
    query = query.order_by(Ticket.last_activity_at.desc(), Ticket.id.desc()).limit(limit)
    return list(db.session.scalars(query))


# -- admin ----------------------------------------------------------------------------------


def admin_tickets(a: ListArgs) -> Select:
    query = select(Ticket)
    if a.status:
        query = query.where(Ticket.status == a.status)
    if a.priority:
        query = query.where(Ticket.priority == a.priority)
    if a.category_id:
        query = query.where(Ticket.category_id == a.category_id)
    if a.unassigned:
        query = query.where(Ticket.assignee_id.is_(None))
    elif a.agent_id:
        query = query.where(Ticket.assignee_id == a.agent_id)
    if a.active and not a.status:
        query = query.where(Ticket.status.in_(OPEN_STATUSES))
    elif a.active and a.status not in OPEN_STATUSES:
        query = query.where(false())
    if a.resolved_today:
        query = query.where(_today(Ticket.resolved_at))
    query = _search(query, a.q)
    return _sorted(query, a.sort)


def admin_total(a: ListArgs, query: Select) -> Total:
    """The admin list's total: from the kept counters when only status and agent filter it,
    else a bounded count."""
    if a.q or a.priority or a.category_id or a.resolved_today:
        return bounded_total(query)
    assignee = counts.UNASSIGNED if a.unassigned else a.agent_id
    return Total(counts.total(_statuses(a), assignee))


def _today(column, now: datetime | None = None):
    now = now or utcnow()
    midnight = datetime(now.year, now.month, now.day)
    return and_(column >= midnight, column < midnight + timedelta(days=1))


@dataclass
class AdminCounts:
    open: int
    unassigned: int
    resolved_today: int
    per_agent: list[tuple[User, int]]


def admin_counts(agents: list[User] | None = None, now: datetime | None = None) -> AdminCounts:
    """The small counts at the top of the admin list: kept counters (services.counts) and one
    indexed range. `agents`: the active agents, when the caller has loaded them already."""
    per_assignee = counts.by_assignee(OPEN_STATUSES)
    resolved_today = db.session.scalar(select(func.count()).where(_today(Ticket.resolved_at, now)))
    by_id = {u.id: u for u in (active_agents() if agents is None else agents)}
    per_agent = [(by_id[i], n) for i, n in per_assignee.items() if i in by_id]
    per_agent.sort(key=lambda p: p[0].full_name)
    return AdminCounts(
        open=sum(per_assignee.values()),
        unassigned=per_assignee.get(counts.UNASSIGNED, 0),
        resolved_today=resolved_today or 0,
        per_agent=per_agent,
    )


def active_agents() -> list[User]:
    """Active agents by name, with the columns the lists show (the admin list loads 200)."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.role == Role.AGENT, User.active.is_(True), User.deleted_at.is_(None))
            .order_by(User.first_name, User.last_name, User.id)
            .options(load_only(User.first_name, User.last_name, User.role, User.deleted_at))
        )
    )


def categories_by_id() -> dict[int, Category]:
    return {c.id: c for c in db.session.scalars(select(Category))}


# -- admin: staff, mail and audit ------------------------------------------------------------


def staff_overview() -> list[dict]:
    """Agents and admins with their open-ticket load and last activity (for the admin list)."""
    load = dict(
        db.session.execute(
            select(Ticket.assignee_id, func.count(Ticket.id))
            .where(Ticket.assignee_id.is_not(None), Ticket.status.in_(OPEN_STATUSES))
            .group_by(Ticket.assignee_id)
        ).all()
    )
    staff = db.session.scalars(
        select(User)
        .where(User.role.in_([Role.AGENT, Role.ADMIN]), User.deleted_at.is_(None))
        .order_by(User.active.desc(), User.last_name, User.first_name, User.id)
    )
    return [
        {
            "user": u,
            "open_tickets": load.get(u.id, 0),
            "needs_reassignment": load.get(u.id, 0) if not u.is_active else 0,
            "invited": u.password_hash is None,
        }
        for u in staff
    ]


def tickets_needing_reassignment() -> list[Ticket]:
    """Open tickets whose assignee can no longer work on them (deactivated or deleted)."""
    inactive = select(User.id).where((User.active.is_(False)) | (User.deleted_at.is_not(None)))
    return list(
        db.session.scalars(
            select(Ticket)
            .where(Ticket.assignee_id.in_(inactive), Ticket.status.in_(OPEN_STATUSES))
            .order_by(Ticket.last_activity_at)
        )
    )


def mail_status(value: str | None) -> OutboxStatus | None:
    """The mail log's status filter, from the allowlist (anything else: no filter)."""
    return OutboxStatus(value) if value in {s.value for s in OutboxStatus} else None


def outbox_emails(status: OutboxStatus | None) -> Select:
    """The mail log, newest first."""
    query = select(OutboxEmail)
    if status is not None:
        query = query.where(OutboxEmail.status == status)
    return query.order_by(OutboxEmail.id.desc())


def audit_events() -> Select:
    """Every ticket event, newest first (the audit log)."""
    return select(TicketEvent).order_by(TicketEvent.id.desc())


# -- loaders ----------------------------------------------------------------------------------


def tickets_by_ids(ids: list[int]) -> list[Ticket]:
    """The tickets with these ids that exist (one query)."""
    if not ids:
        return []
    return list(db.session.scalars(select(Ticket).where(Ticket.id.in_(ids))))


def get_user(user_id: int) -> User | None:
    return db.session.get(User, user_id)


def get_staff_member(user_id: int) -> User | None:
    """An agent or admin whose account was not deleted."""
    found = db.session.get(User, user_id)
    if found is None or found.role == Role.CUSTOMER or found.deleted_at is not None:
        return None
    return found


def get_category(category_id: int) -> Category | None:
    return db.session.get(Category, category_id)


def get_outbox_email(email_id: int) -> OutboxEmail | None:
    return db.session.get(OutboxEmail, email_id)


def read_upto(ticket: Ticket, viewer: User) -> tuple[int, int]:
    """How far the other side has read, from the stored read markers: (public, notes). A
    public message of the viewer's is read once the other side's marker reached it (the
    customer's for staff, any staff member's for the customer); an internal note once
    another staff member's did."""
    rows = db.session.execute(
        select(ReadMarker.user_id, ReadMarker.last_read_message_id, User.role)
        .join(User, User.id == ReadMarker.user_id)
        .where(ReadMarker.ticket_id == ticket.id, ReadMarker.user_id != viewer.id)
    ).all()
    staff = [upto for _, upto, role in rows if role != Role.CUSTOMER]
    customer = [upto for user_id, upto, _ in rows if user_id == ticket.customer_id]
    public = max(customer if viewer.is_staff else staff, default=0)
    return public, max(staff, default=0)


def transfer_note(ticket: Ticket, viewer: User, events) -> Message | None:
    """The note a colleague left when handing the ticket to the viewer, while it is still
    theirs from that hand-over (events: the ticket's timeline, oldest first)."""
    moves = [e for e in events if e.verb in ("assigned", "reassigned", "transferred")]
    if not moves or moves[-1].verb != "transferred" or ticket.assignee_id != viewer.id:
        return None
    return db.session.scalars(
        select(Message)
        .where(
            Message.ticket_id == ticket.id,
            Message.is_internal.is_(True),
            Message.author_id == moves[-1].actor_id,
            Message.client_id.startswith(TRANSFER_NOTE, autoescape=True),
        )
        .order_by(Message.id.desc())
        .limit(1)
    ).first()
