import functools

from flask import abort, request
from flask_login import current_user, login_required

from ccr.models import Role
from ccr.services.security_log import security_event


def role_required(*roles: Role):
    """Logged in and of one of these roles; any other role gets a 404 (nothing is leaked)."""

    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if current_user.role not in roles:
                security_event("access_denied", current_user, path=request.path)
                abort(404)
            return view(*args, **kwargs)

        return wrapper

    return decorator
