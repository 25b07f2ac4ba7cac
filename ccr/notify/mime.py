"""An outbox row as the bytes that go on the wire.

multipart/mixed around a multipart/alternative of the text and HTML bodies (UTF-8, 7bit or
8bit as they are, never base64 or quoted-printable), encoded words for a non-ASCII subject
or display name, IDNA domains. Built with the stdlib's MIME classes and generated under
compat32 with CRLF line ends: policy.SMTP (what EmailMessage and Flask-Mail use) parses
every header again through the header registry, and the generator would compile a fresh
regex per part to search the text for a free boundary, so boundaries are chosen here.
"""

import secrets
from email import policy
from email.charset import Charset
from email.generator import BytesGenerator
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from io import BytesIO
from typing import Protocol

from flask import current_app

from ccr.notify.outbox import header_safe

# CRLF line ends, headers kept as the strings they were set to.
_WIRE = policy.compat32.clone(linesep="\r\n")
_UTF8 = Charset("utf-8")
# No transfer encoding for the bodies (typeshed allows only the encoding constants).
_UTF8.body_encoding = None  # type: ignore[assignment]


class Content(Protocol):
    """What an email is built from: an outbox row, or the dispatcher's copy of one."""

    @property
    def id(self) -> int | None: ...
    @property
    def subject(self) -> str: ...
    @property
    def body_text(self) -> str: ...
    @property
    def body_html(self) -> str: ...


def build(email: Content, sender: str, to: str) -> bytes:
    """The email's bytes, From sender and To to (both from address())."""
    alternative = MIMEMultipart(
        "alternative",
        _boundary(email.body_text, email.body_html),
        [_text(email.body_text, "plain"), _text(email.body_html, "html")],
        policy=_WIRE,
    )
    msg = MIMEMultipart(
        "mixed", _boundary(email.body_text, email.body_html), [alternative], policy=_WIRE
    )
    # header_safe again: a row edited after queue_email still cannot put CR/LF in a header.
    subject = header_safe(email.subject)
    if subject:
        msg["Subject"] = subject  # compat32 folds it, as encoded words if it is not ASCII
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message_id(email.id) if email.id else make_msgid()
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=_WIRE).flatten(msg)
    return out.getvalue()


def address(value: str) -> str:
    """value ("Name <user@example.com>" or a bare address) for a header and the envelope:
    control characters collapsed, a non-ASCII display name as an encoded word, the domain
    in IDNA. ValueError when it cannot be sent (a non-ASCII local part needs SMTPUTF8)."""
    name, addr = parseaddr(header_safe(value, 320))
    if not addr.isascii():
        local, at, domain = addr.rpartition("@")
        addr = f"{local}{at}{domain.encode('idna').decode('ascii')}"
        if not addr.isascii():
            raise ValueError(f"{addr!r} has a non-ASCII local part (SMTPUTF8 is not used)")
    return formataddr((name, addr), charset="utf-8")


def message_id(row_id: int) -> str:
    """Derived from the outbox id, so a rare duplicate after a crash is recognisable."""
    domain = current_app.config["CCR_BASE_URL"].split("://")[-1].split("/")[0].split(":")[0]
    return f"<ccr-outbox-{row_id}@{domain or 'ccr.local'}>"


def _text(body: str, subtype: str) -> MIMENonMultipart:
    """What MIMEText(body, subtype, _UTF8) makes (typeshed takes only a charset name)."""
    part = MIMENonMultipart("text", subtype, policy=_WIRE, charset="utf-8")
    part.set_payload(body, _UTF8)
    return part


def _boundary(*bodies: str) -> str:
    """128 random bits that none of the bodies contains (so no part can end early)."""
    while True:
        boundary = f"==============={secrets.token_hex(16)}=="
        if not any(boundary in body for body in bodies):
            return boundary
