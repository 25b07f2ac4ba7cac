"""Entry point. `python app.py` serves the development server with live chat."""

from ccr import create_app
from ccr.devserver import QuietRequestHandler
from ccr.extensions import socketio
from ccr.notify.dispatcher import start_dispatcher

app = create_app()

if __name__ == "__main__":
    start_dispatcher(app)
    # Werkzeug's server (threading mode) takes our handler; gevent's names no versions.
    quiet = {"request_handler": QuietRequestHandler}
    socketio.run(
        app,
        host=app.config["CCR_HOST"],
        port=app.config["CCR_PORT"],
        allow_unsafe_werkzeug=True,
        use_reloader=False,
        **(quiet if app.config["CCR_ASYNC_MODE"] == "threading" else {}),
    )
