"""Helpers for Socket.IO test-client conversations."""

import uuid

from tests.support.users import login


def connect_as(app, socket_client, user):
    client = app.test_client()
    login(client, user)
    sc = socket_client(client)
    assert sc.is_connected()
    return sc


def joined(app, socket_client, user, ticket_id, after_id=0, **after_seqs):
    """Connect and join; catch up after `after_id`, or after the sequence numbers given
    (after_seq=, after_note_seq=)."""
    sc = connect_as(app, socket_client, user)
    data = {"ticket_id": ticket_id, **(after_seqs or {"after_id": after_id})}
    ack = sc.emit("join_ticket", data, callback=True)
    assert ack["ok"], ack
    sc.get_received()
    return sc, ack


def send(sc, ticket_id, body, client_id=None, **extra):
    return sc.emit(
        "send_message",
        {"ticket_id": ticket_id, "body": body, "client_id": client_id or uuid.uuid4().hex, **extra},
        callback=True,
    )


def created(sc):
    return [e["args"][0] for e in sc.get_received() if e["name"] == "message_created"]
