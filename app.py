"""Entry point. `python app.py` serves the development server with live chat."""

import os

from ccr import create_app
from ccr.devserver import QuietRequestHandler
from ccr.extensions import socketio
from ccr.notify.dispatcher import start_dispatcher

app = create_app()

if __name__ == "__main__":
    host = os.environ.get("CCR_HOST", "127.0.0.1")
    port = int(os.environ.get("CCR_PORT", "5000"))
    start_dispatcher(app)
    # Werkzeug's server (threading mode) takes our handler; gevent's names no versions.
    quiet = {"request_handler": QuietRequestHandler}
    socketio.run(
        app,
        host=host,
        port=port,
        allow_unsafe_werkzeug=True,
        use_reloader=False,
        **(quiet if app.config["CCR_ASYNC_MODE"] == "threading" else {}),
    )
