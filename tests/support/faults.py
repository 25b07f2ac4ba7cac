"""Database faults for tests, injected where the app meets the database, so they hit the
ORM session and a unit of work's own Core connection alike."""

from contextlib import contextmanager

from sqlalchemy.exc import OperationalError

from ccr.extensions import db


@contextmanager
def commit_fails(monkeypatch):
    """Inside, the database's COMMIT fails."""

    def failing_commit(_dbapi_connection):
        raise OperationalError("COMMIT", {}, Exception("database went away"))

    with monkeypatch.context() as patch:
        patch.setattr(db.engine.dialect, "do_commit", failing_commit)
        yield


@contextmanager
def database_unreachable(monkeypatch):
    """Inside, no connection to the database can be had."""

    def unreachable(*_args, **_kwargs):
        raise OperationalError("SELECT", {}, Exception("could not connect to server"))

    with monkeypatch.context() as patch:
        patch.setattr(db.engine, "raw_connection", unreachable)
        yield
