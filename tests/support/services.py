"""The real services of a run: CCR_TEST_DATABASE_URL (PostgreSQL) and CCR_TEST_REDIS_URL turn
them on. Under CI=true a configured service that cannot be reached fails the run instead of
skipping."""

import os

import pytest
import redis
from sqlalchemy import create_engine, text

PG_URL = os.environ.get("CCR_TEST_DATABASE_URL") or None
REDIS_URL = os.environ.get("CCR_TEST_REDIS_URL") or None
IN_CI = os.environ.get("CI", "").lower() == "true"


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


@pytest.fixture
def redis_url(request) -> str:
    if not REDIS_URL:
        pytest.skip("CCR_TEST_REDIS_URL is not set: the Redis tests need a Redis server")
    problems = [p for p in request.config._ccr_service_problems if "Redis" in p]
    if problems:
        pytest.skip(problems[0])
    return REDIS_URL
