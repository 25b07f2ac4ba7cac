import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ccr.extensions import db
from ccr.models import Category
from ccr.services.uow import commit, on_commit, rollback


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
