"""Profile: name, password (needs the current one), chat emails, data export, deletion."""

import json

from ccr.extensions import db
from ccr.models import Role, User
from ccr.services.messages import post_message
from tests.support.codes import deliver, last_to
from tests.support.scene import Scene
from tests.support.users import PASSWORD, login

NEW = "another fine passphrase"


def _change_password(client, current, new=NEW, confirm=None):
    return client.post(
        "/profile/password",
        data={"pw-current": current, "pw-password": new, "pw-confirm": confirm or new},
    )


def test_the_profile_page_shows_every_section(client, login_as):
    login_as(Role.CUSTOMER)
    page = client.get("/profile")
    assert page.status_code == 200
    for text in (b"Change password", b"Download my data", b"Delete my account", b"chat messages"):
        assert text in page.data


def test_changing_the_name(client, login_as):
    user = login_as(Role.AGENT)
    response = client.post(
        "/profile/name", data={"name-first_name": "Grace", "name-last_name": "Hopper"}
    )
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.full_name == "Grace Hopper"


def test_a_bad_name_is_refused_and_the_form_keeps_what_was_typed(client, login_as):
    user = login_as(Role.CUSTOMER)
    response = client.post(
        "/profile/name", data={"name-first_name": "Ok\nBcc: x@y", "name-last_name": "Kept"}
    )
    assert response.status_code == 400
    assert b"no line breaks" in response.data and b'value="Kept"' in response.data
    db.session.refresh(user)
    assert user.last_name == "Tester"


def test_changing_the_password_needs_the_current_one(app, client, login_as, mailbox):
    user = login_as(Role.CUSTOMER)
    wrong = _change_password(client, "not my password at all")
    assert wrong.status_code == 400 and b"current password is not right" in wrong.data
    assert b"not my password at all" not in wrong.data
    ok = _change_password(client, PASSWORD)
    assert ok.status_code == 302
    assert client.get("/profile").status_code == 200  # this session continues
    deliver(mailbox, 1)
    assert last_to(mailbox, user.email)["Subject"] == "Your password was changed"
    fresh = app.test_client()
    assert fresh.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 401
    login(fresh, user, NEW)


def test_changing_the_password_ends_other_sessions(app, client, login_as, mailbox):
    user = login_as(Role.CUSTOMER)
    other = app.test_client()
    login(other, user)
    assert _change_password(client, PASSWORD).status_code == 302
    assert other.get("/customer/").status_code == 302


def test_the_new_password_follows_the_policy(client, login_as):
    login_as(Role.CUSTOMER)
    too_long = "ü" * 37  # 74 bytes
    response = _change_password(client, PASSWORD, too_long)
    assert response.status_code == 400 and b"at most 72 bytes" in response.data
    mismatch = _change_password(client, PASSWORD, NEW, "something else entirely")
    assert mismatch.status_code == 400 and b"do not match" in mismatch.data


def test_the_new_password_may_not_be_the_email_or_the_name(client, login_as):
    user = login_as(Role.CUSTOMER, first_name="Marguerite", last_name="Okafor")
    for password in (user.email, user.email.split("@")[0], "Marguerite!", "OKAFOR MARGUERITE"):
        response = _change_password(client, PASSWORD, password)
        assert response.status_code == 400, password
        assert b"Do not use your email address or your name" in response.data, password
    assert client.post("/logout").status_code == 302
    login(client, user)  # the old password still works


def test_turning_chat_emails_off_and_on(client, login_as):
    user = login_as(Role.CUSTOMER)
    assert client.post("/profile/notifications", data={}).status_code == 302
    db.session.refresh(user)
    assert user.notify_chat_email is False
    client.post("/profile/notifications", data={"chat-chat_emails": "y"})
    db.session.refresh(user)
    assert user.notify_chat_email is True


def _conversation(scene, **cast) -> Scene:
    s = scene(subject="Broken kettle", description="It leaks", **cast)
    post_message(s.ticket, s.customer, "Any news?", "c1")
    post_message(s.ticket, s.agent, "On it", "a1")
    post_message(s.ticket, s.agent, "SECRET internal remark", "a2", internal=True)
    return s


def test_data_export_holds_everything_but_internal_notes(client, make_user, scene):
    customer = make_user(Role.CUSTOMER, first_name="Ada")
    ticket = _conversation(scene, customer=customer).ticket
    login(client, customer)
    response = client.get("/profile/data.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.data)
    assert data["profile"]["email"] == customer.email
    assert data["profile"]["first_name"] == "Ada"
    assert [t["subject"] for t in data["tickets"]] == ["Broken kettle"]
    bodies = [m["body"] for m in data["messages"]]
    assert bodies == ["Any news?", "On it"]
    assert any(e["verb"] == "created" and e["ticket_id"] == ticket.id for e in data["events"])
    assert b"SECRET internal remark" not in response.data
    assert b"password" not in response.data.lower().replace(b"password_", b"")
    assert b"$2b$" not in response.data  # no hash


def test_data_export_holds_nothing_of_other_customers(client, make_user, scene):
    me, other = make_user(), make_user()
    _conversation(scene, customer=other)
    login(client, me)
    data = client.get("/profile/data.json").json
    assert data["tickets"] == [] and data["messages"] == [] and data["events"] == []


def test_deleting_the_account_needs_the_password(client, login_as):
    user = login_as(Role.CUSTOMER)
    response = client.post("/profile/delete", data={"del-password": "wrong password here"})
    assert response.status_code == 400 and b"password is not right" in response.data
    db.session.refresh(user)
    assert user.deleted_at is None


def test_deleting_erases_personal_data_but_keeps_tickets(app, client, scene, socket_client):
    s = _conversation(scene, customer={"first_name": "Zed", "last_name": "Private"})
    customer, admin, ticket_id = s.customer, s.admin, s.ticket.id
    email, customer_id, admin_id = customer.email, customer.id, admin.id
    login(client, customer)
    sc = socket_client(client)
    assert sc.is_connected()
    old_cookie = client.get_cookie("session").value
    response = client.post("/profile/delete", data={"del-password": PASSWORD})
    assert response.status_code == 302
    assert not sc.is_connected()
    db.session.expire_all()
    gone = db.session.get(User, customer_id)
    assert gone.deleted_at is not None and gone.password_hash is None
    assert email not in gone.email and "Zed" not in gone.first_name + gone.last_name
    assert gone.full_name == "Deleted customer"
    # The ticket and the messages stay, attributed to "Deleted customer".
    admin_client = app.test_client()
    login(admin_client, db.session.get(User, admin_id))
    page = admin_client.get(f"/admin/tickets/{ticket_id}")
    assert page.status_code == 200
    assert b"Any news?" in page.data and b"Deleted customer" in page.data
    assert b"Zed" not in page.data and b"Private" not in page.data
    # Neither the old cookie nor the old credentials work.
    replay = app.test_client()
    replay.set_cookie("session", old_cookie)
    assert replay.get("/customer/").status_code == 302
    assert replay.post("/login", data={"email": email, "password": PASSWORD}).status_code == 401


def test_staff_cannot_delete_themselves_here(client, login_as):
    user = login_as(Role.ADMIN)
    response = client.post("/profile/delete", data={"del-password": PASSWORD})
    assert response.status_code == 400
    db.session.refresh(user)
    assert user.deleted_at is None


def test_the_email_of_a_deleted_account_can_register_again(app, client, login_as, mailbox):
    user = login_as(Role.CUSTOMER)
    email = user.email
    client.post("/profile/delete", data={"del-password": PASSWORD})
    response = client.post(
        "/register",
        data={
            "first_name": "New",
            "last_name": "Me",
            "email": email,
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert response.status_code == 302
    deliver(mailbox, 1)
    assert last_to(mailbox, email)["Subject"] == "Your verification code"


def test_profile_routes_need_a_login(client):
    for path in ("/profile/password", "/profile/delete", "/profile/name", "/profile/notifications"):
        response = client.post(path, data={})
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/profile/data.json").status_code == 302
    assert client.get("/profile").status_code == 302


def test_password_change_attempts_are_throttled(client, login_as):
    login_as(Role.CUSTOMER)
    statuses = [_change_password(client, "wrong current one").status_code for _ in range(6)]
    assert statuses == [400] * 5 + [429]
