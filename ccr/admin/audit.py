"""Admin actions in the security log, after the commit that made them."""

import logging
from enum import StrEnum

from flask import request
from flask_login import current_user

from ccr.services.uow import on_commit

log = logging.getLogger("ccr.security")


class AdminAction(StrEnum):
    """The audit log's names for admin actions: explicit, so renaming code renames nothing."""

    ASSIGN = "assign"
    SET_PRIORITY = "set_priority"
    CLOSE_TICKET = "close_ticket"
    CREATE_CATEGORY = "create_category"
    RENAME_CATEGORY = "rename_category"
    TOGGLE_RETIRED = "toggle_retired"
    MAIL_RETRY = "mail_retry"


def audit(action: AdminAction, **details: object) -> None:
    """Log who did what from where once the action is committed (never secrets)."""
    fields = " ".join(f"{k}={v}" for k, v in details.items())
    on_commit(
        log.info,
        "admin action=%s user=%s ip=%s %s",
        action.value,
        current_user.id,
        request.remote_addr,
        fields,
    )
