"""Inserting a row unless its unique key is taken, without undoing the rest of the unit.

INSERT ... ON CONFLICT (key) DO NOTHING RETURNING (SQLite >= 3.35, PostgreSQL) rather than a
SAVEPOINT around a plain INSERT: like the savepoint, a taken key never rolls back the
caller's other work in the transaction, and it stays one statement, where the savepoint
would add two (a chat message is the hottest write). Other databases get the savepoint.
"""

from typing import Any

from sqlalchemy import Column, Connection, Table, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError


class InsertNew:
    """`InsertNew(table, key, returning)(connection, values)`: the new row's `returning`
    column, or None when a row with the same `key` columns exists (nothing inserted).
    `returning` is the table's first primary-key column. Built once per statement, so
    SQLAlchemy reuses the compiled forms."""

    def __init__(self, table: Table, key: list[str], returning: Column[Any]) -> None:
        self._statements = {
            name: dialect_insert(table)
            .on_conflict_do_nothing(index_elements=key)
            .returning(returning)
            for name, dialect_insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
        }
        self._plain = insert(table)

    def __call__(self, connection: Connection, values: dict[str, Any]) -> Any:
        statement = self._statements.get(connection.dialect.name)
        if statement is not None:
            return connection.execute(statement, values).scalar()
        try:  # other databases: a savepoint keeps the caller's work when the key is taken
            with connection.begin_nested():
                key = connection.execute(self._plain, values).inserted_primary_key
        except IntegrityError:
            return None
        return key[0] if key is not None else None
