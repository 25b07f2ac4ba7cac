"""SQLite's WAL checkpoints, moved off the request path of a server process.

By default SQLite checkpoints inside whichever commit pushes the write-ahead log past
1,000 pages: that commit copies the pages into the database file and syncs it. Under gevent
the whole worker waits for it (sqlite3 calls block the event loop), so every socket of the
process stalled several times a second under chat load
(docs/performance.md#sqlite-wal-checkpointer). In a server process the app's connections
turn automatic checkpoints off and a background task checkpoints instead, in a native
thread, every CHECKPOINT_EVERY seconds. PASSIVE checkpoints never wait for readers or writers.
"""

import logging
import sqlite3
import time

import gevent
from sqlalchemy import event

from ccr.extensions import db, socketio

log = logging.getLogger(__name__)
CHECKPOINT_EVERY = 1.0  # seconds


def start_checkpointer(app) -> bool:
    """In a server process on a SQLite file: disable automatic checkpoints on the app's
    connections and start the background checkpointer. False (nothing done) otherwise."""
    with app.app_context():
        engine = db.engine
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:":
        return False
    event.listen(engine, "connect", _no_autocheckpoint)
    engine.dispose()  # connections opened before now keep the default; open them again
    socketio.start_background_task(_run, path, app.config["CCR_ASYNC_MODE"])
    return True


def _no_autocheckpoint(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")


def _run(path: str, async_mode: str) -> None:
    connection = sqlite3.connect(path, timeout=5, check_same_thread=False)
    run_blocking = _native_thread_runner(async_mode)
    while True:
        time.sleep(CHECKPOINT_EVERY)  # a green sleep under gevent
        try:
            run_blocking(checkpoint, connection)
        except Exception:  # a failed checkpoint is retried on the next round
            log.warning("WAL checkpoint of %s failed", path, exc_info=True)


def checkpoint(connection: sqlite3.Connection) -> tuple[int, int, int]:
    """One PASSIVE checkpoint: (busy, pages in the log, pages checkpointed)."""
    return connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()


def _native_thread_runner(async_mode: str):
    """Under gevent, run a blocking call in gevent's pool of native threads (the event loop
    keeps serving sockets while sqlite3 works without the GIL); otherwise call it here."""
    if async_mode != "gevent":
        return lambda fn, *args: fn(*args)
    pool = gevent.get_hub().threadpool
    return lambda fn, *args: pool.apply(fn, args)
