"""Every account and admin route is public only by intent; the rest need a login or a role."""

from ccr.models import Role
from tests.support.routes import PUBLIC_ENDPOINTS

PUBLIC = PUBLIC_ENDPOINTS


def _routes(app, prefix):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(prefix):
            values = {arg: 1 if arg.endswith("id") else "x" for arg in rule.arguments}
            method = "GET" if "GET" in rule.methods else "POST"
            yield rule.endpoint, method, rule.build(values)[1]


def test_the_public_allowlist_is_exactly_what_the_auth_blueprint_exposes(app, client):
    for endpoint, method, path in _routes(app, "auth."):
        response = client.open(path, method=method)
        needs_login = response.status_code == 302 and "/login?next=" in response.headers.get(
            "Location", ""
        )
        assert needs_login == (endpoint not in PUBLIC), endpoint


def test_every_account_page_renders_for_its_audience(app, client, login_as, make_user):
    for path in ("/login", "/register", "/verify-email", "/forgot-password", "/reset-password"):
        assert client.get(path).status_code == 200, path
    agent = make_user(Role.AGENT)
    login_as(Role.ADMIN)
    for path in ("/profile", "/admin/agents", f"/admin/agents/{agent.id}/edit"):
        assert client.get(path).status_code == 200, path


def test_a_failed_reset_keeps_the_email_but_never_the_password(client):
    response = client.post(
        "/reset-password",
        data={
            "email": "kept@example.com",
            "code": "123456",
            "password": "typed secret phrase",
            "confirm": "typed secret phrase",
        },
    )
    assert response.status_code == 400
    assert b'value="kept@example.com"' in response.data
    assert b"typed secret phrase" not in response.data
    assert b"not right or has expired" in response.data
