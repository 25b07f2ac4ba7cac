"""Idempotent creation (RELIABILITY.md R11): a repeated submission of a form that creates
something (a double click, a retried POST) returns what the first one created.

Such a form carries a random key, made when the form is rendered (ccr.forms.IdempotentForm).
The creating service claims (user, key) first, in its own transaction: the first claim
inserts the row, and the service records what it made with created(); a repeat finds the
row and gets the first result's id back, with no second row, email or push. Two copies at
once queue on the key (PostgreSQL: the second insert waits on the first's key; SQLite:
BEGIN IMMEDIATE), so the second sees the first's result. A refused first attempt is rolled
back with its claim, so the corrected form can be sent again with the same key.
"""

from sqlalchemy import select, update

from ccr.models import IdempotencyKey, User, utcnow
from ccr.services import ServiceError, uow
from ccr.services.locks import begin_write
from ccr.services.unique import InsertNew

KEY_MAX = 64
_KEYS = IdempotencyKey.__table__
_claim = InsertNew(_KEYS, ["user_id", "key"], _KEYS.c.user_id)  # None: claimed before
ALREADY_SENT = "This form was sent already. Reload the page to start again."


def _usable(key: str | None) -> str | None:
    key = (key or "").strip()
    return key if 0 < len(key) <= KEY_MAX else None


def first_result(actor: User, key: str | None, kind: str) -> int | None:
    """The id of what an earlier submission with this key created (a repeat), or None:
    the key is claimed for this submission, which then calls created(). No key: None."""
    key = _usable(key)
    if key is None:
        return None
    begin_write()
    connection = uow.connection()
    values = {"user_id": actor.id, "key": key, "kind": kind, "created_at": utcnow()}
    if _claim(connection, values) is not None:
        return None
    row = connection.execute(
        select(_KEYS.c.kind, _KEYS.c.result_id).where(
            _KEYS.c.user_id == actor.id, _KEYS.c.key == key
        )
    ).first()
    if row is None or row.kind != kind or row.result_id is None:
        raise ServiceError(ALREADY_SENT)
    return row.result_id


def created(actor: User, key: str | None, result_id: int) -> None:
    """Record what the submission that claimed this key created."""
    key = _usable(key)
    if key is None:
        return
    uow.connection().execute(
        update(_KEYS)
        .where(_KEYS.c.user_id == actor.id, _KEYS.c.key == key)
        .values(result_id=result_id)
    )
