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


def test_the_sequence_revision_numbers_existing_messages_in_id_order(empty_database):
    app = create_app(config_for(empty_database))
    with app.app_context():
        upgrade(revision="0006_list_indexes_with_id")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO users (id, email, first_name, last_name, role, active, "
                "session_version, notify_chat_email, created_at) VALUES "
                "(1, 'c@example.com', 'C', 'C', 'customer', true, 1, true, '2026-01-01'), "
                "(2, 'a@example.com', 'A', 'A', 'agent', true, 1, true, '2026-01-01')"
            ))  # fmt: skip
            for ticket in (1, 2, 3):
                conn.execute(
                    text(
                        "INSERT INTO tickets (id, subject, description, priority, "
                        "priority_rank, status, customer_id, created_at, updated_at, "
                        "last_activity_at) VALUES (:t, 'S', 'D', 'normal', 1, 'open', 1, "
                        "'2026-01-01', '2026-01-01', '2026-01-01')"
                    ),
                    {"t": ticket},
                )
            # ids interleave the tickets and the streams; ticket 3 has no messages
            rows = [(10, 1, False), (11, 2, False), (12, 1, True), (13, 1, False),
                    (14, 2, True), (15, 1, True), (16, 1, False)]  # fmt: skip
            for message_id, ticket, internal in rows:
                conn.execute(
                    text(
                        "INSERT INTO messages (id, ticket_id, author_id, body, is_internal, "
                        "client_id, created_at) VALUES (:id, :t, 2, 'b', :i, :c, '2026-01-01')"
                    ),
                    {"id": message_id, "t": ticket, "i": internal, "c": f"c{message_id}"},
                )
        upgrade()
        with db.engine.connect() as conn:
            seqs = dict(conn.execute(text("SELECT id, seq FROM messages")).all())
            counters = conn.execute(
                text("SELECT id, public_seq, note_seq FROM tickets ORDER BY id")
            ).all()
        db.engine.dispose()
    assert seqs == {10: 1, 13: 2, 16: 3, 12: 1, 15: 2, 11: 1, 14: 1}
    assert [tuple(r) for r in counters] == [(1, 3, 2), (2, 1, 1), (3, 0, 0)]


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
