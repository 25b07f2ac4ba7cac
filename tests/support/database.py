"""The app under test on a fresh database per test: SQLite always, PostgreSQL as well when
CCR_TEST_DATABASE_URL is set (the `backend` parameter)."""

import os

import pytest
from sqlalchemy import text

from ccr import create_app, outages
from ccr.config import TestConfig
from ccr.extensions import db
from tests.support.services import PG_URL

BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def config_for(url: str, **overrides) -> TestConfig:
    """The tests' configuration on the database at `url`, with attributes overridden."""
    cfg = TestConfig()
    cfg.SQLALCHEMY_DATABASE_URI = url
    cfg.CCR_FAST_PASSWORD_HASH = True
    cfg.WTF_CSRF_ENABLED = False
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg


@pytest.fixture(scope="session")
def _pg_schema():
    """Create the schema once per run on PostgreSQL; each test then truncates."""
    app = create_app(config_for(PG_URL))
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.session.remove()
        db.engine.dispose()
    return True


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
    return config_for(database_url, MAIL_PORT=smtp_sink.port)


@pytest.fixture
def app(app_config, backend, tmp_path):
    os.environ["CCR_INSTANCE_PATH"] = str(tmp_path / "instance")
    outages.reset()  # each test sees the first failure of a kind logged
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
