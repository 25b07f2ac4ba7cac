"""Which pages may open a socket: the Origin of the Socket.IO handshake.

Production allows exactly CCR_BASE_URL and CCR_SOCKET_ORIGINS. Development also allows the
address the page was actually served from (its own Host), so that changing CCR_PORT, or
opening the server by another name, never breaks chat. The same answer serves the pages:
`refusal` is what a page is told when its address is not allowed (GET /chat/socket-origin),
since a browser's failed handshake does not say why.
"""

from flask import Flask


class SocketOrigins:
    """python-engineio's `cors_allowed_origins` callable: (origin, environ) -> allowed."""

    def __init__(self, allowed: list[str], same_origin: bool) -> None:
        self.allowed = frozenset(o.rstrip("/") for o in allowed if o)
        self.same_origin = same_origin

    def __call__(self, origin: str | None, environ: dict | None = None) -> bool:
        if not origin:
            return False
        if origin in self.allowed:
            return True
        return self.same_origin and environ is not None and origin == served_origin(environ)


def served_origin(environ: dict) -> str | None:
    """scheme://host[:port] of the address this request was sent to."""
    host = environ.get("HTTP_HOST")
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}" if host else None


def socket_origins(app: Flask) -> SocketOrigins:
    return SocketOrigins(
        [app.config["CCR_BASE_URL"], *app.config["CCR_SOCKET_ORIGINS"]],
        same_origin=app.config["CCR_SOCKET_SAME_ORIGIN"],
    )


def refusal(app: Flask, origin: str, environ: dict) -> str | None:
    """What a page at `origin` is told when its sockets would be refused; None if allowed."""
    if socket_origins(app)(origin, environ):
        return None
    return (
        f"Live updates are blocked: this page's address ({origin}) is not an allowed "
        "origin. Set CCR_BASE_URL or CCR_SOCKET_ORIGINS to include it, restart the server "
        "and reload this page."
    )
