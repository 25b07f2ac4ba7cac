"""Reading one-time codes and links the way a user does: from the email that arrived."""

import re

from ccr.notify.dispatcher import dispatch_pending
from tests.support.smtp import body_text


def deliver(mailbox, count: int):
    """Send what the outbox holds (inside the app context) and wait for `count` emails."""
    dispatch_pending()
    return mailbox.wait_for(count)


def last_to(mailbox, address: str):
    messages = mailbox.to(address)
    assert messages, f"no email to {address}"
    return messages[-1]


def code_in(msg) -> str:
    match = re.search(r"^\s+(\d{6})\s*$", body_text(msg), re.M)
    assert match, "no 6-digit code in the email"
    return match.group(1)


def link_in(msg, marker: str) -> str:
    match = re.search(r"(https?://\S*" + re.escape(marker) + r"\S*)", body_text(msg))
    assert match, f"no link containing {marker!r} in the email"
    return match.group(1)
