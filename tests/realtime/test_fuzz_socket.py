"""Every registered socket event against random payloads (Hypothesis, bounded and seeded):
whatever arrives, the answer is a clean ack — ok with what the handler returned, or a failure
with an error string — a payload its declaration refuses stores nothing, and nothing logs a
traceback."""

import logging

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ccr.extensions import db, socketio
from ccr.models import Message
from ccr.realtime import dispatch
from ccr.realtime.payloads import NOT_AN_OBJECT, Int, Invalid, Text
from tests.support.chat import joined

LIFECYCLE = ("connect", "disconnect")


def declared_events() -> list:
    """(name, payload) of every event declared on "/" (once create_app has imported them)."""
    return sorted(
        (name, declared.payload)
        for (namespace, name), declared in dispatch._DECLARED.items()
        if namespace == "/" and name not in LIFECYCLE
    )


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([0, 1, 2**31 - 1, 2**31, 2**63, 2**70]),
    st.floats(allow_nan=False),
    st.sampled_from([1e308, -0.0, 1.5]),
    st.text(max_size=40),
    st.sampled_from(["", "x" * 5001, "a\x00b", "\x7f", "false", "true", "0", "1e3", "+5"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def well_formed(field):
    """Values the field accepts (mostly: random text may still hold a control character)."""
    if isinstance(field, Text):
        return st.text(min_size=1, max_size=min(field.max_length, 60))
    if isinstance(field, Int):
        return st.integers(min_value=field.minimum, max_value=field.maximum)
    return st.booleans()


def payloads(ticket_id: int, fields: list[str], payload):
    """For one event: its declared shape with junk laid over it, objects of any of the
    declared field names (often naming the real ticket) with junk values, and non-objects."""
    shaped = st.fixed_dictionaries(
        {"ticket_id": st.just(ticket_id)}
        | {name: well_formed(field) for name, field in payload.fields.items()}
    )
    field_values = st.one_of(values, st.just(ticket_id), st.text(min_size=1, max_size=64))
    junk = st.dictionaries(
        st.one_of(st.sampled_from(fields), st.text(max_size=8)), field_values, max_size=4
    )
    return st.one_of(
        shaped,
        st.tuples(shaped, junk).map(lambda pair: {**pair[0], **pair[1]}),
        junk.map(lambda d: {"ticket_id": ticket_id, **d} if "ticket_id" not in d else d),
        values,
    )


def fits(payload, data) -> bool:
    try:
        payload.clean(data)
    except Invalid:
        return False
    return True


def count_messages() -> int:
    return db.session.scalar(select(func.count(Message.id)))


def test_the_fuzz_covers_every_event_bound_to_the_server(app):
    bound = {name for name in socketio.server.handlers["/"] if name not in LIFECYCLE}
    assert {name for name, _ in declared_events()} == bound
    assert {"join_ticket", "send_message", "typing", "mark_read"} <= bound


def test_random_payloads_get_clean_acks_store_nothing_when_refused_and_log_no_traceback(
    app, socket_client, convo, caplog
):
    ticket_id, customer, agent, _ = convo
    events = declared_events()
    fields = sorted({f for _name, payload in events for f in payload.fields} | {"ticket_id"})
    for name, _payload in events:  # the fuzz is about shapes, not the rate limits
        app.config["CCR_SOCKET_LIMITS"][name] = "100000 per second"
    dispatch.register(app)
    sockets = [joined(app, socket_client, user, ticket_id)[0] for user in (customer, agent)]

    @settings(
        max_examples=250,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        case=st.sampled_from(events).flatmap(
            lambda event: st.tuples(st.just(event), payloads(ticket_id, fields, event[1]))
        ),
        who=st.sampled_from([0, 1]),
    )
    def one_event(case, who):
        (name, payload), data = case
        sc = sockets[who]
        before = count_messages()
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            ack = sc.emit(name, data, callback=True)
        assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), ack
        if not ack["ok"]:
            assert isinstance(ack["error"], str) and ack["error"], ack
        if not fits(payload, data):
            assert ack["ok"] is False, (name, data, ack)
            assert count_messages() == before, (name, data)
        problems = [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
        assert problems == [], [r.getMessage() for r in problems]
        sc.get_received()
        assert sc.is_connected()
        answered.add((name, ack["ok"]))

    answered: set[tuple[str, bool]] = set()
    one_event()
    # The payloads reached the handlers too, not only the refusals.
    assert answered == {(name, ok) for name, _ in events for ok in (True, False)}, answered


def test_a_payload_that_is_not_an_object_is_refused_on_every_event(app, socket_client, convo):
    ticket_id, customer, *_ = convo
    cust, _ = joined(app, socket_client, customer, ticket_id)
    for event, _payload in declared_events():
        for data in (None, [ticket_id], "ticket", 7, True):
            ack = cust.emit(event, data, callback=True)
            assert ack == {"ok": False, "error": NOT_AN_OBJECT}, (event, data, ack)
    assert count_messages() == 0
