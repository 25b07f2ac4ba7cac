"""Fixtures: app (fresh database per test, on SQLite and, when configured, PostgreSQL),
client, users and logins, the Socket.IO test client, a real SMTP sink and a live server.

CCR_TEST_DATABASE_URL (PostgreSQL) and CCR_TEST_REDIS_URL turn on the real-service runs.
Under CI=true a configured service that cannot be reached fails the run instead of skipping.
"""

import ipaddress
import os
import socket
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ccr import create_app
from ccr.config import TestConfig
from ccr.extensions import db, socketio
from ccr.models import Role, User
from ccr.services.uow import commit
from ccr.services.users import create_user
from tests.support.live import LiveServer
from tests.support.smtp import SmtpSink

PG_URL = os.environ.get("CCR_TEST_DATABASE_URL") or None
REDIS_URL = os.environ.get("CCR_TEST_REDIS_URL") or None
IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "correct horse battery"

# -- no test reaches beyond this machine ---------------------------------------------------

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check_address(address) -> None:
    if isinstance(address, tuple) and address and isinstance(address[0], str):
        host = address[0]
        try:
            ip = ipaddress.ip_address(host.split("%")[0])
        except ValueError:
            ip = ipaddress.ip_address(socket.gethostbyname(host)) if host == "localhost" else None
        if ip is None or not ip.is_loopback:
            raise ConnectionRefusedError(f"tests may only reach 127.0.0.1, not {host}")


def _guarded_connect(self, address):
    _check_address(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    _check_address(address)
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex


# -- real services --------------------------------------------------------------------------


def _reachable_postgres() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        engine = create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def _reachable_redis() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def pytest_configure(config):
    problems = []
    if PG_URL and (why := _reachable_postgres()):
        problems.append(f"CCR_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {why}")
    if REDIS_URL and (why := _reachable_redis()):
        problems.append(f"CCR_TEST_REDIS_URL is set but Redis is unreachable: {why}")
    config._ccr_service_problems = problems
    if problems and IN_CI:
        raise pytest.UsageError("; ".join(problems))


BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(scope="session")
def smtp_sink():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def mailbox(smtp_sink):
    """The SMTP sink, emptied and running; restarted after a test that stopped it."""
    smtp_sink.clear()
    smtp_sink.reply_code = None
    smtp_sink.refuse.clear()
    smtp_sink.drop_after = None
    if smtp_sink._controller is None:
        smtp_sink.start()
    yield smtp_sink
    smtp_sink.reply_code = None
    smtp_sink.refuse.clear()
    smtp_sink.drop_after = None
    if smtp_sink._controller is None:
        smtp_sink.start()


@pytest.fixture(scope="session")
def _pg_schema():
    """Create the schema once per run on PostgreSQL; each test then truncates."""
    app = create_app(_test_config(PG_URL))
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.session.remove()
        db.engine.dispose()
    return True


def _test_config(url: str, **overrides) -> TestConfig:
    cfg = TestConfig()
    cfg.SQLALCHEMY_DATABASE_URI = url
    cfg.CCR_FAST_PASSWORD_HASH = True
    cfg.WTF_CSRF_ENABLED = False
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    if request.param == "postgresql":
        problems = request.config._ccr_service_problems
        if any("PostgreSQL" in p for p in problems):
            pytest.skip("PostgreSQL configured but unreachable (outside CI): " + problems[0])
    return request.param


@pytest.fixture
def database_url(backend, tmp_path, request) -> str:
    if backend == "postgresql":
        request.getfixturevalue("_pg_schema")
        return PG_URL
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def app_config(database_url, smtp_sink, tmp_path) -> TestConfig:
    """Override attributes on this before the `app` fixture runs to change settings."""
    return _test_config(database_url, MAIL_PORT=smtp_sink.port)


@pytest.fixture
def app(app_config, backend, tmp_path):
    os.environ["CCR_INSTANCE_PATH"] = str(tmp_path / "instance")
    application = create_app(app_config)
    with application.app_context():
        if backend == "postgresql":
            tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            db.session.commit()
        else:
            db.create_all()
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(app):
    """make_user(role=Role.CUSTOMER, email=None, password=PASSWORD, **fields) -> User"""

    def factory(
        role: Role = Role.CUSTOMER, email: str | None = None, password: str = PASSWORD, **fields
    ):
        user = create_user(
            email=email or f"{role.value}-{uuid.uuid4().hex[:8]}@example.com",
            first_name=fields.pop("first_name", role.value.capitalize()),
            last_name=fields.pop("last_name", "Tester"),
            password=password,
            role=role,
        )
        for key, value in fields.items():
            setattr(user, key, value)
        commit()
        return user

    return factory


def login(client, user: User, password: str = PASSWORD):
    response = client.post("/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, f"login of {user.email} failed: {response.status_code}"
    return response


@pytest.fixture
def login_as(client, make_user):
    """login_as(Role.AGENT) -> a new user of that role, logged in on `client`."""

    def do(role: Role = Role.CUSTOMER, **fields) -> User:
        user = make_user(role, **fields)
        login(client, user)
        return user

    return do


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
        if sc.is_connected():
            sc.disconnect()


@pytest.fixture
def redis_url(request) -> str:
    if not REDIS_URL:
        pytest.skip("CCR_TEST_REDIS_URL is not set: the Redis tests need a Redis server")
    problems = [p for p in request.config._ccr_service_problems if "Redis" in p]
    if problems:
        pytest.skip(problems[0])
    return REDIS_URL


@pytest.fixture
def live_server(app, database_url, tmp_path, smtp_sink):
    """The real app (python app.py, threading mode) on a free port, sharing the test database.

    Call live_server() to start one; extra environment variables can be passed.
    """
    servers = []

    def start(**env: str) -> LiveServer:
        env.setdefault("MAIL_PORT", str(smtp_sink.port))
        env.setdefault("MAIL_SERVER", "127.0.0.1")
        server = LiveServer(database_url, tmp_path / f"live{len(servers)}", env)
        server.instance_path.mkdir(parents=True, exist_ok=True)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-output"
    path.mkdir(exist_ok=True)
    return path
