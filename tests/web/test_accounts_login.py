"""Login, remember me, throttling, logout and CSRF (SECURITY 14, 16, 25; DESIGN real time)."""

import re

from flask import g

from ccr.extensions import db
from ccr.models import Role
from tests.support.users import PASSWORD, login


def _post_login(client, email, password=PASSWORD, **kw):
    return client.post(
        "/login", data={"email": email, "password": password, **kw.pop("data", {})}, **kw
    )


def test_remember_me_keeps_the_user_logged_in_without_the_session_cookie(app, client, make_user):
    user = make_user()
    response = _post_login(client, user.email, data={"remember": "y"})
    assert response.status_code == 302
    assert client.get_cookie("remember_token") is not None
    client.delete_cookie("session")
    assert client.get("/customer/").status_code == 200


def test_without_remember_me_losing_the_session_cookie_logs_out(app, client, make_user):
    user = make_user()
    login(client, user)
    assert client.get_cookie("remember_token") is None
    client.delete_cookie("session")
    assert client.get("/customer/").status_code == 302


def test_logout_also_kills_a_replayed_remember_cookie(app, client, make_user):
    user = make_user()
    _post_login(client, user.email, data={"remember": "y"})
    remember = client.get_cookie("remember_token").value
    client.post("/logout")
    replay = app.test_client()
    replay.set_cookie("remember_token", remember)
    assert replay.get("/customer/").status_code == 302


def test_a_deactivated_account_cannot_log_in_and_gets_the_generic_message(client, make_user):
    user = make_user(Role.AGENT, active=False)
    response = _post_login(client, user.email)
    assert response.status_code == 401 and b"did not work" in response.data
    assert b"deactivated" not in response.data.lower()


def test_login_failures_are_throttled_per_account(app, client, make_user):
    victim, bystander = make_user(), make_user()
    statuses = [_post_login(client, victim.email, "wrong guess here").status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    limited = _post_login(client, victim.email)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    # Another account, even from the same IP, still logs in.
    assert _post_login(client, bystander.email).status_code == 302
    # And the victim, from their own address, is not locked out by the guesser.
    victim_client = app.test_client()
    response = _post_login(victim_client, victim.email, environ_base={"REMOTE_ADDR": "10.7.7.7"})
    assert response.status_code == 302


def test_failures_from_many_addresses_are_capped_per_account(app, make_user):
    victim = make_user()
    c = app.test_client()
    statuses = [
        _post_login(
            c, victim.email, "wrong guess here", environ_base={"REMOTE_ADDR": f"10.0.{i}.1"}
        ).status_code
        for i in range(51)
    ]
    assert statuses[:50] == [401] * 50 and statuses[50] == 429


def test_successful_logins_do_not_spend_the_account_budget(app, make_user):
    user = make_user()
    for _ in range(7):
        c = app.test_client()
        assert _post_login(c, user.email).status_code == 302


def test_login_is_throttled_per_ip_without_locking_out_other_ips(app, client, make_user):
    user = make_user()
    statuses = [_post_login(client, f"guess{i}@example.com").status_code for i in range(21)]
    assert statuses[:20] == [401] * 20 and statuses[20] == 429
    elsewhere = app.test_client()
    response = _post_login(elsewhere, user.email, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert response.status_code == 302


def test_x_forwarded_for_is_ignored_without_a_configured_proxy(client):
    statuses = [
        _post_login(
            client, f"g{i}@example.com", headers={"X-Forwarded-For": f"203.0.113.{i}"}
        ).status_code
        for i in range(21)
    ]
    assert statuses[20] == 429  # spoofed addresses did not buy fresh budgets


def test_x_forwarded_for_is_trusted_behind_a_configured_proxy(app_config, request):
    app_config.CCR_PROXY_COUNT = 1
    app = request.getfixturevalue("app")
    client = app.test_client()
    statuses = [
        _post_login(
            client, f"g{i}@example.com", headers={"X-Forwarded-For": f"203.0.113.{i}"}
        ).status_code
        for i in range(25)
    ]
    assert statuses == [401] * 25  # each real client address has its own budget


def test_logout_disconnects_a_live_socket(app, client, socket_client, login_as):
    login_as(Role.AGENT)
    sc = socket_client(client)
    assert sc.is_connected()
    assert client.post("/logout").status_code == 302
    assert not sc.is_connected()
    assert not socket_client(client).is_connected()  # and cannot come back


def test_deactivation_disconnects_sockets_and_refuses_the_cookie(
    app, client, socket_client, make_user
):
    agent = make_user(Role.AGENT)
    login(client, agent)
    sc = socket_client(client)
    assert sc.is_connected()
    admin_client = app.test_client()
    login(admin_client, make_user(Role.ADMIN))
    assert (
        admin_client.post(
            f"/admin/agents/{agent.id}/deactivate", data={"confirmed": "1"}
        ).status_code
        == 302
    )
    assert not sc.is_connected()
    assert client.get("/agent/").status_code == 302


def _fresh_csrf_cache() -> None:
    """The app fixture holds one app context open, so `g` outlives a request there (never in
    production); drop Flask-WTF's per-request token cache as a new request would."""
    g.pop("csrf_token", None)


def _csrf_token(page: bytes) -> str:
    match = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        rb'name="csrf-token" content="([^"]+)"', page
    )
    assert match, "no CSRF token on the page"
    return match.group(1).decode()


def test_csrf_is_enforced_on_state_changing_forms(app_config, request):
    app_config.WTF_CSRF_ENABLED = True
    app = request.getfixturevalue("app")
    make_user = request.getfixturevalue("make_user")
    client = app.test_client()
    user = make_user(first_name="Before")
    token = _csrf_token(client.get("/login").data)
    assert _post_login(client, user.email, data={"csrf_token": token}).status_code == 302
    _fresh_csrf_cache()
    profile = client.get("/profile")
    forged = client.post("/profile/name", data={"name-first_name": "Forged", "name-last_name": "X"})
    assert forged.status_code == 400
    db.session.refresh(user)
    assert user.first_name == "Before"
    ok = client.post(
        "/profile/name",
        data={
            "name-first_name": "After",
            "name-last_name": "X",
            "name-csrf_token": _csrf_token(profile.data),
        },
    )
    assert ok.status_code == 302
    db.session.refresh(user)
    assert user.first_name == "After"


def test_login_without_a_csrf_token_is_refused_when_csrf_is_on(app_config, request):
    app_config.WTF_CSRF_ENABLED = True
    app = request.getfixturevalue("app")
    user = request.getfixturevalue("make_user")()
    response = _post_login(app.test_client(), user.email)
    assert response.status_code == 400


def test_logout_tells_the_browser_to_drop_what_the_account_left_in_storage(client, login_as):
    # The chat's unsent messages live in localStorage (tests/e2e/test_chat_privacy_browser.py).
    login_as(Role.CUSTOMER)
    response = client.post("/logout")
    assert response.status_code == 302
    assert response.headers["Clear-Site-Data"] == '"storage"'
