"""Verifying the email, resetting the password and accepting an invitation sign the person
in, each in a fresh session (nothing the browser's earlier session held survives)."""

from ccr.models import Role
from tests.support.codes import code_in, deliver, last_to, link_in
from tests.support.users import PASSWORD, login

NEW = "nia.okoro@example.com"
NEW_PASSWORD = "a brand new passphrase"


def _register(client, password=PASSWORD, first_name="Nia"):
    response = client.post(
        "/register",
        data={
            "first_name": first_name,
            "last_name": "Okoro",
            "email": NEW,
            "password": password,
            "confirm": password,
        },
    )
    assert response.status_code == 302
    return response


def _plant(client) -> None:
    """What a session-fixation attack would leave in the browser before the sign-in."""
    with client.session_transaction() as sess:
        sess["planted"] = "by someone else"


def _planted(client) -> bool:
    with client.session_transaction() as sess:
        return "planted" in sess


def test_verifying_the_email_in_the_registering_browser_lands_signed_in(app, client, mailbox):
    _register(client)
    code = code_in(deliver(mailbox, 1)[0])
    _plant(client)
    verified = client.post("/verify-email", data={"email": NEW, "code": code})
    assert verified.status_code == 302 and verified.headers["Location"].endswith("/customer/")
    page = client.get("/customer/")
    assert page.status_code == 200 and b"Your email address is verified" in page.data
    assert not _planted(client)


def test_verifying_in_another_browser_verifies_but_asks_for_the_password(app, client, mailbox):
    _register(client)
    code = code_in(deliver(mailbox, 1)[0])
    other = app.test_client()
    verified = other.post("/verify-email", data={"email": NEW, "code": code})
    assert verified.status_code == 302 and verified.headers["Location"].endswith("/login")
    assert other.get("/customer/").status_code == 302  # not signed in
    assert other.post("/login", data={"email": NEW, "password": PASSWORD}).status_code == 302


def test_a_later_registration_of_the_address_voids_the_first_browsers_sign_in(app, client, mailbox):
    """The first browser's password was replaced: its code entry does not sign in to an
    account whose password someone else chose."""
    _register(client)
    squatter = app.test_client()
    _register(squatter, password="squatter passphrase", first_name="Sly")
    deliver(mailbox, 2)
    code = code_in(last_to(mailbox, NEW))
    verified = client.post("/verify-email", data={"email": NEW, "code": code})
    assert verified.status_code == 302 and verified.headers["Location"].endswith("/login")
    assert client.get("/customer/").status_code == 302


def test_a_password_reset_signs_in_here_and_out_everywhere_else(app, client, make_user, mailbox):
    user = make_user(Role.CUSTOMER)
    elsewhere = app.test_client()
    login(elsewhere, user)
    client.post("/forgot-password", data={"email": user.email})
    code = code_in(deliver(mailbox, 1)[0])
    _plant(client)
    reset = client.post(
        "/reset-password",
        data={"email": user.email, "code": code, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert reset.status_code == 302 and reset.headers["Location"].endswith("/customer/")
    page = client.get("/customer/")
    assert page.status_code == 200 and b"Your password has been changed" in page.data
    assert not _planted(client)
    assert elsewhere.get("/customer/").status_code == 302  # the other session has ended


def test_accepting_an_invitation_lands_on_the_agent_dashboard(app, client, login_as, mailbox):
    login_as(Role.ADMIN)
    client.post(
        "/admin/agents",
        data={
            "first_name": "Sam",
            "last_name": "Rivera",
            "email": "sam.rivera@example.com",
            "method": "invite",
            "password": "",
        },
    )
    deliver(mailbox, 1)
    path = link_in(last_to(mailbox, "sam.rivera@example.com"), "/invite/")
    invited = app.test_client()
    _plant(invited)
    accepted = invited.post(
        path.replace("http://localhost", ""), data={"password": PASSWORD, "confirm": PASSWORD}
    )
    assert accepted.status_code == 302 and accepted.headers["Location"].endswith("/agent/")
    assert invited.get("/agent/").status_code == 200
    assert not _planted(invited)
