"""Password reset by emailed code (SECURITY 19-22) and its effect on sessions and sockets."""

import logging
from datetime import timedelta

import time_machine
from sqlalchemy import select

from ccr.extensions import db
from ccr.models import OutboxEmail, Role, utcnow
from ccr.notify.dispatcher import REDACTED
from tests.support.codes import code_in, deliver, last_to
from tests.support.smtp import body_text
from tests.support.users import PASSWORD, login

NEW_PASSWORD = "a brand new passphrase"


def _request(client, email):
    return client.post("/forgot-password", data={"email": email})


def _reset(client, email, code, password=NEW_PASSWORD):
    return client.post(
        "/reset-password",
        data={"email": email, "code": code, "password": password, "confirm": password},
    )


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def _code_for(mailbox, user, count=1) -> str:
    deliver(mailbox, count)
    msg = last_to(mailbox, user.email)
    assert msg["Subject"] == "Your password reset code"
    return code_in(msg)


def test_reset_with_the_emailed_code_sets_the_password_and_says_so(app, client, make_user, mailbox):
    user = make_user(Role.AGENT)
    assert _request(client, user.email).status_code == 302
    code = _code_for(mailbox, user)
    response = _reset(client, user.email, code)
    assert response.status_code == 302 and response.headers["Location"].endswith("/agent/")
    deliver(mailbox, 2)
    changed = last_to(mailbox, user.email)
    assert changed["Subject"] == "Your password was changed"
    other = app.test_client()
    assert other.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 401
    login(other, user, NEW_PASSWORD)


def test_the_code_is_single_use(app, client, make_user, mailbox):
    user = make_user()
    _request(client, user.email)
    code = _code_for(mailbox, user)
    assert _reset(client, user.email, code).status_code == 302
    again = _reset(client, user.email, code, "yet another passphrase")
    assert again.status_code == 400 and b"not right or has expired" in again.data
    login(client, user, NEW_PASSWORD)


def test_the_code_expires_after_ten_minutes(app, client, make_user, mailbox):
    user = make_user()
    _request(client, user.email)
    code = _code_for(mailbox, user)
    with time_machine.travel(utcnow() + timedelta(minutes=10, seconds=1), tick=False):
        assert _reset(client, user.email, code).status_code == 400
    login(client, user)  # the old password still works


def test_the_code_still_works_just_before_expiry(app, client, make_user, mailbox):
    user = make_user()
    _request(client, user.email)
    code = _code_for(mailbox, user)
    with time_machine.travel(utcnow() + timedelta(minutes=9, seconds=50), tick=False):
        assert _reset(client, user.email, code).status_code == 302


def test_five_wrong_attempts_burn_the_code(app, client, make_user, mailbox):
    user = make_user()
    _request(client, user.email)
    code = _code_for(mailbox, user)
    for _ in range(5):
        assert _reset(client, user.email, _wrong(code)).status_code == 400
    assert _reset(client, user.email, code).status_code == 400  # even the right one now
    login(client, user)


def test_four_wrong_attempts_still_leave_the_right_code_usable(app, client, make_user, mailbox):
    user = make_user()
    _request(client, user.email)
    code = _code_for(mailbox, user)
    for _ in range(4):
        _reset(client, user.email, _wrong(code))
    assert _reset(client, user.email, code).status_code == 302


def test_a_new_request_cancels_the_older_code(app, client, make_user, mailbox):
    user = make_user()
    _request(client, user.email)
    first = _code_for(mailbox, user, 1)
    _request(client, user.email)
    second = _code_for(mailbox, user, 2)
    if first != second:  # one chance in a million they coincide
        assert _reset(client, user.email, first).status_code == 400
    assert _reset(client, user.email, second).status_code == 302


def test_a_code_is_tied_to_its_account(app, client, make_user, mailbox):
    alice, bob = make_user(), make_user()
    _request(client, alice.email)
    _request(client, bob.email)
    deliver(mailbox, 2)
    alice_code = code_in(last_to(mailbox, alice.email))
    bob_code = code_in(last_to(mailbox, bob.email))
    if alice_code != bob_code:
        assert _reset(client, bob.email, alice_code).status_code == 400
    assert _reset(client, alice.email, alice_code).status_code == 302


def test_known_and_unknown_emails_get_the_same_answer(app, client, make_user, mailbox):
    user = make_user()
    known = _request(client, user.email)
    page_known = client.get(known.headers["Location"]).data
    unknown = _request(client, "nobody@example.com")
    page_unknown = client.get(unknown.headers["Location"]).data
    assert known.status_code == unknown.status_code == 302
    assert known.headers["Location"].replace(user.email.split("@")[0], "X") == unknown.headers[
        "Location"
    ].replace("nobody", "X")
    assert page_known.replace(user.email.split("@")[0].encode(), b"X") == page_unknown.replace(
        b"nobody", b"X"
    )
    deliver(mailbox, 1)
    assert [m["To"] for m in mailbox.messages] == [user.email]


def test_requests_are_throttled_per_email(app, client, make_user):
    user = make_user()
    statuses = [_request(client, user.email).status_code for _ in range(4)]
    assert statuses == [302, 302, 302, 429]
    # Another address from the same IP is not locked out by it.
    assert _request(client, "someone.else@example.com").status_code == 302


def test_unknown_emails_are_throttled_the_same_way(client):
    statuses = [_request(client, "ghost@example.com").status_code for _ in range(4)]
    assert statuses == [302, 302, 302, 429]


def test_requests_are_throttled_per_ip(client):
    statuses = [_request(client, f"u{i}@example.com").status_code for i in range(11)]
    assert statuses[:10] == [302] * 10
    assert statuses[10] == 429
    other_ip = client.post(
        "/forgot-password",
        data={"email": "u99@example.com"},
        environ_base={"REMOTE_ADDR": "10.9.9.9"},
    )
    assert other_ip.status_code == 302


def test_reset_ends_other_sessions_and_refuses_old_cookies(app, client, make_user, mailbox):
    user = make_user()
    other = app.test_client()
    login(other, user)
    old_cookie = other.get_cookie("session").value
    assert other.get("/customer/").status_code == 200
    _request(client, user.email)
    _reset(client, user.email, _code_for(mailbox, user))
    assert other.get("/customer/").status_code == 302  # logged out
    replay = app.test_client()
    replay.set_cookie("session", old_cookie)
    response = replay.get("/customer/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_reset_disconnects_live_sockets(app, client, make_user, mailbox, socket_client):
    user = make_user(Role.AGENT)
    other = app.test_client()
    login(other, user)
    sc = socket_client(other)
    assert sc.is_connected()
    _request(client, user.email)
    _reset(client, user.email, _code_for(mailbox, user))
    assert not sc.is_connected()


def test_the_outbox_row_with_the_code_is_erased_once_sent(app, client, make_user, mailbox):
    user = make_user()
    _request(client, user.email)
    code = _code_for(mailbox, user)
    rows = db.session.scalars(select(OutboxEmail).where(OutboxEmail.kind == "reset_code")).all()
    assert len(rows) == 1 and rows[0].sensitive
    assert rows[0].body_text == rows[0].body_html == REDACTED
    assert code not in rows[0].body_text


def test_no_password_or_code_reaches_the_logs(app, client, make_user, mailbox, caplog):
    caplog.set_level(logging.DEBUG)
    user = make_user()
    _request(client, user.email)
    code = _code_for(mailbox, user)
    _reset(client, user.email, _wrong(code))
    _reset(client, user.email, code)
    login(client, user, NEW_PASSWORD)
    app.test_client().post("/login", data={"email": user.email, "password": "wrong password here"})
    # Everything the app logged (mail.log is the test's own SMTP sink, not the app).
    text = "\n".join(r.getMessage() for r in caplog.records if r.name != "mail.log")
    security = [r for r in caplog.records if r.name == "ccr.security"]
    assert any("reset_requested" in r.getMessage() for r in security)
    assert any("password_reset" in r.getMessage() for r in security)
    assert any("login_failed" in r.getMessage() for r in security)
    assert all("ip=" in r.getMessage() and "at=" in r.getMessage() for r in security)
    for secret in (code, NEW_PASSWORD, PASSWORD, "wrong password here"):
        assert secret not in text


def test_the_reset_email_names_the_expiry(app, client, make_user, mailbox):
    user = make_user()
    _request(client, user.email)
    deliver(mailbox, 1)
    assert "expires in 10 minutes" in body_text(last_to(mailbox, user.email))


def test_a_deactivated_account_gets_no_code(app, client, make_user, mailbox):
    user = make_user(Role.AGENT, active=False)
    assert _request(client, user.email).status_code == 302
    assert deliver(mailbox, 0) == []


def test_the_new_password_may_not_be_the_email_or_the_name(app, client, make_user, mailbox):
    user = make_user(first_name="Bartholomew", last_name="Quist")
    _request(client, user.email)
    code = _code_for(mailbox, user)
    for password in (user.email, "Bartholomew1", "quist bartholomew"):
        response = _reset(client, user.email, code, password)
        assert response.status_code == 400, password
        assert b"Do not use your email address or your name" in response.data, password
    assert _reset(client, user.email, code).status_code == 302  # the code was not used up
    login(client, user, NEW_PASSWORD)
