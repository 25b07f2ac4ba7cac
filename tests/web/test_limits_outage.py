"""Limits degrade, never fail: with the Redis that holds the rate limits stopped, login and
socket events go on, still limited, in this process, and the switch is logged once."""

import logging

import pytest
from limits import parse

from ccr.extensions import limiter
from ccr.models import Role
from ccr.realtime.ratelimit import SocketLimits
from tests.support.redis_server import RedisServer
from tests.support.users import PASSWORD

FALLBACK_LINE = "falling back to in-memory storage"


@pytest.fixture
def stopped_redis(tmp_path):
    """A private Redis that answered once and is then killed, as in an outage."""
    if RedisServer.binary() is None:
        pytest.skip("redis-server is not installed: this test starts and kills its own Redis")
    server = RedisServer(tmp_path).start()
    url = server.url
    server.stop()
    # Flask-Limiter keeps "the store is down" on its (module-level) object, across apps.
    limiter._storage_dead = False
    yield url
    limiter._storage_dead = False


def _post_login(client, email: str, password: str):
    return client.post("/login", data={"email": email, "password": password})


def test_login_works_with_the_limit_store_down_and_the_limit_still_holds(
    app_config, request, stopped_redis, caplog
):
    app_config.RATELIMIT_STORAGE_URI = stopped_redis
    app = request.getfixturevalue("app")
    user = request.getfixturevalue("make_user")(Role.CUSTOMER)
    client = app.test_client()
    with caplog.at_level(logging.INFO):
        assert _post_login(client, user.email, PASSWORD).status_code == 302
        client.post("/logout")
        statuses = [_post_login(client, user.email, "wrong").status_code for _ in range(25)]
    assert 500 not in statuses
    # 20 per minute per address, counted in this process now: one more login counted above
    assert statuses[:4] == [401] * 4 and statuses[-1] == 429
    lines = [r for r in caplog.records if FALLBACK_LINE in r.getMessage()]
    assert len(lines) == 1
    assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.WARNING)


def test_socket_limits_go_on_in_this_process_and_say_so_once(
    app_config, request, stopped_redis, caplog
):
    app_config.RATELIMIT_STORAGE_URI = stopped_redis
    app = request.getfixturevalue("app")
    limits = SocketLimits(app)
    limit = parse("30 per 10 seconds")
    with caplog.at_level(logging.WARNING, logger="ccr.realtime.ratelimit"):
        allowed = [limits.allow(limit, "send_message", 7) for _ in range(31)]
        other_user = limits.allow(limit, "send_message", 8)
    assert allowed == [True] * 30 + [False]  # still limited
    assert other_user is True
    lines = [r.getMessage() for r in caplog.records if r.name == "ccr.realtime.ratelimit"]
    assert len(lines) == 1 and "limiting in this process" in lines[0]
