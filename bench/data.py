"""Bulk loader for benchmark data: `python -m bench.load --tickets N` (bench/load.py).

Fast (SQLAlchemy Core executemany in batches, explicit ids) and realistic enough for indexes
to behave as they would in production: skewed (Zipf-like) agent and customer workloads,
statuses that depend on a ticket's age, varied priorities, categories, subjects and dates, and
conversations for only a fraction of tickets with varying lengths.

Every bench user shares ONE bcrypt hash made with 4 rounds (BENCH_PASSWORD): bench data only,
never a production database.
"""

import bisect
import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import bcrypt
from sqlalchemy import Connection, func, select, text

from ccr.extensions import db
from ccr.models import Category, Message, Priority, Role, Ticket, TicketStatus, User
from ccr.models.base import utcnow
from ccr.services import counts

BENCH_PASSWORD = "bench-password-not-a-secret"
BENCH_DOMAIN = "bench.example"
BATCH = 10_000
CATEGORIES = [
    ("Billing", 30),
    ("Technical problem", 25),
    ("Account", 15),
    ("Delivery", 12),
    ("Returns", 8),
    ("Product question", 5),
    ("Complaint", 3),
    ("Other", 2),
]
SUBJECT_HEADS = [
    "Invoice shows the wrong amount",
    "Cannot log in",
    "Parcel marked delivered but never arrived",
    "App crashes when uploading a photo",
    "Please cancel my subscription",
    "Refund not received",
    "Password reset email never arrives",
    "Charged twice",
    "How do I change my delivery address?",
    "Export of my data is incomplete",
    "Discount code rejected at checkout",
    "Wrong size delivered",
    "Two-factor code not accepted",
    "Question about my contract",
    "Item damaged in transit",
    "Cannot update my payment card",
]
SUBJECT_TAILS = ["", "", "", " (urgent)", " again", " since yesterday", " - order {n}", " #{n}"]
LINES_CUSTOMER = [
    "Hi, I still have this problem. Can you help?",
    "Sure, the order number is {n}.",
    "Thanks, that worked!",
    "It happened again this morning.",
    "I attached a screenshot to the ticket.",
    "Any news on this?",
]
LINES_AGENT = [
    "Thanks for reaching out, I am looking into it now.",
    "Could you send me the order number, please?",
    "I have asked our team to fix it; you will hear from us today.",
    "Could you try clearing the app cache and logging in again?",
    "The refund was issued; it can take 3-5 working days.",
    "I am closing this as resolved; reply here if anything is left.",
]
# (status, weight) for tickets by age: recent tickets are mostly open, old ones closed.
STATUS_RECENT = [
    (TicketStatus.OPEN, 25),
    (TicketStatus.ASSIGNED, 20),
    (TicketStatus.IN_PROGRESS, 25),
    (TicketStatus.WAITING_ON_CUSTOMER, 15),
    (TicketStatus.RESOLVED, 10),
    (TicketStatus.CLOSED, 5),
]
STATUS_OLD = [
    (TicketStatus.OPEN, 1),
    (TicketStatus.ASSIGNED, 1),
    (TicketStatus.IN_PROGRESS, 2),
    (TicketStatus.WAITING_ON_CUSTOMER, 2),
    (TicketStatus.RESOLVED, 14),
    (TicketStatus.CLOSED, 80),
]
PRIORITIES = [(Priority.LOW, 25), (Priority.NORMAL, 50), (Priority.HIGH, 18), (Priority.URGENT, 7)]
MESSAGE_FRACTION = 0.25  # share of tickets with a conversation
HISTORY_DAYS = 3 * 365


@dataclass
class LoadResult:
    admin_id: int
    agent_ids: list[int]
    customer_ids: list[int]
    tickets: int
    messages: int
    first_ticket_id: int
    categories: list[int] = field(default_factory=list)


def _zipf_cum(n: int, s: float) -> list[float]:
    return list(itertools.accumulate(1.0 / (i + 1) ** s for i in range(n)))


def _weighted(rng: random.Random, pairs) -> Callable[[], object]:
    values = [v for v, _ in pairs]
    cum = list(itertools.accumulate(w for _, w in pairs))
    total = cum[-1]
    return lambda: values[bisect.bisect_right(cum, rng.random() * total)]


def _next_id(conn: Connection, column) -> int:
    return (conn.execute(select(func.max(column))).scalar() or 0) + 1


def _insert(conn: Connection, table, rows: Iterator[dict], batch: int = BATCH) -> int:
    count = 0
    while chunk := list(itertools.islice(rows, batch)):
        conn.execute(table.insert(), chunk)
        count += len(chunk)
    return count


def load(
    tickets: int,
    *,
    agents: int = 200,
    customers: int = 100_000,
    seed: int = 7,
    progress: Callable[[str], None] | None = None,
) -> LoadResult:
    """Insert one admin, `agents` agents, `customers` customers and `tickets` tickets."""
    rng = random.Random(seed)
    say = progress or (lambda _msg: None)
    now = utcnow().replace(microsecond=0)
    password_hash = bcrypt.hashpw(BENCH_PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    engine = db.engine
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA cache_size = -262144")  # 256 MiB for the load
        # Users ------------------------------------------------------------------------
        first_user = _next_id(conn, User.id)
        run = f"{seed}-{first_user}"  # unique emails when loading twice into one database
        user_rows = []
        roles = [(Role.ADMIN, 1), (Role.AGENT, agents), (Role.CUSTOMER, customers)]
        uid = first_user
        ids: dict[Role, list[int]] = {r: [] for r, _ in roles}
        for role, count in roles:
            for i in range(count):
                created = now - timedelta(days=rng.uniform(0, HISTORY_DAYS + 30))
                user_rows.append(
                    {
                        "id": uid,
                        "email": f"{role.value}{i}-{run}@{BENCH_DOMAIN}",
                        "first_name": rng.choice(["Ana", "Ben", "Chen", "Dana", "Eli", "Fay"]),
                        "last_name": f"{role.value.capitalize()} {i}",
                        "password_hash": password_hash,
                        "role": role,
                        "active": True,
                        "email_verified_at": created,
                        "session_version": 1,
                        "notify_chat_email": rng.random() < 0.8,
                        "created_at": created,
                    }
                )
                ids[role].append(uid)
                uid += 1
        _insert(conn, User.__table__, iter(user_rows))
        say(f"users: 1 admin, {agents} agents, {customers} customers")

        # Categories -----------------------------------------------------------------------
        category_ids = []
        for name, _w in CATEGORIES:
            existing = conn.execute(select(Category.id).where(Category.name == name)).scalar()
            if existing is None:
                existing = conn.execute(
                    Category.__table__.insert().values(name=name, retired=False, created_at=now)
                ).inserted_primary_key[0]
            category_ids.append(existing)
        weights = [w for _n, w in CATEGORIES]
        pick_category = _weighted(rng, [(None, 5), *zip(category_ids, weights, strict=True)])

        # Tickets and messages -------------------------------------------------------------
        agent_ids, customer_ids = ids[Role.AGENT], ids[Role.CUSTOMER]
        agent_cum = _zipf_cum(len(agent_ids), 0.9)
        customer_cum = _zipf_cum(len(customer_ids), 1.05)
        pick_recent = _weighted(rng, STATUS_RECENT)
        pick_old = _weighted(rng, STATUS_OLD)
        pick_priority = _weighted(rng, PRIORITIES)
        first_ticket = _next_id(conn, Ticket.id)
        first_message = _next_id(conn, Message.id)
        message_rows: list[dict] = []
        counters = {"messages": 0, "message_id": first_message}
        start = now - timedelta(days=HISTORY_DAYS)
        span = (now - start).total_seconds()

        def pick(cum: list[float], pool: list[int]) -> int:
            return pool[min(bisect.bisect_right(cum, rng.random() * cum[-1]), len(pool) - 1)]

        def ticket_rows() -> Iterator[dict]:
            for k in range(tickets):
                tid = first_ticket + k
                # Creation time grows with the id (with jitter), as in a real table.
                frac = (k + rng.random()) / max(tickets, 1)
                created = start + timedelta(seconds=span * frac)
                age_days = (now - created).days
                status = pick_recent() if age_days < 14 else pick_old()
                priority = pick_priority()
                assignee = None if status == TicketStatus.OPEN else pick(agent_cum, agent_ids)
                customer = pick(customer_cum, customer_ids)
                last = min(created + timedelta(hours=rng.expovariate(1 / 30)), now)
                first_response = (
                    created + timedelta(minutes=rng.expovariate(1 / 90)) if assignee else None
                )
                if first_response and first_response > last:
                    first_response = last
                resolved = last if status in (TicketStatus.RESOLVED, TicketStatus.CLOSED) else None
                closed = last if status == TicketStatus.CLOSED else None
                head = SUBJECT_HEADS[int(rng.random() ** 1.7 * len(SUBJECT_HEADS))]
                tail = rng.choice(SUBJECT_TAILS).format(n=rng.randint(10000, 99999))
                rating = (
                    rng.choice([1, 2, 3, 4, 4, 5, 5, 5]) if closed and rng.random() < 0.3 else None
                )
                row = {
                    "id": tid,
                    "subject": head + tail,
                    "description": f"Hello,\n\n{head}.\nThank you.",
                    "category_id": pick_category(),
                    "priority": priority,
                    "priority_rank": priority.rank,
                    "status": status,
                    "customer_id": customer,
                    "assignee_id": assignee,
                    "created_at": created,
                    "updated_at": last,
                    "last_activity_at": last,
                    "first_response_at": first_response,
                    "resolved_at": resolved,
                    "closed_at": closed,
                    "rating": rating,
                    "rating_comment": "Quick and friendly." if rating and rating >= 4 else None,
                    "public_seq": 0,
                    "note_seq": 0,
                }
                if rng.random() < MESSAGE_FRACTION:
                    row["public_seq"], row["note_seq"] = _messages(
                        tid, customer, assignee, created, last
                    )
                yield row

        def _messages(tid, customer, assignee, created, last) -> tuple[int, int]:
            """The ticket's messages; returns how many are public and how many notes."""
            count = min(1 + int(rng.expovariate(1 / 3)), 40)
            step = (last - created) / (count + 1)
            streams = {False: 0, True: 0}  # by is_internal: each numbered 1, 2, 3 ...
            for j in range(count):
                author = customer if (assignee is None or j % 2 == 0) else assignee
                lines = LINES_CUSTOMER if author == customer else LINES_AGENT
                body = rng.choice(lines).format(n=rng.randint(10000, 99999))
                internal = author != customer and rng.random() < 0.05
                streams[internal] += 1
                message_rows.append(
                    {
                        "id": counters["message_id"],
                        "ticket_id": tid,
                        "author_id": author,
                        "body": body,
                        "is_internal": internal,
                        "client_id": f"bench-{tid}-{j}",
                        "created_at": created + step * (j + 1),
                        "seq": streams[internal],
                    }
                )
                counters["message_id"] += 1
            return streams[False], streams[True]

        rows = ticket_rows()
        loaded = 0
        while chunk := list(itertools.islice(rows, BATCH)):
            conn.execute(Ticket.__table__.insert(), chunk)
            loaded += len(chunk)
            if message_rows:
                conn.execute(Message.__table__.insert(), message_rows)
                counters["messages"] += len(message_rows)
                message_rows.clear()
            if loaded % 100_000 == 0:
                say(f"tickets: {loaded:,}")
        counts.rebuild(conn)  # the Core inserts bypassed the ORM hook that keeps them

        if engine.dialect.name == "postgresql":
            # Explicit ids were inserted: move each sequence past them (fixed table names).
            for table in ("users", "tickets", "messages", "categories"):
                sql = "SELECT setval(pg_get_serial_sequence('{0}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {0}))"  # noqa: E501, S608
                conn.execute(text(sql.format(table)))
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    elif engine.dialect.name == "postgresql":
        # VACUUM as autovacuum would have by the time a real database held this much: it
        # sets the visibility map that index-only scans rely on.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    say(f"tickets: {tickets:,}, messages: {counters['messages']:,}")
    return LoadResult(
        admin_id=ids[Role.ADMIN][0],
        agent_ids=agent_ids,
        customer_ids=customer_ids,
        tickets=tickets,
        messages=counters["messages"],
        first_ticket_id=first_ticket,
        categories=category_ids,
    )
