import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from ccr.extensions import db
from ccr.models import Category, Message, Role
from ccr.services import ServiceError
from ccr.services.messages import Posted, post_message
from ccr.services.tickets import assign_ticket, open_ticket
from ccr.services.uow import commit, keep, on_commit, rollback, savepoint, unit
from tests.support.faults import commit_fails


def test_side_effects_run_only_after_a_successful_commit(app):
    ran = []
    db.session.add(Category(name="Billing"))
    on_commit(ran.append, "pushed")
    assert ran == []
    commit()
    assert ran == ["pushed"]
    assert db.session.scalar(select(func.count(Category.id))) == 1


def test_rollback_drops_the_queued_side_effects(app):
    ran = []
    db.session.add(Category(name="Billing"))
    on_commit(ran.append, "phantom")
    rollback()
    commit()  # a later commit must not run what was queued before the rollback
    assert ran == []
    assert db.session.scalar(select(func.count(Category.id))) == 0


def test_a_failed_commit_runs_nothing_and_leaves_no_row(app):
    ran = []
    db.session.add(Category(name="Dup"))
    commit()
    db.session.add(Category(name="Dup"))  # violates the unique name
    on_commit(ran.append, "phantom")
    with pytest.raises(IntegrityError):
        commit()
    commit()
    assert ran == []
    assert db.session.scalar(select(func.count(Category.id))) == 1


def test_a_failing_side_effect_does_not_undo_the_commit(app):
    def boom():
        raise RuntimeError("push failed")

    db.session.add(Category(name="Kept"))
    on_commit(boom)
    commit()
    assert db.session.scalar(select(Category.name)) == "Kept"


def test_sqlite_runs_in_wal_mode_with_foreign_keys(app, backend):
    from sqlalchemy import text

    if backend != "sqlite":
        pytest.skip("SQLite pragmas")
    assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1


def _core_insert(name: str) -> None:
    from ccr.services.uow import connection

    connection().execute(Category.__table__.insert(), {"name": name})


def _names() -> list[str]:
    db.session.rollback()  # what is committed, seen from a fresh transaction
    return sorted(db.session.scalars(select(Category.name)))


def test_a_unit_on_its_own_connection_commits_core_and_orm_work_together(app):
    from ccr.services.uow import own_connection

    ran = []
    with own_connection():
        _core_insert("Core")
        db.session.add(Category(name="Orm"))  # the session joins the unit's transaction
        on_commit(ran.append, "pushed")
        assert ran == []
        commit()
    assert ran == ["pushed"]
    assert _names() == ["Core", "Orm"]


def test_a_unit_on_its_own_connection_rolls_back_both_and_drops_its_queue(app):
    from ccr.services.uow import own_connection

    ran = []
    with own_connection():
        _core_insert("Core")
        db.session.add(Category(name="Orm"))
        on_commit(ran.append, "phantom")
        rollback()
        commit()
    assert ran == [] and _names() == []


def test_a_unit_on_its_own_connection_saves_nothing_it_did_not_commit(app):
    from ccr.services.uow import own_connection

    ran = []
    with own_connection():
        _core_insert("Core")
        db.session.add(Category(name="Orm"))
        db.session.flush()
        on_commit(ran.append, "phantom")
    assert ran == [] and _names() == []


def test_a_failed_commit_of_a_unit_on_its_own_connection_leaves_nothing(app):
    from ccr.services.uow import own_connection

    db.session.add(Category(name="Dup"))
    commit()
    ran = []
    with own_connection():
        _core_insert("Fresh")
        db.session.add(Category(name="Dup"))  # the flush at commit violates the unique name
        on_commit(ran.append, "phantom")
        with pytest.raises(IntegrityError):
            commit()
    assert ran == [] and _names() == ["Dup"]


# -- boundaries: unit(), keep(), savepoint(), the stray-commit hook ---------------------------


def test_a_stray_commit_runs_the_queue_once(app):
    ran = []
    db.session.add(Category(name="Stray"))
    on_commit(ran.append, "pushed")
    db.session.commit()  # not through uow.commit()
    db.session.commit()
    assert ran == ["pushed"]


def test_a_unit_commits_at_its_end_then_runs_its_queue(app):
    ran = []
    with unit():
        db.session.add(Category(name="Done"))
        on_commit(ran.append, "pushed")
        assert ran == []
    assert ran == ["pushed"] and _names() == ["Done"]


def test_a_unit_that_raises_saves_nothing_and_runs_nothing(app):
    ran = []
    with pytest.raises(RuntimeError), unit():
        db.session.add(Category(name="Lost"))
        on_commit(ran.append, "phantom")
        raise RuntimeError("boom")
    assert ran == [] and _names() == []


def test_a_refused_unit_saves_nothing_even_if_the_refusal_was_caught(app):
    ran = []
    with unit() as current:
        db.session.add(Category(name="Refused"))
        on_commit(ran.append, "phantom")
        try:
            raise ServiceError("No.")
        except ServiceError:
            pass
        assert current.refused
    assert ran == [] and _names() == []


def test_a_refusal_that_keeps_its_record_keeps_only_it(app):
    ran = []
    with pytest.raises(ServiceError), unit():
        db.session.add(Category(name="Attempt counted"))
        on_commit(ran.append, "phantom")
        keep()
        raise ServiceError("That code is not right.")
    assert _names() == ["Attempt counted"]
    assert ran == []  # the refused action announces nothing


def test_a_crash_after_keep_saves_nothing(app):
    with pytest.raises(RuntimeError), unit():
        db.session.add(Category(name="Half done"))
        keep()
        raise RuntimeError("not a refusal")
    assert _names() == []


def test_a_failed_commit_at_a_units_end_raises_and_runs_nothing(app, monkeypatch):
    ran = []
    with pytest.raises(OperationalError), commit_fails(monkeypatch), unit():
        db.session.add(Category(name="Lost"))
        on_commit(ran.append, "phantom")
    assert ran == [] and _names() == []


def test_a_socket_unit_commits_core_and_orm_work_at_its_end(app):
    with app.app_context(), unit(own_connection=True):
        _core_insert("Core")
        db.session.add(Category(name="Orm"))
    assert _names() == ["Core", "Orm"]


def test_a_savepoint_undoes_only_its_block_and_what_it_queued(app):
    db.session.add(Category(name="Dup"))
    commit()
    ran = []
    db.session.add(Category(name="Kept"))
    on_commit(ran.append, "kept")
    with pytest.raises(IntegrityError), savepoint():
        db.session.add(Category(name="Dup"))
        on_commit(ran.append, "phantom")
        db.session.flush()
    commit()
    assert ran == ["kept"] and _names() == ["Dup", "Kept"]


def test_releasing_a_savepoint_commits_nothing(app):
    """pysqlite sends no BEGIN before a SAVEPOINT: releasing one that opened the transaction
    would commit. savepoint() opens the transaction first."""
    with savepoint():
        db.session.add(Category(name="Not yet"))
        db.session.flush()
    rollback()
    assert _names() == []


def test_a_unit_whose_only_write_was_in_a_released_savepoint_commits_it(app):
    """The session's after_commit event fires when a savepoint is released: the unit must
    still know it wrote, and run what it queued only after its real commit."""
    ran = []
    with unit():
        on_commit(ran.append, "after the commit")
        with savepoint():
            db.session.add(Category(name="Saved"))
            db.session.flush()
        assert ran == []
    assert ran == ["after the commit"]
    db.session.remove()
    assert _names() == ["Saved"]


def test_a_resend_keeps_the_callers_other_work_in_the_transaction(app, make_user):
    customer, agent, admin = (make_user(r) for r in (Role.CUSTOMER, Role.AGENT, Role.ADMIN))
    ticket = open_ticket(actor=customer, subject="S", description="D")
    assign_ticket(ticket, agent, actor=admin)
    first = post_message(ticket, customer, "Hello", "same")
    commit()
    db.session.add(Category(name="Other work"))
    again = post_message(ticket, customer, "Hello", "same")
    assert again == Posted(first.message_id, created=False, seq=first.seq)
    commit()
    assert _names() == ["Other work"]
    assert db.session.scalar(select(func.count(Message.id))) == 1


def test_a_cli_command_commits_once(app, monkeypatch):
    commits = []
    monkeypatch.setattr(db.engine.dialect, "do_commit", lambda conn: commits.append(conn))
    result = app.test_cli_runner().invoke(args=["ccr", "seed-demo"])
    assert result.exit_code == 0, result.output
    assert len(commits) == 1
