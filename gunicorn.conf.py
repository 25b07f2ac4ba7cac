"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py app:app`.

One worker per process (Flask-SocketIO keeps socket state in the worker); scale by running
more processes behind a sticky load balancer with REDIS_URL as the message queue.
The gevent worker monkey-patches the standard library before the app is imported, so the app
must run with CCR_ASYNC_MODE=gevent (the production default). With CCR_ASYNC_MODE=threading
(IBM Db2: ibm_db blocks green threads) the threaded worker is used instead.
"""

import gc
import os

# The worker imports the app after this file ran: both see the same async mode.
_async_mode = os.environ.setdefault("CCR_ASYNC_MODE", "gevent")

# All interfaces by default: inside a container the port is reached from outside.
_host = os.environ.get("CCR_BIND_HOST", "0.0.0.0")  # noqa: S104
bind = [f"{_host}:{int(os.environ.get('PORT', '8000'))}"]
workers = 1  # never more: each process is one Socket.IO server; add processes to scale
if _async_mode == "threading":
    worker_class = "gthread"
    threads = int(os.environ.get("GUNICORN_THREADS", "100"))
else:
    worker_class = "gevent"
    # Idle sockets are cheap (see bench/): allow thousands per process.
    worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "10000"))

timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5

accesslog = "-"  # stdout
errorlog = "-"  # stderr
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s "%(a)s"'

# No runtime control interface: nothing may reconfigure the server from inside the container.
control_socket_disable = True


def _tune_gc() -> None:
    """Keep the cyclic garbage collector's pauses short.

    Thousands of sockets and their greenlets are long-lived objects; with CPython's default
    thresholds a full collection walked them every few seconds and stalled every
    conversation (docs/performance.md#garbage-collector-tuned-for-long-lived-sockets). The
    objects loaded at start-up are frozen out of the collector's scans and full collections
    run a tenth as often. (Larger young
    generations made each young collection pause as long: greenlets are slow to scan.)
    GUNICORN_GC_THRESHOLDS="700,10,10" restores CPython's defaults.
    """
    gc.collect()
    gc.freeze()
    thresholds = os.environ.get("GUNICORN_GC_THRESHOLDS", "700,10,100")
    gc.set_threshold(*(int(n) for n in thresholds.split(",")))


def post_worker_init(worker):
    """JSON access/error lines when the app logs JSON; SQLite checkpoints and full garbage
    collections in the background (ccr/idle_gc.py); start the in-process outbox dispatcher
    when CCR_OUTBOX_DISPATCHER=inprocess. Runs in the worker, after gevent's patching."""
    _tune_gc()
    from ccr.extensions import socketio
    from ccr.idle_gc import run_forever
    from ccr.logs import configure_gunicorn
    from ccr.notify.dispatcher import start_dispatcher
    from ccr.sqlite_wal import start_checkpointer

    app = worker.wsgi
    if getattr(app, "config", None) is None:  # not the Flask app itself (e.g. wrapped)
        from app import app
    if "CCR_ASYNC_MODE" not in app.config:  # another app under these settings (bench's echo)
        return
    expected = "threading" if worker_class == "gthread" else "gevent"
    if app.config["CCR_ASYNC_MODE"] != expected:
        raise RuntimeError(
            f"CCR_ASYNC_MODE is {app.config['CCR_ASYNC_MODE']!r} but gunicorn runs the "
            f"{worker_class} worker, which needs {expected!r}"
        )
    configure_gunicorn(worker.log, app)
    socketio.start_background_task(run_forever, socketio.sleep)
    if start_checkpointer(app):
        worker.log.info("SQLite WAL checkpoints run in the background")
    if start_dispatcher(app):
        worker.log.info("in-process outbox dispatcher started")
