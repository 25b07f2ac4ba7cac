"""The web shell: health endpoints, error pages, security headers, login and logout."""

import pytest
from sqlalchemy.exc import OperationalError

from ccr.models import Role
from tests.support.users import PASSWORD, login


def test_healthz_answers_without_login(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_ok_when_the_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json["database"] == "ok"


def test_readyz_503_when_the_database_is_unreachable(tmp_path, smtp_sink):
    from ccr import create_app
    from tests.support.database import config_for

    app = create_app(config_for("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["database"] == "unreachable"


def test_a_page_needing_the_database_gives_a_clear_503_when_it_is_down(tmp_path):
    from ccr import create_app
    from tests.support.database import config_for

    app = create_app(config_for("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    response = app.test_client().post(
        "/login", data={"email": "a@example.com", "password": "x" * 9}
    )
    assert response.status_code == 503
    assert b"temporarily unavailable" in response.data
    assert b"Traceback" not in response.data


@pytest.mark.parametrize(
    "method,path,code",
    [("get", "/no-such-page", 404), ("post", "/healthz", 405), ("get", "/admin/", 302)],
)
def test_error_pages_are_generic_and_carry_security_headers(client, method, path, code):
    response = getattr(client, method)(path)
    assert response.status_code == code
    assert "nonce-" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert b"Traceback" not in response.data


def test_an_unexpected_error_is_a_generic_500_page(app, client):
    @app.get("/boom-for-test")
    def boom():
        raise RuntimeError("secret internals")

    response = client.get("/boom-for-test")
    assert response.status_code == 500
    assert b"secret internals" not in response.data and b"Traceback" not in response.data
    assert b"Something went wrong" in response.data


def test_a_database_error_inside_a_request_is_a_503(app, client):
    @app.get("/db-down-for-test")
    def down():
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    response = client.get("/db-down-for-test", headers={"Accept": "application/json"})
    assert response.status_code == 503 and response.json["ok"] is False


def test_each_role_lands_on_its_own_dashboard(client, make_user):
    for role, path in [
        (Role.CUSTOMER, "/customer/"),
        (Role.AGENT, "/agent/"),
        (Role.ADMIN, "/admin/"),
    ]:
        user = make_user(role)
        response = login(client, user)
        assert response.headers["Location"].endswith(path)
        page = client.get(path)
        assert page.status_code == 200 and user.full_name.encode() in page.data
        assert page.headers["Cache-Control"] == "no-store"
        client.post("/logout")


def test_a_role_never_reaches_another_roles_pages(client, login_as):
    login_as(Role.CUSTOMER)
    assert client.get("/admin/").status_code == 404
    assert client.get("/agent/").status_code == 404


def test_wrong_password_is_refused_with_one_message(client, make_user):
    user = make_user(Role.CUSTOMER)
    wrong = client.post("/login", data={"email": user.email, "password": "not the password"})
    unknown = client.post("/login", data={"email": "ghost@example.com", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert b"did not work" in wrong.data and b"did not work" in unknown.data


def test_logout_refuses_a_replayed_old_cookie(client, make_user):
    user = make_user(Role.CUSTOMER)
    login(client, user)
    old_cookie = client.get_cookie("session").value
    assert client.post("/logout").status_code == 302
    client.set_cookie("session", old_cookie)
    response = client.get("/customer/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_login_renews_the_session(client, make_user):
    user = make_user(Role.CUSTOMER)
    client.get("/login")
    before = client.get_cookie("session")
    login(client, user)
    after = client.get_cookie("session")
    assert after is not None and (before is None or before.value != after.value)


def test_socket_connection_needs_a_logged_in_session(app, client, socket_client):
    sc = socket_client(client)
    assert not sc.is_connected()


def test_socket_connects_for_a_logged_in_user(app, client, socket_client, login_as):
    login_as(Role.AGENT)
    sc = socket_client(client)
    assert sc.is_connected()


def test_a_too_large_request_gets_a_generic_413_page(app, client):
    response = client.post("/login", data={"email": "a@example.com", "password": "x" * 2_000_000})
    assert response.status_code == 413
    assert b"larger than we accept" in response.data
    assert "nonce-" in response.headers["Content-Security-Policy"]


def test_too_many_login_attempts_get_a_429_page_with_retry_after(client):
    codes = [
        client.post(
            "/login", data={"email": "x@example.com", "password": "wrong-password"}
        ).status_code
        for _ in range(25)
    ]
    assert codes[0] == 401 and codes[-1] == 429
    response = client.post("/login", data={"email": "x@example.com", "password": "wrong-password"})
    assert b"too many times" in response.data
    assert int(response.headers["Retry-After"]) > 0
