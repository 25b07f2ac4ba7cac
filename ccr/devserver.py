"""The development server's request handler (python app.py, make run): Werkzeug's, without
the `Server: Werkzeug/x Python/y` banner that tells a scanner which versions to try."""

from werkzeug.serving import WSGIRequestHandler


class QuietRequestHandler(WSGIRequestHandler):
    def version_string(self) -> str:
        return "CCR"
