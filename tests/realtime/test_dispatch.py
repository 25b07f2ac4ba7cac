"""ccr.realtime.dispatch: one declaration per event on any namespace, connect and disconnect
included; the checked user, the rate limit, errors as failure acks and the unit of work
come with it."""

import logging

import pytest
from socketio.exceptions import ConnectionRefusedError
from sqlalchemy import func, insert, select
from sqlalchemy.orm.exc import DetachedInstanceError

from ccr.extensions import db
from ccr.models import Category, Role
from ccr.realtime import dispatch
from ccr.realtime.payloads import NOT_AN_OBJECT, Bool, Int, Payload, Text
from ccr.services import ServiceError, uow
from tests.support.chat import connect_as
from tests.support.faults import database_unreachable
from tests.support.users import login

PROBE = "/probe"  # a second namespace, declared by these tests only


@pytest.fixture
def declare(app, monkeypatch):
    """declare(name, handler, **event_kwargs): a socket event for this test only, bound to
    the app's server at once (its rate limit: CCR_SOCKET_LIMITS[limit or name], 10/min
    unless the test set one; its payload: no fields unless the test declares some)."""
    monkeypatch.setattr(dispatch, "_DECLARED", dict(dispatch._DECLARED))
    limits = app.config["CCR_SOCKET_LIMITS"]

    def do(name, handler, **kwargs):
        limits.setdefault(kwargs.get("limit") or name, "10 per minute")
        kwargs.setdefault("payload", Payload())
        dispatch.event(name, **kwargs)(handler)
        dispatch.register(app)
        return handler

    return do


def probe_socket(app, socket_client, user, **kwargs):
    client = app.test_client()
    login(client, user)
    return socket_client(client, namespace=PROBE, **kwargs)


def probe(sc, event="ping", data=None):
    return sc.emit(event, data if data is not None else {}, namespace=PROBE, callback=True)


def count_categories():
    return db.session.scalar(select(func.count(Category.id)))


def test_an_event_on_a_second_namespace_is_one_declaration(app, socket_client, make_user, declare):
    declare(
        "ping",
        lambda sid, user, data: {"ok": True, "user_id": user.id, "echo": data["x"]},
        namespace=PROBE,
        ticket=False,
        payload=Payload(x=Int()),
    )
    user = make_user(Role.CUSTOMER)
    sc = probe_socket(app, socket_client, user)
    assert sc.is_connected(PROBE)
    assert probe(sc, data={"x": 7}) == {"ok": True, "user_id": user.id, "echo": 7}
    assert probe(sc, data=["not", "an", "object"]) == {"ok": False, "error": NOT_AN_OBJECT}


def test_a_second_namespace_refuses_a_socket_without_a_login(app, socket_client, declare):
    declare("ping", lambda sid, user, data: {"ok": True}, namespace=PROBE, ticket=False)
    sc = socket_client(app.test_client(), namespace=PROBE)
    assert not sc.is_connected(PROBE)


def test_each_event_has_its_declared_rate_limit_per_user(app, socket_client, make_user, declare):
    app.config["CCR_SOCKET_LIMITS"]["pings"] = "2 per minute"
    declare(
        "ping", lambda sid, user, data: {"ok": True}, namespace=PROBE, ticket=False, limit="pings"
    )
    first, second = make_user(Role.CUSTOMER), make_user(Role.CUSTOMER)
    sc, other = probe_socket(app, socket_client, first), probe_socket(app, socket_client, second)
    acks = [probe(sc) for _ in range(3)]
    assert [a["ok"] for a in acks] == [True, True, False] and "too fast" in acks[2]["error"]
    assert probe(other)["ok"] is True


def test_register_refuses_an_event_without_a_rate_limit(app, declare):
    dispatch.event("unlimited", namespace=PROBE, ticket=False, payload=Payload())(
        lambda sid, user, data: {}
    )
    with pytest.raises(KeyError, match="CCR_SOCKET_LIMITS has no limit 'unlimited'"):
        dispatch.register(app)


def test_register_refuses_an_event_without_a_declared_payload(app, declare):
    app.config["CCR_SOCKET_LIMITS"]["shapeless"] = "10 per minute"
    dispatch.event("shapeless", namespace=PROBE, ticket=False)(lambda sid, user, data: {})
    with pytest.raises(ValueError, match="'shapeless' on '/probe' declares no payload"):
        dispatch.register(app)


def test_an_event_is_declared_once(declare):
    declare("ping", lambda sid, user, data: {"ok": True}, namespace=PROBE, ticket=False)
    with pytest.raises(ValueError, match="declared twice"):
        dispatch.event("ping", namespace=PROBE, ticket=False)(lambda sid, user, data: {})


def test_the_dispatcher_commits_what_the_handler_did_then_acks_and_runs_its_side_effects(
    app, socket_client, make_user, declare
):
    ran = []

    def add_category(sid, user, data):
        uow.connection().execute(insert(Category.__table__).values(name=data["name"]))
        uow.on_commit(ran.append, data["name"])
        if data.get("refuse"):
            raise ServiceError("That name is taken.")
        if data.get("crash"):
            raise RuntimeError("a bug")
        return {"ok": True}

    declare(
        "add_category",
        add_category,
        namespace=PROBE,
        ticket=False,
        payload=Payload(name=Text(50, required=True), refuse=Bool(), crash=Bool()),
    )
    sc = probe_socket(app, socket_client, make_user(Role.ADMIN))
    assert probe(sc, "add_category", {"name": "Billing"}) == {"ok": True}
    assert count_categories() == 1 and ran == ["Billing"]

    refused = probe(sc, "add_category", {"name": "Refunds", "refuse": True})
    assert refused == {"ok": False, "error": "That name is taken."}
    crashed = probe(sc, "add_category", {"name": "Returns", "crash": True})
    assert crashed == {"ok": False, "error": dispatch.FAILED}
    assert count_categories() == 1 and ran == ["Billing"]  # both rolled back, nothing ran


def test_an_unexpected_error_is_logged_with_its_traceback(
    app, socket_client, make_user, declare, caplog
):
    def crash(sid, user, data):
        raise RuntimeError("a bug in a handler")

    declare("crash", crash, namespace=PROBE, ticket=False)
    sc = probe_socket(app, socket_client, make_user(Role.CUSTOMER))
    with caplog.at_level(logging.ERROR, logger="ccr.realtime.dispatch"):
        assert probe(sc, "crash")["ok"] is False
    [record] = [r for r in caplog.records if r.name == "ccr.realtime.dispatch"]
    assert "socket handler crash failed" in record.getMessage()
    assert "a bug in a handler" in str(record.exc_info[1])


def test_a_ticket_event_on_a_second_namespace_gets_the_checked_ticket(
    app, socket_client, convo, make_user, declare
):
    ticket_id, customer, *_ = convo
    declare(
        "peek",
        lambda sid, user, ticket, data: {"ok": True, "reference": ticket.reference},
        namespace=PROBE,
    )
    own = probe_socket(app, socket_client, customer)
    assert probe(own, "peek", {"ticket_id": ticket_id})["reference"].startswith("CCR-")
    stranger = probe_socket(app, socket_client, make_user(Role.CUSTOMER))
    assert probe(stranger, "peek", {"ticket_id": ticket_id}) == {
        "ok": False,
        "error": "No such ticket.",
    }


def test_connect_and_disconnect_are_declared_like_any_event(app, socket_client, make_user, declare):
    seen = []
    declare(
        "connect", lambda sid, user, auth: seen.append(("connect", user.id, auth)), namespace=PROBE
    )
    declare(
        "disconnect", lambda sid, user_id: seen.append(("disconnect", user_id)), namespace=PROBE
    )
    user = make_user(Role.AGENT)
    sc = probe_socket(app, socket_client, user, auth={"page": "widget"})
    assert sc.is_connected(PROBE)
    sc.disconnect(namespace=PROBE)
    assert seen == [("connect", user.id, {"page": "widget"}), ("disconnect", user.id)]


def test_a_connect_handler_may_refuse_the_socket(app, socket_client, make_user, declare):
    def refuse(sid, user, auth):
        raise ConnectionRefusedError("not here")

    declare("connect", refuse, namespace=PROBE)
    assert not probe_socket(app, socket_client, make_user(Role.CUSTOMER)).is_connected(PROBE)


def test_logout_closes_the_users_sockets_on_every_namespace(app, socket_client, make_user, declare):
    declare("ping", lambda sid, user, data: {"ok": True}, namespace=PROBE, ticket=False)
    user = make_user(Role.CUSTOMER)
    client = app.test_client()
    login(client, user)
    main, side = socket_client(client), socket_client(client, namespace=PROBE)
    assert main.is_connected() and side.is_connected(PROBE)
    client.post("/logout")
    assert not main.is_connected() and not side.is_connected(PROBE)


def test_a_database_failure_during_connect_refuses_the_socket_and_logs_it(
    app, socket_client, make_user, monkeypatch, caplog
):
    user = make_user(Role.CUSTOMER)
    client = app.test_client()
    login(client, user)
    with database_unreachable(monkeypatch), caplog.at_level(logging.ERROR):
        assert not socket_client(client).is_connected()
    assert any("socket user check for connect failed" in r.getMessage() for r in caplog.records)
    assert socket_client(client).is_connected()  # the client's retry


def test_the_sockets_user_is_kept_detached_with_the_checked_columns_only(
    app, socket_client, make_user, declare
):
    """What identity.SOCKET_USER's comment says: the same object while the row is
    unchanged, and any column it did not load raises instead of loading lazily."""
    users = []

    def who(sid, user, data):
        users.append(user)
        try:
            user.email  # noqa: B018
        except DetachedInstanceError:
            return {"ok": True, "name": user.full_name, "email": "not loaded"}
        return {"ok": True, "name": user.full_name, "email": user.email}

    declare("who", who, namespace=PROBE, ticket=False)
    sc = probe_socket(app, socket_client, make_user(Role.CUSTOMER, first_name="Nia"))
    first, second = probe(sc, "who"), probe(sc, "who")
    assert first == second == {"ok": True, "name": "Nia Tester", "email": "not loaded"}
    assert users[0] is users[1]


def test_the_chat_connects_through_the_same_dispatch(app, socket_client, make_user):
    sc = connect_as(app, socket_client, make_user(Role.CUSTOMER))
    assert sc.is_connected()
    assert ("/", "connect") in dispatch._DECLARED and ("/", "send_message") in dispatch._DECLARED


@pytest.mark.parametrize(
    "data,error",
    [
        ({"n": 2**70}, "The field n must be a whole number from 0 to 2147483647."),
        ({"n": 1e308}, "The field n must be a whole number from 0 to 2147483647."),
        ({"n": True}, "The field n must be a whole number from 0 to 2147483647."),
        ({"n": -1}, "The field n must be a whole number from 0 to 2147483647."),
        ({"text": ["a", "list"]}, "The field text must be text."),
        ({"text": {"a": "dict"}}, "The field text must be text."),
        ({"text": "x" * 11}, "The field text can be at most 10 characters."),
        ({"text": "nul\x00"}, "Remove the control characters (such as NUL) from this text."),
        ({"flag": "false"}, "The field flag must be true or false."),
        ({"flag": 0}, "The field flag must be true or false."),
        ("a string", NOT_AN_OBJECT),
        (None, NOT_AN_OBJECT),
    ],
)
def test_a_payload_that_does_not_fit_its_declaration_is_refused_before_the_handler(
    app, socket_client, make_user, declare, caplog, data, error
):
    ran = []
    declare(
        "shaped",
        lambda sid, user, fields: ran.append(fields) or {"ok": True},
        namespace=PROBE,
        ticket=False,
        payload=Payload(n=Int(), text=Text(10), flag=Bool()),
    )
    sc = probe_socket(app, socket_client, make_user(Role.CUSTOMER))
    with caplog.at_level(logging.INFO):
        ack = sc.emit("shaped", data, namespace=PROBE, callback=True)
    assert ack == {"ok": False, "error": error}
    assert ran == [] and sc.is_connected(PROBE)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]


def test_the_handler_gets_exactly_the_declared_fields_checked_or_their_defaults(
    app, socket_client, make_user, declare
):
    declare(
        "shaped",
        lambda sid, user, fields: {"ok": True, "fields": fields},
        namespace=PROBE,
        ticket=False,
        payload=Payload(n=Int(default=0), text=Text(10), flag=Bool(), must=Int(required=True)),
    )
    sc = probe_socket(app, socket_client, make_user(Role.CUSTOMER))
    full = {"n": "42", "text": "tab\tok", "flag": True, "must": 1, "extra": "dropped"}
    assert probe(sc, "shaped", full)["fields"] == {
        "n": 42,
        "text": "tab\tok",
        "flag": True,
        "must": 1,
    }
    assert probe(sc, "shaped", {"must": 0, "n": None})["fields"] == {
        "n": 0,
        "text": "",
        "flag": False,
        "must": 0,
    }
    assert probe(sc, "shaped", {}) == {"ok": False, "error": "The field must is missing."}
