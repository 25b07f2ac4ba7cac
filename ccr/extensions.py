"""Unbound extension objects; create_app() binds them."""

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_socketio import SocketIO as _SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, Table, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every model maps one table, which the hot paths use with Core statements.
    __table__: ClassVar[Table]


# The current unit of work (services.uow.Unit), set by the boundary that runs it.
current_unit: ContextVar = ContextVar("ccr_current_unit", default=None)


class Session(FlaskSession):
    """Flask-SQLAlchemy's session; inside a unit of work with a connection of its own, it
    runs on that connection, in (joining) its transaction."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        unit = current_unit.get()
        if bind is None and unit is not None and unit.engine is not None:
            return unit.connect()
        return super().get_bind(mapper, clause, bind, **kwargs)


class SocketIO(_SocketIO):
    server: Any  # python-socketio's Server, made by init_app (its stubs leave it out)


db = SQLAlchemy(model_class=Base, session_options={"class_": Session})
# The models' base class. Flask-SQLAlchemy builds db.Model from Base at run time, which a
# type checker cannot follow: to it, the models are plain SQLAlchemy declarative classes.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
socketio = SocketIO()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """SQLite: WAL so readers never block the writer, a busy timeout instead of instant
    'database is locked' errors, and enforced foreign keys."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
