"""Row locks for state changes that read a row, decide, then write it.

A change checked against a row read earlier (a page's view of a ticket, a user's live codes)
races with every other change of that row: both see the same state, both pass the check,
both write. lock_row() takes the row's write lock in the unit's transaction and reloads it
from the database, so the check, and the old values the flush hooks read
(services.counts), are the locked row's and the loser of a race is refused by the same check.

PostgreSQL: SELECT … FOR NO KEY UPDATE (the row lock an UPDATE takes; inserts of rows that
reference it, such as messages and events, are not blocked). SQLite has no row locks: it
serialises writers, so the transaction is begun as BEGIN IMMEDIATE, which takes the
database's write lock before the read (waiting up to busy_timeout, ccr.extensions). A
deferred transaction that reads and then writes fails at the write with "database is
locked" once another writer has committed in between.
"""

from typing import Any, TypeVar

from sqlalchemy import select

from ccr.extensions import db
from ccr.services import uow

M = TypeVar("M")


def begin_write() -> None:
    """Make the unit's transaction a writer now: on SQLite, BEGIN IMMEDIATE unless a
    transaction is already open (pysqlite opens one at the first INSERT, UPDATE or DELETE,
    which already holds the write lock). Nothing to do on PostgreSQL."""
    connection = uow.connection()
    if connection.dialect.name != "sqlite":
        return
    dbapi = connection.connection.dbapi_connection
    if dbapi is not None and not dbapi.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def lock_row(model: type[M], row_id: int) -> M | None:
    """The row with this id, locked for the rest of the unit and reloaded from the database
    (the session's copy, if it holds one, is the same object, refreshed); None if gone."""
    begin_write()
    return db.session.get(
        model, row_id, with_for_update={"key_share": True}, populate_existing=True
    )


def lock_key(model: Any, row_id: int) -> bool:
    """Take the row's lock without reloading it (the session's copy keeps its changes): for
    work that changes other rows on the row's behalf, such as a user's codes. False if the
    row is gone."""
    begin_write()
    found = db.session.execute(
        select(model.id).where(model.id == row_id).with_for_update(key_share=True)
    ).first()
    return found is not None
