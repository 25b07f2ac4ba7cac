"""/metrics in the Prometheus text format, from a registry per app (so per process).

Requests are labelled by endpoint name (never the raw path: bounded label values), status
and method; a latency histogram by endpoint; connected sockets of this process; outbox
pending and dead counts from the database at scrape time.

Access: with CCR_METRICS_TOKEN set, only `Authorization: Bearer <token>` (403 otherwise).
Without a token, only direct requests from loopback or private addresses (404 otherwise,
and for any request relayed by a proxy: an ingress must not expose the page).
"""

import hmac
import ipaddress
import logging
import time

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from sqlalchemy import func, select

from ccr.extensions import db, limiter
from ccr.models import OutboxEmail, OutboxStatus
from ccr.realtime import presence

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)
EXTENSION = "ccr_metrics"
# where Prometheus scrapes from inside a cluster or a private network (RFC 1918, ULA, CGNAT)
PRIVATE_NETWORKS = [
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
]
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "ccr_http_requests",
            "HTTP requests handled, by endpoint name, method and status.",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ccr_http_request_duration_seconds",
            "Time to handle an HTTP request, by endpoint name.",
            ["endpoint", "method"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_LiveCollector())


class _LiveCollector:
    """Values read at scrape time: this process's sockets, the outbox backlog."""

    def collect(self):
        sockets = GaugeMetricFamily(
            "ccr_socketio_connected_sockets", "Socket.IO connections open on this process."
        )
        sockets.add_metric([], presence.count())
        yield sockets
        outbox = GaugeMetricFamily(
            "ccr_outbox_emails", "Outbox emails waiting to be sent or given up.", labels=["status"]
        )
        up = GaugeMetricFamily("ccr_database_up", "1 when the outbox count query succeeded.")
        try:
            counts = _outbox_counts()
        except Exception:
            db.session.rollback()
            log.warning("metrics: the outbox count query failed")
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
            for status in ("pending", "dead"):
                outbox.add_metric([status], counts.get(status, 0))
            yield outbox
        yield up

    def describe(self):
        return []  # values depend on the database: never collect at registration


def _outbox_counts() -> dict[str, int]:
    rows = db.session.execute(
        select(OutboxEmail.status, func.count())
        .where(OutboxEmail.status.in_([OutboxStatus.PENDING, OutboxStatus.DEAD]))
        .group_by(OutboxEmail.status)
    ).all()
    return {OutboxStatus(status).value: count for status, count in rows}


def init_app(app: Flask) -> None:
    disable_created_metrics()  # the *_created samples only add noise to every scrape
    app.extensions[EXTENSION] = _Metrics()
    app.before_request(_start_timer)
    app.after_request(_record)
    app.register_blueprint(bp)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _record(response):
    metrics: _Metrics = current_app.extensions[EXTENSION]
    endpoint = request.endpoint or "unmatched"
    metrics.requests.labels(endpoint, request.method, str(response.status_code)).inc()
    started = g.get("metrics_started")
    if started is not None:
        metrics.latency.labels(endpoint, request.method).observe(time.perf_counter() - started)
    return response


def _allowed() -> None:
    token = current_app.config.get("CCR_METRICS_TOKEN")
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
            abort(403)
        return
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        abort(404)
    try:
        address = ipaddress.ip_address((request.remote_addr or "").split("%")[0])
    except ValueError:
        abort(404)
    if not (address.is_loopback or any(address in net for net in PRIVATE_NETWORKS)):
        abort(404)


@bp.get("/metrics")
@limiter.exempt
def metrics():
    _allowed()
    body = generate_latest(current_app.extensions[EXTENSION].registry)
    return Response(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
