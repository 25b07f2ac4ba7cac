"""Hostile input on every route of app.url_map, every method and every role (anonymous,
customer, agent, admin, a deactivated agent). No answer may be a 500 or a 503, and nothing may
be logged as an error, with a traceback, or as a value the database refused
(ccr.errors.refused_value: input that got past the parsers, a bug to fix where it arose).

Two passes:
- a sweep: for each route and each of the most dangerous values (superscript digits, numbers
  past any column, NUL and other control characters), once in every path argument, and once
  in every query parameter and form field with the path aimed at a real row, as the role the
  route is for;
- Hypothesis: for each route × method × role, path values, query parameters and form fields
  drawn from hostile values (the above, other scripts' digits, floats, header injection,
  markup, very long and non-Latin text, empty) and from made-up text. Each combination is
  seeded from its own name, so a failure reproduces (Hypothesis prints the drawn values).

Bounded: CCR_FUZZ_EXAMPLES examples per combination (default 4) while within a time budget
per backend (CCR_FUZZ_SECONDS, default 25); past it, each remaining combination gets one.
"""

import logging
import os
import re
import time
import zlib
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from wtforms.fields.core import UnboundField

from ccr.extensions import db, limiter
from ccr.forms import CCRForm
from ccr.inputs import INT_MAX
from ccr.models import OutboxEmail, Role, User
from ccr.services import staff
from ccr.services.categories import create_category
from ccr.services.uow import commit

EXAMPLES = int(os.environ.get("CCR_FUZZ_EXAMPLES", "4"))
BUDGET_SECONDS = float(os.environ.get("CCR_FUZZ_SECONDS", "25"))
ROLES = ["anonymous", "customer", "agent", "admin", "inactive"]

# The values that broke routes before (ccr/inputs.py): each goes everywhere in the sweep.
SWEEP = ["²", "9" * 20, str(INT_MAX + 1), "-1", "a\x00b", "\x1b[31m", "1e308", "٣"]
HOSTILE = [
    "", " ", "0", "-1", "1", "+1", "01", "1.0", "1e308", "NaN", "inf", "0x10", "1_000",
    "²", "1²", "١٢", "٣", "¹²³", str(INT_MAX), str(INT_MAX + 1), str(2**63), str(2**70),
    "9" * 20, "-" + "9" * 20,
    "\x00", "a\x00b", "\x1b[31mred", "\x07", "\x7f", "\x08\x0b\x0c", "\r\nBcc: x@example.com",
    "line\nbreak", "<script>alert(1)</script>", "' OR 1=1 --", "%00", "%", "_", "\\",
    "../../etc/passwd", "x" * 5000, "🙂" * 40, "Zoë", "名前", "‮evil",
    "a@b", "admin@example.com", "correct horse battery",
    "normal", "high", "urgent", "resolve", "close", "reopen", "start", "invite", "password",
    "open", "assigned", "dead", "list", "1", "on", "y",
]  # fmt: skip
# Text Hypothesis makes up itself: any character a form or URL can carry (no lone surrogates).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
QUERY_NAMES = [
    "page", "after", "q", "status", "tab", "sort", "priority", "category", "agent",
    "unassigned", "email", "next", "token",
]  # fmt: skip
PREFIXES = ["", "name-", "pw-", "chat-", "del-", "resend-"]  # the profile page's form prefixes


def _form_fields() -> list[str]:
    """Every field name of every form in the app, with each prefix the pages use."""

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    names = {"csrf_token", "next"}
    for form in subclasses(CCRForm):
        names |= {n for n in dir(form) if isinstance(getattr(form, n, None), UnboundField)}
    return sorted(p + n for n in names for p in PREFIXES)


_ARG = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _rules(app) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((rule.rule, method))
    return out


class World:
    """The people and rows the requests aim at (real ids, mixed with hostile ones)."""

    def __init__(self, make_user, scene):
        sc = scene(subject="Printer on fire", description="It burns.")
        inactive = make_user(Role.AGENT, first_name="Ina")
        staff.deactivate_user(inactive, actor=sc.admin)
        commit()
        self.users = {
            "customer": sc.customer.id,
            "agent": sc.agent.id,
            "admin": sc.admin.id,
            "inactive": inactive.id,
        }
        category = create_category("Billing", actor=sc.admin)
        commit()
        email = db.session.scalars(db.select(OutboxEmail.id)).first()
        # A real row for each path argument, by name.
        self.rows = {
            "ticket_id": str(sc.ticket.id),
            "user_id": str(sc.agent.id),
            "category_id": str(category.id),
            "email_id": str(email),
            "action": "reactivate",
            "token": "no-such-invitation",
            "filename": "css/app.css",
        }
        self.ids = sorted({str(i) for i in (*self.users.values(), sc.ticket.id, category.id)})

    def token(self, role: str) -> str | None:
        if role == "anonymous":
            return None
        db.session.expire_all()
        user = db.session.get(User, self.users[role])
        return user.get_id() if user is not None else None


def _values(world: World):
    return st.one_of(
        st.sampled_from(HOSTILE),
        st.sampled_from(world.ids),
        st.integers(-(2**70), 2**70).map(str),
        TEXT,
    )


def _path_value(converter: str | None, world: World):
    if converter == "id":
        return st.one_of(st.sampled_from(world.ids), _values(world))
    if converter is None:  # <action>, <token>
        actions = ["deactivate", "reactivate", "promote", "demote", "resend-invite"]
        return st.one_of(st.sampled_from(actions), _values(world))
    return _values(world)  # path


def _fill(rule: str, value) -> str:
    """The rule's path with each argument replaced by value(converter, name), quoted."""

    def one(match: re.Match) -> str:
        converter, name = match.group(1), match.group(2)
        safe = "/" if converter == "path" else ""
        return quote(value(converter, name), safe=safe) or "x"

    return _ARG.sub(one, rule)


def _owner(rule: str) -> str:
    """The role a route is for (the one whose requests reach its view)."""
    for prefix, role in (("/customer", "customer"), ("/agent", "agent"), ("/admin", "admin")):
        if rule.startswith(prefix):
            return role
    return "customer" if rule.startswith(("/chat", "/profile")) else "anonymous"


def _short(params: dict) -> str:
    values = set(params.values())
    if len(params) > 5 and len(values) == 1:
        return f"<{len(params)} names, each {values.pop()!r}>"
    return repr(params)


def _problems(records) -> list[str]:
    return [
        f"{r.levelname} {r.name}: {r.getMessage()[:300]}"
        for r in records
        if r.exc_info or r.levelno >= logging.ERROR or "refused a value" in r.getMessage()
    ]


@pytest.fixture
def world(make_user, scene):
    return World(make_user, scene)


@pytest.fixture
def send(app, world, caplog):
    """send(role, method, url, query, form, json) -> the response, checked: no 500 or 503,
    no traceback in the body, nothing logged as an error or a refused value."""

    def do(role: str, method: str, url: str, query: dict, form: dict, as_json: bool):
        client = app.test_client()
        token = world.token(role)
        if token is not None:
            with client.session_transaction() as session:
                session["_user_id"], session["_fresh"] = token, True
        limiter.reset()  # reach the routes, not their 429s
        caplog.clear()
        response = client.open(
            url,
            method=method,
            query_string=query,
            data=form if method == "POST" else None,
            headers={"Accept": "application/json"} if as_json else {},
            environ_base={"REMOTE_ADDR": "198.51.100.9"},
        )
        what = f"{role} {method} {url} query={_short(query)} form={_short(form)}"
        assert response.status_code not in (500, 503), f"{response.status_code}: {what}"
        assert b"Traceback" not in response.get_data(), what
        assert _problems(caplog.records) == [], what
        return response

    return do


def test_the_most_dangerous_values_go_everywhere(app, world, send):
    fields = _form_fields()
    reached = set()
    for rule, method in _rules(app):
        role = _owner(rule)
        for value in SWEEP:
            url = _fill(rule, lambda _c, _n, v=value: v)
            send(role, method, url, {}, {}, False)
            real = _fill(rule, lambda _c, name: world.rows.get(name, "1"))
            everywhere = {name: value for name in QUERY_NAMES}
            response = send(role, method, real, everywhere, {f: value for f in fields}, False)
            if response.status_code == 200:
                reached.add(rule)
    # The requests ran as their roles: each role's pages were served, not a login redirect.
    assert {"/customer/tickets/<id:ticket_id>", "/agent/", "/admin/agents"} <= reached


def test_no_route_answers_hostile_input_with_a_500_a_503_or_a_traceback(app, world, send):
    fields = _form_fields()
    values = _values(world)
    rules = _rules(app)
    assert len(rules) > 40 and len(fields) > 20
    deadline = time.monotonic() + BUDGET_SECONDS

    def request(rule: str, method: str, role: str, draw) -> None:
        url = _fill(rule, lambda converter, _name: draw(_path_value(converter, world)))
        query = draw(st.dictionaries(st.sampled_from(QUERY_NAMES), values, max_size=5))
        prefix = draw(st.sampled_from(PREFIXES))
        names = sorted({f.removeprefix(prefix) for f in fields if f.startswith(prefix)})
        form = draw(st.dictionaries(st.sampled_from(names), values, max_size=8))
        send(
            role, method, url, query, {prefix + k: v for k, v in form.items()}, draw(st.booleans())
        )

    for rule, method in rules:
        for role in ROLES:
            # Past the budget every combination still gets one example.
            examples = EXAMPLES if time.monotonic() < deadline else 1
            _fuzzer(request, rule, method, role, examples)()


def _fuzzer(request, rule: str, method: str, role: str, examples: int):
    """One Hypothesis run for one route, method and role, seeded from their names."""

    @seed(zlib.crc32(f"{rule} {method} {role}".encode()))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def fuzz(data):
        request(rule, method, role, data.draw)

    return fuzz
