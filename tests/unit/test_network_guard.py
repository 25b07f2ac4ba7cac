import socket

import pytest


def test_no_test_can_reach_a_host_other_than_loopback():
    with pytest.raises(ConnectionRefusedError, match="only reach 127.0.0.1"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)


def test_loopback_is_allowed(smtp_sink):
    with socket.create_connection(("127.0.0.1", smtp_sink.port), timeout=2) as conn:
        assert conn.recv(3) == b"220"
