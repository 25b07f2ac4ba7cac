"""Every refusal for going too fast says how long to wait (page, JSON and socket), and a
registration form refused for what was typed does not use up the registration limit."""

import re

from ccr.auth.routes import REGISTER_ATTEMPTS_PER_IP, REGISTER_PER_IP
from tests.support.chat import joined, send
from tests.support.users import PASSWORD

ACCEPTED = int(REGISTER_PER_IP.split()[0])
ATTEMPTS = int(REGISTER_ATTEMPTS_PER_IP.split()[0])
JSON = {"Accept": "application/json"}


def _register(client, n: int, password=PASSWORD, **kwargs):
    return client.post(
        "/register",
        data={
            "first_name": "Nia",
            "last_name": "Okoro",
            "email": f"person{n}@example.com",
            "password": password,
            "confirm": password,
        },
        **kwargs,
    )


def test_refused_registration_forms_do_not_use_up_the_limit(client):
    refused = [_register(client, n, password="short").status_code for n in range(ACCEPTED + 5)]
    assert refused == [400] * (ACCEPTED + 5)
    accepted = [_register(client, 100 + n).status_code for n in range(ACCEPTED)]
    assert accepted == [302] * ACCEPTED
    limited = _register(client, 999)
    assert limited.status_code == 429
    page = limited.get_data(as_text=True)
    assert "wait a moment" not in page
    match = re.search(r"Try again in (\d+) minutes", page)
    assert match and 50 <= int(match.group(1)) <= 61
    assert int(limited.headers["Retry-After"]) > 50 * 60


def test_a_flood_of_refused_forms_is_still_bounded_and_told_the_wait(client):
    statuses = [_register(client, n, password="short").status_code for n in range(ATTEMPTS + 1)]
    assert statuses[:ATTEMPTS] == [400] * ATTEMPTS and statuses[ATTEMPTS] == 429
    again = _register(client, 0)  # even a good form waits out the flood's window
    assert again.status_code == 429 and b"Try again in " in again.data


def test_a_json_429_says_the_wait_in_words_and_seconds(client):
    for n in range(ACCEPTED):
        _register(client, n)
    limited = _register(client, 999, headers=JSON)
    assert limited.status_code == 429
    body = limited.get_json()
    assert body["ok"] is False and re.search(r"Try again in \d+ minutes", body["error"])
    assert body["retry_after"] > 50 * 60
    assert abs(body["retry_after"] - int(limited.headers["Retry-After"])) <= 1


def test_a_socket_refused_for_sending_too_fast_is_told_how_long(app, socket_client, scene):
    s = scene()
    sc, _ = joined(app, socket_client, s.customer, s.ticket.id)
    acks = [send(sc, s.ticket.id, f"m{i}") for i in range(31)]
    refused = acks[30]
    assert refused["ok"] is False
    assert re.search(r"too fast\. Try again in \d+ seconds?\.", refused["error"])
    assert 1 <= refused["retry_after"] <= 10
