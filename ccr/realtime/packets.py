"""Malformed frames from a client, refused quietly before python-socketio trips over them.

Left alone, python-socketio and python-engineio log a traceback for every frame they cannot
decode (bad JSON, an empty or unknown engine.io packet, binary junk, an event that is not a
list starting with its name), and run the connect and disconnect handlers for a client that
merely names them as events (`42["disconnect"]`: forgetting a live socket's presence).
`guard(server)` puts three checks in front, each answering with one info line and no
traceback:

- each websocket frame is a plausible engine.io packet (a type digit, or "b" and base64),
  or the connection is closed as if the client had gone; each long-polling POST body is
  UTF-8 and holds only such packets, or it is answered 400;
- each Socket.IO packet decodes, or it is dropped;
- each event is a list starting with a name that is not "connect" or "disconnect", or it is
  dropped.

The checks look at a frame's first characters only: the JSON is still decoded once, by
python-socketio (docs/performance.md#socket-payloads-checked-by-plain-functions).
"""

import base64
import binascii
import io
import logging
import urllib.parse
from collections.abc import Callable
from typing import Any

from ccr.inputs import parse_int

log = logging.getLogger(__name__)
_ENGINE_IO_TYPES = frozenset("0123456789")
_DECODE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError)
_GUARDED = "_ccr_guarded"


def guard(server: Any) -> None:
    """Put the checks in front of this python-socketio Server (once; register may call
    it again for the same server)."""
    if getattr(server, _GUARDED, False):
        return
    setattr(server, _GUARDED, True)
    eio = server.eio
    websocket_class = eio._async.get("websocket")
    if websocket_class is not None:
        eio._async = {**eio._async, "websocket": _checked_websocket(websocket_class)}
    eio.handle_request = _checked_polling(eio, eio.handle_request)
    eio.on("message", _checked_message(server._handle_eio_message))
    server._handle_event = _checked_event(server, server._handle_event)


def _checked_websocket(websocket_class: Any) -> Callable[..., Any]:
    def make(handler: Callable[[Any], Any], server: Any, **kwargs: Any) -> Any:
        return websocket_class(lambda ws: handler(_CheckedFrames(ws)), server, **kwargs)

    return make


class _CheckedFrames:
    """The websocket engine.io reads, answering None ("the client has gone") for a text
    frame that is no engine.io packet."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ws, name)

    def wait(self) -> Any:
        data = self._ws.wait()
        if isinstance(data, str) and not _engine_io_packet(data):
            log.info("socket frame refused: not an engine.io packet (%d characters)", len(data))
            return None
        return data


def _engine_io_packet(data: str) -> bool:
    if not data:
        return False
    if data[0] in _ENGINE_IO_TYPES:
        return True
    if data[0] != "b":
        return False
    try:
        base64.b64decode(data[1:], validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _checked_polling(eio: Any, handle: Callable[..., Any]) -> Callable[..., Any]:
    def handle_request(environ: dict, start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") == "POST":
            length = parse_int(environ.get("CONTENT_LENGTH") or "0")
            if length is None:
                return _bad_request(start_response, "no valid Content-Length")
            if length <= eio.max_http_buffer_size:  # longer: engine.io refuses it unread
                body = environ["wsgi.input"].read(length)
                environ["wsgi.input"] = io.BytesIO(body)
                if not _polling_payload(body):
                    return _bad_request(start_response, "not engine.io packets")
        return handle(environ, start_response)

    return handle_request


def _bad_request(start_response: Callable[..., Any], why: str) -> list[bytes]:
    log.info("socket polling request refused: %s", why)
    start_response("400 BAD REQUEST", [("Content-Type", "text/plain")])
    return [b"Bad request"]


def _polling_payload(body: bytes) -> bool:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if text.startswith("d="):  # JSONP
        jsonp = urllib.parse.parse_qs(text).get("d")
        if not jsonp:
            return False
        text = jsonp[0]
    return not text or all(_engine_io_packet(p) for p in text.split("\x1e"))


def _checked_message(handle: Callable[[str, Any], None]) -> Callable[..., None]:
    def on_message(eio_sid: str, data: Any) -> None:
        try:
            handle(eio_sid, data)
        except _DECODE_ERRORS as exc:
            log.info("socket packet refused: %s: %s", type(exc).__name__, exc)

    return on_message


def _checked_event(server: Any, handle: Callable[..., None]) -> Callable[..., None]:
    reserved = frozenset(server.reserved_events)

    def on_event(eio_sid: str, namespace: str | None, ack_id: int | None, data: Any) -> None:
        if not data or not isinstance(data, list) or not isinstance(data[0], str):
            log.info("socket event refused: not a list starting with its name")
            return
        if data[0] in reserved:
            log.info("socket event refused: %r is not an event a client sends", data[0])
            return
        handle(eio_sid, namespace, ack_id, data)

    return on_event
