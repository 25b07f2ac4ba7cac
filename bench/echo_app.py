"""Baseline: a bare Flask-SocketIO app with the chat's shape (join/send/ack/broadcast).

No authentication, no database: what the server stack (gunicorn, gevent, Flask-SocketIO)
costs on its own. Served like the real app: gunicorn -k gevent -w 1 bench.echo_app:app
"""

import itertools

from flask import Flask
from flask_socketio import SocketIO, emit, join_room

app = Flask(__name__)
socketio = SocketIO(app, async_mode="gevent", logger=False, engineio_logger=False)
_ids = itertools.count(1)


@socketio.on("connect")
def on_connect(auth=None):
    return True


@socketio.on("join_ticket")
def on_join_ticket(data):
    join_room(f"ticket:{int(data.get('ticket_id'))}")
    return {"ok": True, "messages": []}


@socketio.on("send_message")
def on_send_message(data):
    message_id = next(_ids)
    ticket_id = int(data.get("ticket_id"))
    payload = {
        "id": message_id,
        "ticket_id": ticket_id,
        "body": str(data.get("body") or ""),
        "client_id": data.get("client_id"),
    }
    emit("message_created", payload, to=f"ticket:{ticket_id}")
    return {"ok": True, "id": message_id, "client_id": data.get("client_id")}


@app.get("/healthz")
def health():
    return "ok"
