"""Configuration from the environment.

Development and tests get safe defaults; ProductionConfig.validate() refuses to start with a
default secret, insecure cookies or no database URL.
"""

import os
from datetime import timedelta

DEV_SECRET_KEY = "dev-insecure-secret-change-me"
ASYNC_MODES = ("threading", "gevent")


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message says what to set."""


class Config:
    ENV_NAME = "development"

    def __init__(self) -> None:
        env = os.environ
        self.SECRET_KEY = env.get("SECRET_KEY", DEV_SECRET_KEY)
        # Relative SQLite paths are resolved against the instance folder by Flask-SQLAlchemy.
        self.SQLALCHEMY_DATABASE_URI = env.get("DATABASE_URL") or "sqlite:///ccr.db"
        # A ping before each checkout finds dropped server connections; a SQLite file has none,
        # and the ping costs every chat message (docs/performance.md#no-connection-ping-on-sqlite).
        self.SQLALCHEMY_ENGINE_OPTIONS = {
            "pool_pre_ping": not self.SQLALCHEMY_DATABASE_URI.startswith("sqlite")
        }
        self.REDIS_URL = env.get("REDIS_URL") or None
        self.CCR_ASYNC_MODE = env.get("CCR_ASYNC_MODE", "threading")
        # The development server's address (app.py); links and the socket origin follow it
        # unless CCR_BASE_URL names the public address.
        self.CCR_HOST = env.get("CCR_HOST", "127.0.0.1")
        self.CCR_PORT = _int("CCR_PORT", 5000)
        wildcard = self.CCR_HOST in ("", "0.0.0.0", "::")  # noqa: S104  (a comparison, no bind)
        link_host = "127.0.0.1" if wildcard else self.CCR_HOST
        if ":" in link_host:
            link_host = f"[{link_host}]"
        self.CCR_BASE_URL = (
            env.get("CCR_BASE_URL") or f"http://{link_host}:{self.CCR_PORT}"
        ).rstrip("/")
        # Development also lets a socket in from the address the page was served from.
        self.CCR_SOCKET_SAME_ORIGIN = False
        self.CCR_PROXY_COUNT = _int("CCR_PROXY_COUNT", 0)
        # "inprocess": a background task in the server sends the outbox; "external": run
        # `flask ccr worker`; "off": nothing sends (tests drive the dispatcher themselves).
        self.CCR_OUTBOX_DISPATCHER = env.get("CCR_OUTBOX_DISPATCHER", "inprocess")
        self.CCR_OUTBOX_MAX_ATTEMPTS = _int("CCR_OUTBOX_MAX_ATTEMPTS", 8)
        self.CCR_OUTBOX_POLL_SECONDS = float(env.get("CCR_OUTBOX_POLL_SECONDS", "2"))
        self.CCR_SOCKET_ORIGINS = [
            o.strip() for o in env.get("CCR_SOCKET_ORIGINS", "").split(",") if o.strip()
        ]
        self.CCR_METRICS_TOKEN = env.get("CCR_METRICS_TOKEN") or None
        # "json" or "text"; empty: JSON in production, text otherwise (ccr.logs).
        self.CCR_LOG_FORMAT = env.get("CCR_LOG_FORMAT", "")
        self.CCR_LOG_LEVEL = env.get("CCR_LOG_LEVEL", "INFO").upper()
        # bcrypt's minimum cost instead of BCRYPT_ROUNDS: for the test suite only.
        self.CCR_FAST_PASSWORD_HASH = False

        self.MAIL_SERVER = env.get("MAIL_SERVER", "127.0.0.1")
        self.MAIL_PORT = _int("MAIL_PORT", 1025)
        self.MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)
        self.MAIL_USE_SSL = _bool("MAIL_USE_SSL", False)
        self.MAIL_USERNAME = env.get("MAIL_USERNAME") or None
        self.MAIL_PASSWORD = env.get("MAIL_PASSWORD") or None
        self.MAIL_DEFAULT_SENDER = env.get("MAIL_DEFAULT_SENDER", "CCR <no-reply@ccr.local>")
        self.MAIL_TIMEOUT = _int("MAIL_TIMEOUT", 10)
        # "smtp" sends through MAIL_SERVER; "file" (development without MAIL_SERVER) writes each
        # email to instance/mail/ and logs where, so `make run` works with no mail server.
        self.CCR_MAIL_TRANSPORT = env.get(
            "CCR_MAIL_TRANSPORT", "smtp" if env.get("MAIL_SERVER") else "file"
        )

        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.REMEMBER_COOKIE_DURATION = timedelta(days=14)
        self.PERMANENT_SESSION_LIFETIME = timedelta(hours=_int("CCR_SESSION_HOURS", 12))
        self.CCR_IDLE_TIMEOUT = timedelta(minutes=_int("CCR_IDLE_MINUTES", 120))
        self.MAX_CONTENT_LENGTH = _int("CCR_MAX_CONTENT_LENGTH", 1024 * 1024)
        self.CCR_SOCKET_MAX_BYTES = _int("CCR_SOCKET_MAX_BYTES", 64 * 1024)
        self.CCR_SOCKET_LIMITS = {
            "send_message": env.get("CCR_CHAT_MESSAGE_LIMIT", "30 per 10 seconds"),
            "typing": "60 per 10 seconds",
            "mark_read": "120 per 10 seconds",
            "join_ticket": "120 per minute",
        }

        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        # Redis down: the limits go on in this process (logged once) and move back when it
        # answers; login keeps working. A Redis that hangs is given up on after a second.
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
        self.RATELIMIT_STORAGE_OPTIONS = {"socket_timeout": 1, "socket_connect_timeout": 1}
        self.RATELIMIT_HEADERS_ENABLED = True
        self.WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
        self.DEBUG = False
        self.TESTING = False

    def validate(self) -> None:
        if self.CCR_ASYNC_MODE not in ASYNC_MODES:
            raise ConfigError(
                f"CCR_ASYNC_MODE must be one of {', '.join(ASYNC_MODES)}, "
                f"not {self.CCR_ASYNC_MODE!r}."
            )


class DevelopmentConfig(Config):
    ENV_NAME = "development"

    def __init__(self) -> None:
        super().__init__()
        self.CCR_SOCKET_SAME_ORIGIN = True


class ProductionConfig(Config):
    ENV_NAME = "production"

    def __init__(self) -> None:
        super().__init__()
        self.CCR_MAIL_TRANSPORT = os.environ.get("CCR_MAIL_TRANSPORT", "smtp")
        self.SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.CCR_ASYNC_MODE = os.environ.get("CCR_ASYNC_MODE", "gevent")

    def validate(self) -> None:
        super().validate()
        if not self.SECRET_KEY or self.SECRET_KEY == DEV_SECRET_KEY or len(self.SECRET_KEY) < 32:
            raise ConfigError(
                "Refusing to start: set SECRET_KEY to a random value of at least 32 characters "
                '(python -c "import secrets; print(secrets.token_hex(32))").'
            )
        if not self.SESSION_COOKIE_SECURE:
            raise ConfigError(
                "Refusing to start: SESSION_COOKIE_SECURE must stay on in production "
                "(serve the app over HTTPS)."
            )
        if not os.environ.get("DATABASE_URL"):
            raise ConfigError(
                "Refusing to start: set DATABASE_URL "
                "(e.g. postgresql+psycopg://user:password@host:5432/ccr)."
            )


class TestConfig(Config):
    ENV_NAME = "test"

    def __init__(self) -> None:
        super().__init__()
        self.TESTING = True
        self.CCR_MAIL_TRANSPORT = "smtp"
        self.CCR_ASYNC_MODE = "threading"
        self.CCR_OUTBOX_DISPATCHER = "off"
        self.SQLALCHEMY_DATABASE_URI = "sqlite:///:memory:"
        self.MAIL_SERVER = "127.0.0.1"
        self.MAIL_PORT = 9  # nothing listens: a test that sends mail must start the sink
        self.RATELIMIT_STORAGE_URI = "memory://"
        self.CCR_BASE_URL = "http://localhost"


CONFIGS = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "test": TestConfig,
}


def load_config(name: str | None = None) -> Config:
    name = name or os.environ.get("CCR_ENV", "development")
    try:
        cls = CONFIGS[name]
    except KeyError:
        raise ConfigError(f"CCR_ENV must be one of {', '.join(CONFIGS)}, not {name!r}.") from None
    return cls()
