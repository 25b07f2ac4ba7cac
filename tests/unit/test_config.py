import pytest

from ccr import create_app
from ccr.config import DEV_SECRET_KEY, ConfigError, ProductionConfig, load_config

GOOD_SECRET = "s" * 40
PG = "postgresql+psycopg://ccr@127.0.0.1/ccr"


@pytest.fixture
def prod_env(monkeypatch):
    for name in ("SECRET_KEY", "DATABASE_URL", "SESSION_COOKIE_SECURE", "CCR_ASYNC_MODE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_production_refuses_the_default_secret(prod_env):
    prod_env.setenv("DATABASE_URL", PG)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        ProductionConfig().validate()
    prod_env.setenv("SECRET_KEY", DEV_SECRET_KEY)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        ProductionConfig().validate()


def test_production_refuses_a_short_secret(prod_env):
    prod_env.setenv("DATABASE_URL", PG)
    prod_env.setenv("SECRET_KEY", "short")
    with pytest.raises(ConfigError, match="at least 32"):
        ProductionConfig().validate()


def test_production_refuses_insecure_cookies(prod_env):
    prod_env.setenv("DATABASE_URL", PG)
    prod_env.setenv("SECRET_KEY", GOOD_SECRET)
    prod_env.setenv("SESSION_COOKIE_SECURE", "false")
    with pytest.raises(ConfigError, match="SESSION_COOKIE_SECURE"):
        ProductionConfig().validate()


def test_production_refuses_no_database_url(prod_env):
    prod_env.setenv("SECRET_KEY", GOOD_SECRET)
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        ProductionConfig().validate()


def test_create_app_refuses_to_start_in_production_with_defaults(prod_env):
    with pytest.raises(ConfigError, match="Refusing to start"):
        create_app("production")


def test_production_with_proper_settings_starts_with_secure_cookies_and_gevent(prod_env, tmp_path):
    prod_env.setenv("SECRET_KEY", GOOD_SECRET)
    prod_env.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    cfg = load_config("production")
    cfg.validate()
    assert cfg.SESSION_COOKIE_SECURE and cfg.REMEMBER_COOKIE_SECURE
    assert cfg.CCR_ASYNC_MODE == "gevent"


def test_development_defaults_to_sqlite_in_instance_and_threading(prod_env):
    cfg = load_config("development")
    assert cfg.SQLALCHEMY_DATABASE_URI == "sqlite:///ccr.db"
    assert cfg.CCR_ASYNC_MODE == "threading"
    assert cfg.REDIS_URL is None


def test_unknown_async_mode_is_refused(prod_env):
    prod_env.setenv("CCR_ASYNC_MODE", "eventlet")
    with pytest.raises(ConfigError, match="CCR_ASYNC_MODE"):
        load_config("development").validate()


def test_async_mode_is_passed_explicitly_to_socketio(app):
    from ccr.extensions import socketio

    assert socketio.async_mode == "threading"
    assert socketio.server.async_mode == "threading"


def test_development_writes_mail_to_files_unless_a_mail_server_is_set(prod_env):
    prod_env.delenv("MAIL_SERVER", raising=False)
    prod_env.delenv("CCR_MAIL_TRANSPORT", raising=False)
    assert load_config("development").CCR_MAIL_TRANSPORT == "file"
    prod_env.setenv("MAIL_SERVER", "smtp.example.com")
    assert load_config("development").CCR_MAIL_TRANSPORT == "smtp"
    prod_env.delenv("MAIL_SERVER")
    assert load_config("production").CCR_MAIL_TRANSPORT == "smtp"
