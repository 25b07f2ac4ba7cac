"""flask db upgrade builds the schema from empty; downgrade and upgrade again work; the
migrated schema is exactly what the models declare; the Db2 DDL compiles."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text

from ccr import create_app
from ccr.extensions import db
from tests.support.database import config_for
from tests.support.pg import scratch_database
from tests.support.services import PG_URL

ROOT = Path(__file__).resolve().parents[2]
TABLES = {
    "users",
    "tickets",
    "ticket_counts",
    "ticket_events",
    "messages",
    "read_markers",
    "outbox_emails",
    "one_time_codes",
    "idempotency_keys",
    "categories",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    if not PG_URL:
        pytest.skip("CCR_TEST_DATABASE_URL is not set: PostgreSQL migrations need a server")
    with scratch_database(PG_URL, "ccr_migrate") as url:
        yield url


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_from_empty(empty_database):
    app = create_app(config_for(empty_database))
    with app.app_context():
        upgrade()
        assert _tables(empty_database) == TABLES
        downgrade(revision="base")
        assert _tables(empty_database) == set()
        upgrade()
        assert _tables(empty_database) == TABLES
        db.engine.dispose()


def test_the_counters_revision_counts_the_tickets_already_there(empty_database):
    app = create_app(config_for(empty_database))
    with app.app_context():
        upgrade(revision="0004_bench_indexes")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO users (id, email, first_name, last_name, role, active, "
                "session_version, notify_chat_email, created_at) VALUES "
                "(1, 'c@example.com', 'C', 'C', 'customer', true, 1, true, '2026-01-01'), "
                "(2, 'a@example.com', 'A', 'A', 'agent', true, 1, true, '2026-01-01')"
            ))  # fmt: skip
            for status, assignee in [("open", None), ("open", None), ("assigned", 2),
                                     ("closed", 2), ("closed", 2), ("closed", None)]:  # fmt: skip
                conn.execute(
                    text(
                        "INSERT INTO tickets (subject, description, priority, priority_rank, "
                        "status, customer_id, assignee_id, created_at, updated_at, "
                        "last_activity_at) VALUES ('S', 'D', 'normal', 1, :s, 1, :a, "
                        "'2026-01-01', '2026-01-01', '2026-01-01')"
                    ),
                    {"s": status, "a": assignee},
                )
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT assignee_id, status, tickets FROM ticket_counts"))
            counted = {(a, s): n for a, s, n in rows}
        db.engine.dispose()
    assert counted == {(0, "open"): 2, (2, "assigned"): 1, (2, "closed"): 2, (0, "closed"): 1}


def test_migrated_schema_matches_the_models(empty_database):
    app = create_app(config_for(empty_database))
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, db.metadata)
        db.engine.dispose()
    assert diff == [], f"models and migrations disagree; add a migration: {diff}"


def test_flask_db_upgrade_command_on_an_empty_sqlite_file(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCR_")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}",
        FLASK_APP="app.py",
        CCR_INSTANCE_PATH=str(tmp_path),
    )
    run = subprocess.run(
        [sys.executable, "-m", "flask", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert _tables(env["DATABASE_URL"]) == TABLES


def test_db2_ddl_of_every_revision_compiles(tmp_path):
    try:
        import ibm_db_sa  # noqa: F401
    except ImportError:
        if os.environ.get("CCR_TEST_DB2"):
            pytest.fail("CCR_TEST_DB2 is set but ibm_db_sa is not installed (requirements-db2.txt)")
        pytest.skip("ibm_db_sa is not installed: `make db2-ddl` installs requirements-db2.txt")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCR_")}
    env.update(
        DATABASE_URL="db2+ibm_db://db2inst1:unused@127.0.0.1:50000/CCR",
        FLASK_APP="app.py",
        CCR_INSTANCE_PATH=str(tmp_path),
    )
    run = subprocess.run(
        [sys.executable, "-m", "flask", "db", "upgrade", "--sql"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    for table in TABLES:
        assert f"CREATE TABLE {table}" in run.stdout
    assert "GENERATED BY DEFAULT AS IDENTITY" in run.stdout
