"""The development server (python app.py, what `make run` serves) names no versions: no
`Server: Werkzeug/x Python/y` banner on pages, error pages or a malformed request."""

import socket

import pytest
import requests


@pytest.mark.live
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # about the server, not the data
def test_the_development_server_sends_no_version_banner(live_server):
    srv = live_server()
    for path in ("/login", "/no-such-page", "/healthz"):
        server = requests.get(srv.url + path, timeout=5).headers.get("Server", "")
        assert "Werkzeug" not in server and "Python" not in server, (path, server)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as raw:
        raw.sendall(b"GET / / HTTP/1.1\r\n\r\n")  # bad syntax: answered by http.server (400)
        head = raw.recv(4096).decode("latin-1")
    assert head.startswith("HTTP/") and "Werkzeug" not in head and "Python/" not in head
