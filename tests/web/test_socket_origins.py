"""Which page addresses may open a socket (issue 18 item 12): development follows the
address actually served, production keeps its list, and a page is told why it is refused."""

import pytest

from ccr.config import DevelopmentConfig, ProductionConfig
from ccr.realtime.origins import SocketOrigins


def _environ(host: str, scheme: str = "http") -> dict:
    return {"HTTP_HOST": host, "wsgi.url_scheme": scheme}


@pytest.mark.parametrize("config", [DevelopmentConfig, ProductionConfig])
def test_ccr_port_alone_moves_the_base_url(monkeypatch, config):
    monkeypatch.delenv("CCR_BASE_URL", raising=False)
    monkeypatch.delenv("CCR_HOST", raising=False)
    monkeypatch.setenv("CCR_PORT", "8123")
    assert config().CCR_BASE_URL == "http://127.0.0.1:8123"


def test_listening_everywhere_still_links_to_a_reachable_address(monkeypatch):
    monkeypatch.delenv("CCR_BASE_URL", raising=False)
    monkeypatch.setenv("CCR_HOST", "0.0.0.0")
    monkeypatch.setenv("CCR_PORT", "8080")
    assert DevelopmentConfig().CCR_BASE_URL == "http://127.0.0.1:8080"


def test_a_set_base_url_wins(monkeypatch):
    monkeypatch.setenv("CCR_BASE_URL", "https://help.example.com/")
    monkeypatch.setenv("CCR_PORT", "8080")
    assert DevelopmentConfig().CCR_BASE_URL == "https://help.example.com"


def test_development_accepts_the_served_address_and_production_does_not(monkeypatch):
    monkeypatch.delenv("CCR_SOCKET_ORIGINS", raising=False)
    served = _environ("127.0.0.1:8123")
    dev = SocketOrigins(
        ["http://127.0.0.1:5000"], same_origin=DevelopmentConfig().CCR_SOCKET_SAME_ORIGIN
    )
    prod = SocketOrigins(
        ["http://127.0.0.1:5000"], same_origin=ProductionConfig().CCR_SOCKET_SAME_ORIGIN
    )
    assert dev("http://127.0.0.1:8123", served) and not prod("http://127.0.0.1:8123", served)
    # Another site's page is refused in both, whatever address it aims at.
    assert not dev("http://evil.example", served) and not prod("http://evil.example", served)
    assert dev("http://127.0.0.1:5000", served) and prod("http://127.0.0.1:5000", served)
    assert not dev(None, served) and not dev("", served)


def test_the_configured_extra_origins_are_allowed():
    origins = SocketOrigins(["https://ccr.example.com", "https://widget.example.org/"], False)
    assert origins("https://widget.example.org", _environ("ccr.internal:8000"))
    assert not origins("https://widget.example.org:8443", _environ("ccr.internal:8000"))


def test_a_page_is_told_when_its_address_is_refused(app, client):
    refused = client.get("/chat/socket-origin", query_string={"origin": "http://127.0.0.1:5001"})
    assert refused.status_code == 200
    body = refused.get_json()
    assert body["allowed"] is False
    assert (
        "Live updates are blocked: this page's address (http://127.0.0.1:5001)" in body["message"]
    )
    assert "CCR_BASE_URL or CCR_SOCKET_ORIGINS" in body["message"]
    allowed = client.get("/chat/socket-origin", query_string={"origin": app.config["CCR_BASE_URL"]})
    assert allowed.get_json() == {"ok": True, "allowed": True, "message": None}


def test_in_development_the_page_at_the_served_address_is_allowed(app, client):
    app.config["CCR_SOCKET_SAME_ORIGIN"] = True
    answer = client.get(
        "/chat/socket-origin",
        query_string={"origin": "http://127.0.0.1:8123"},
        headers={"Host": "127.0.0.1:8123"},
    )
    assert answer.get_json()["allowed"] is True


def test_a_hostile_origin_parameter_is_answered_plainly(client):
    for origin in ("", "x" * 5000, "<script>alert(1)</script>", "\r\nSet-Cookie: a=b"):
        answer = client.get("/chat/socket-origin", query_string={"origin": origin})
        assert answer.status_code == 200 and answer.get_json()["allowed"] is False
