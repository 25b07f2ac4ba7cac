"""The Socket.IO test client, sharing a Flask test client's cookies."""

import pytest

from ccr.extensions import socketio


@pytest.fixture
def socket_client(app):
    """socket_client(flask_client) -> a Socket.IO test client sharing that client's cookies."""
    made = []

    def connect(flask_client, **kwargs):
        sc = socketio.test_client(app, flask_test_client=flask_client, **kwargs)
        made.append(sc)
        return sc

    yield connect
    for sc in made:
        for namespace in [ns for ns, up in sc.connected.items() if up]:
            sc.disconnect(namespace=namespace)  # every namespace: presence is per process
