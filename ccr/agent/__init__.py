from flask import Blueprint

bp = Blueprint("agent", __name__)

from ccr.agent import routes  # noqa: E402,F401
