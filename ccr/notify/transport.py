"""Where built emails go: an SMTP server (the MAIL_* settings, with a timeout), or, in
development without one, files under instance/mail/ (CCR_MAIL_TRANSPORT=file).

A transport tells the dispatcher which of two things went wrong: Refused (the server
answered an error about this message; the next one may pass) or Unreachable (no server to
talk to: down, timed out, hung up, or it refused the greeting or the login).
"""

import logging
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from flask import Flask

log = logging.getLogger("ccr.notify.email")  # the email pipeline's one logger
# An SMTP error reply about one message, or a message smtplib cannot put on the wire.
_REFUSED = (
    smtplib.SMTPResponseException,
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPNotSupportedError,
    UnicodeEncodeError,
)


class Refused(Exception):
    """The server refused this message."""


class Unreachable(Exception):
    """No server to send to."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: int
    sender: str
    to: str
    subject: str
    data: bytes


class Transport(Protocol):
    def send(self, email: Outgoing) -> None: ...
    def close(self) -> None: ...


def open_transport(app: Flask) -> Transport:
    """The app's transport. An SMTP connection is opened on first use and kept for the
    emails that follow; close() it at the end."""
    if app.config["CCR_MAIL_TRANSPORT"] == "file":
        return FileTransport(Path(app.instance_path) / "mail")
    return SmtpTransport(app.config)


class SmtpTransport:
    def __init__(self, config: Mapping[str, Any]) -> None:
        self.server: str = config["MAIL_SERVER"]
        self.port: int = config["MAIL_PORT"]
        self.use_tls: bool = config["MAIL_USE_TLS"]
        self.use_ssl: bool = config["MAIL_USE_SSL"]
        self.username: str | None = config["MAIL_USERNAME"]
        self.password: str | None = config["MAIL_PASSWORD"]
        self.timeout: float = config["MAIL_TIMEOUT"]
        self.connection: smtplib.SMTP | None = None

    def send(self, email: Outgoing) -> None:
        connection = self.connection or self._connect()
        try:
            connection.sendmail(email.sender, [email.to], email.data)
        except _REFUSED as exc:
            self.close()  # a fresh connection for the next message, as after any error
            raise Refused(f"{type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            self.close()
            raise Unreachable(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                connection.quit()
            except Exception:
                connection.close()

    def _connect(self) -> smtplib.SMTP:
        cls = smtplib.SMTP_SSL if self.use_ssl else smtplib.SMTP
        try:
            connection = cls(self.server, self.port, timeout=self.timeout)
        except Exception as exc:
            raise Unreachable(f"{type(exc).__name__}: {exc}") from exc
        try:
            if self.use_tls:
                connection.starttls()
            if self.username and self.password:
                connection.login(self.username, self.password)
        except Exception as exc:
            connection.close()
            raise Unreachable(f"{type(exc).__name__}: {exc}") from exc
        self.connection = connection
        return connection


class FileTransport:
    """Development: each email as folder/NNNNNN.eml, and a log line that says where."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, email: Outgoing) -> None:
        path = self.folder / f"{email.id:06d}.eml"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path.write_bytes(email.data)
        except OSError as exc:
            raise Unreachable(f"{type(exc).__name__}: {exc}") from exc
        log.info("email to %s (%s) written to %s", email.to, email.subject, path)

    def close(self) -> None:
        pass
