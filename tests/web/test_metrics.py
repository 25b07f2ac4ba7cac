"""/metrics: Prometheus text, counts by endpoint, sockets and outbox; token or private address."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ccr.extensions import db
from ccr.models import OutboxEmail, OutboxStatus, Role, utcnow

TOKEN = "metrics-token-" + "m" * 32


def _samples(response) -> dict[tuple, float]:
    assert response.status_code == 200, response.status_code
    assert response.content_type.startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _requests(samples, endpoint, status="200", method="GET") -> float:
    key = (
        "ccr_http_requests_total",
        (("endpoint", endpoint), ("method", method), ("status", status)),
    )
    return samples.get(key, 0)


def test_request_counts_move_by_endpoint_and_status(client):
    client.get("/healthz")
    client.get("/healthz")
    before = _samples(client.get("/metrics"))
    assert _requests(before, "ops.healthz") == 2
    client.get("/healthz")
    client.get("/no/such/page/123")
    after = _samples(client.get("/metrics"))
    assert _requests(after, "ops.healthz") == 3
    assert _requests(after, "unmatched", "404") == 1
    assert _requests(after, "metrics.metrics") == 1  # the first scrape
    histogram_count = (
        "ccr_http_request_duration_seconds_count",
        (("endpoint", "ops.healthz"), ("method", "GET")),
    )
    assert after[histogram_count] == 3


def test_labels_are_endpoint_names_never_raw_paths(client):
    client.get("/no/such/page/123")
    text = client.get("/metrics").get_data(as_text=True)
    assert "/no/such/page" not in text
    assert "# TYPE ccr_http_request_duration_seconds histogram" in text


def test_outbox_counts_reflect_rows(app, client):
    for status in [OutboxStatus.PENDING] * 2 + [OutboxStatus.DEAD, OutboxStatus.SENT]:
        db.session.add(
            OutboxEmail(
                recipient="a@example.com",
                subject="s",
                body_text="t",
                body_html="h",
                status=status,
                next_attempt_at=utcnow(),
            )
        )
    db.session.commit()
    samples = _samples(client.get("/metrics"))
    assert samples[("ccr_outbox_emails", (("status", "pending"),))] == 2
    assert samples[("ccr_outbox_emails", (("status", "dead"),))] == 1
    assert samples[("ccr_database_up", ())] == 1


def test_connected_sockets_are_counted(app, client, login_as, socket_client):
    key = ("ccr_socketio_connected_sockets", ())
    assert _samples(client.get("/metrics"))[key] == 0
    login_as(Role.CUSTOMER)
    sc = socket_client(client)
    assert sc.is_connected()
    assert _samples(client.get("/metrics"))[key] == 1
    sc.disconnect()
    assert _samples(client.get("/metrics"))[key] == 0


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "172.20.0.4", "192.168.0.9", "::1", "fd00::5"]
)
def test_private_addresses_may_read_without_a_token(client, address):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": address}).status_code == 200


@pytest.mark.parametrize("address", ["203.0.113.5", "8.8.8.8", "2001:db8::1", "172.32.0.1"])
def test_public_addresses_get_404_without_a_token(client, address):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": address}).status_code == 404


def test_a_request_relayed_by_a_proxy_gets_404_without_a_token(client):
    response = client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.7"})
    assert response.status_code == 404


@pytest.fixture
def token_app_config(app_config):
    app_config.CCR_METRICS_TOKEN = TOKEN
    return app_config


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x"]
)
def test_with_a_token_configured_even_loopback_needs_it(token_app_config, client, header):
    headers = {"Authorization": header} if header else {}
    assert client.get("/metrics", headers=headers).status_code == 403


def test_the_right_token_reads_metrics_from_anywhere(token_app_config, client):
    response = client.get(
        "/metrics",
        headers={"Authorization": f"Bearer {TOKEN}", "X-Forwarded-For": "8.8.8.8"},
        environ_base={"REMOTE_ADDR": "8.8.8.8"},
    )
    assert ("ccr_socketio_connected_sockets", ()) in _samples(response)
