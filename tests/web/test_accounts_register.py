"""Customer self-registration with an emailed verification code (SECURITY 15, 18)."""

from datetime import timedelta

import time_machine

from ccr.models import Role, utcnow
from tests.support.codes import code_in, deliver, last_to, link_in
from tests.support.smtp import body_text
from tests.support.users import PASSWORD

NEW = "new.person@example.com"


def _register(client, email=NEW, **over):
    data = {
        "first_name": "Nia",
        "last_name": "Okoro",
        "email": email,
        "password": PASSWORD,
        "confirm": PASSWORD,
    }
    data.update(over)
    return client.post("/register", data=data)


def _login(client, email=NEW, password=PASSWORD):
    return client.post("/login", data={"email": email, "password": password})


def test_registration_needs_the_emailed_code_before_login(app, client, mailbox):
    response = _register(client)
    assert response.status_code == 302 and "/verify-email" in response.headers["Location"]
    early = _login(client)  # unverified: unusable, and told how to finish
    assert early.status_code == 302 and "/verify-email?email=" in early.headers["Location"]
    assert client.get("/customer/").status_code == 302
    [msg] = deliver(mailbox, 1)
    assert msg["To"] == NEW and msg["Subject"] == "Your verification code"
    code = code_in(msg)
    verified = client.post("/verify-email", data={"email": NEW, "code": code})
    assert verified.status_code == 302 and verified.headers["Location"].endswith("/customer/")
    login = _login(app.test_client())
    assert login.status_code == 302 and login.headers["Location"].endswith("/customer/")


def test_a_verification_code_works_once(app, client, mailbox):
    _register(client)
    code = code_in(deliver(mailbox, 1)[0])
    assert client.post("/verify-email", data={"email": NEW, "code": code}).status_code == 302
    again = client.post("/verify-email", data={"email": NEW, "code": code})
    assert again.status_code == 400 and b"not right or has expired" in again.data


def test_a_wrong_code_is_refused_and_the_account_stays_unusable(app, client, mailbox):
    _register(client)
    code = code_in(deliver(mailbox, 1)[0])
    wrong = "000000" if code != "000000" else "111111"
    response = client.post("/verify-email", data={"email": NEW, "code": wrong})
    assert response.status_code == 400 and b"not right or has expired" in response.data
    assert "/verify-email" in _login(client).headers["Location"]


def test_the_verification_code_expires(app, client, mailbox):
    _register(client)
    code = code_in(deliver(mailbox, 1)[0])
    with time_machine.travel(utcnow() + timedelta(minutes=31), tick=False):
        late = client.post("/verify-email", data={"email": NEW, "code": code})
    assert late.status_code == 400
    assert "/verify-email" in _login(client).headers["Location"]


def test_resending_cancels_the_old_code(app, client, mailbox):
    _register(client)
    first = code_in(deliver(mailbox, 1)[0])
    response = client.post("/verify-email/resend", data={"resend-email": NEW})
    assert response.status_code == 302
    second = code_in(deliver(mailbox, 2)[-1])
    if first != second:
        assert client.post("/verify-email", data={"email": NEW, "code": first}).status_code == 400
    assert client.post("/verify-email", data={"email": NEW, "code": second}).status_code == 302


def test_resending_is_throttled_per_email(app, client, mailbox):
    _register(client)
    statuses = [
        client.post("/verify-email/resend", data={"resend-email": NEW}).status_code
        for _ in range(4)
    ]
    assert statuses == [302, 302, 302, 429]
    limited = client.post("/verify-email/resend", data={"resend-email": NEW})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0


def test_registering_a_known_email_looks_the_same_and_warns_the_owner(
    app, client, make_user, mailbox
):
    owner = make_user(Role.CUSTOMER, email="owner@example.com")
    known = _register(client, email="owner@example.com")
    page_known = client.get(known.headers["Location"])
    unknown = _register(client, email="stranger@example.com")
    page_unknown = client.get(unknown.headers["Location"])
    assert known.status_code == unknown.status_code == 302
    assert known.headers["Location"].replace("owner", "X") == unknown.headers["Location"].replace(
        "stranger", "X"
    )
    assert page_known.status_code == page_unknown.status_code == 200
    assert page_known.data.replace(b"owner", b"X") == page_unknown.data.replace(b"stranger", b"X")
    deliver(mailbox, 2)
    [warning] = mailbox.to(owner.email)
    assert warning["Subject"] == "Someone tried to register with your address"
    assert "nothing was created" in body_text(warning)
    # The owner's password is unchanged: the attacker's password does not work.
    assert _login(client, owner.email, PASSWORD).status_code == 302


def test_registration_form_keeps_what_was_typed_and_shows_field_errors(client):
    response = _register(client, first_name="Nia", password="short", confirm="different")
    assert response.status_code == 400
    html = response.data.decode()
    assert 'value="Nia"' in html and f'value="{NEW}"' in html
    assert "Use at least 8 characters" in html and "The passwords do not match" in html
    assert 'value="short"' not in html  # passwords are never echoed


def test_a_password_over_72_bytes_is_refused_clearly(client):
    long = "é" * 40  # 40 characters, 80 bytes
    response = _register(client, password=long, confirm=long)
    assert response.status_code == 400 and b"at most 72 bytes" in response.data


def test_a_long_passphrase_is_accepted(app, client, mailbox):
    phrase = "four wonderful unrelated words in a long row of sixty chars!"
    assert len(phrase) >= 60
    assert _register(client, password=phrase, confirm=phrase).status_code == 302
    code = code_in(deliver(mailbox, 1)[0])
    client.post("/verify-email", data={"email": NEW, "code": code})
    assert _login(client, password=phrase).status_code == 302


def test_a_common_password_is_refused(client):
    response = _register(client, password="password123", confirm="password123")
    assert response.status_code == 400 and b"too common" in response.data


def test_line_breaks_in_names_are_refused(app, client, mailbox):
    response = _register(client, first_name="Eve\r\nBcc: victim@example.com")
    assert response.status_code == 400 and b"no line breaks" in response.data
    assert deliver(mailbox, 0) == []


def test_registering_is_throttled_per_ip(client):
    statuses = [_register(client, email=f"p{i}@example.com").status_code for i in range(11)]
    assert statuses[:10] == [302] * 10 and statuses[10] == 429


def test_the_verification_email_link_reaches_the_code_form(app, client, mailbox):
    _register(client)
    deliver(mailbox, 1)
    link = link_in(last_to(mailbox, NEW), "/verify-email?email=")
    assert client.get(link.replace("http://localhost", "")).status_code == 200


def test_a_never_verified_registration_is_replaced_by_the_next_one(app, client, mailbox):
    """Pre-registering someone's address does not let the squatter keep their password."""
    _register(client, password="squatter passphrase", confirm="squatter passphrase")
    _register(client, first_name="Real", password=PASSWORD, confirm=PASSWORD)
    deliver(mailbox, 2)
    code = code_in(last_to(mailbox, NEW))
    assert client.post("/verify-email", data={"email": NEW, "code": code}).status_code == 302
    assert _login(app.test_client(), password="squatter passphrase").status_code == 401
    assert _login(app.test_client()).status_code == 302


def test_account_pages_are_not_cached(client):
    for path in ("/register", "/verify-email", "/forgot-password", "/reset-password"):
        assert client.get(path).headers["Cache-Control"] == "no-store"


def test_a_wrong_password_on_an_unverified_account_gets_the_generic_answer(app, client):
    _register(client)
    response = _login(client, password="not the right one")
    assert response.status_code == 401 and b"did not work" in response.data


def test_the_password_may_not_be_the_email_address_or_the_name(app, client, mailbox):
    for password in (NEW, NEW.upper(), "new.person", "Okoro2024", "Nia Okoro"):
        response = _register(client, password=password, confirm=password)
        assert response.status_code == 400, password
        assert b"Do not use your email address or your name" in response.data, password
    assert deliver(mailbox, 0) == [] and _login(client).status_code == 401
