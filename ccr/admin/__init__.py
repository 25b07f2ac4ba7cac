from flask import Blueprint

bp = Blueprint("admin", __name__)

# One module per page family, all on this blueprint.
from ccr.admin import agents, bulk, categories, logs, tickets  # noqa: E402,F401
