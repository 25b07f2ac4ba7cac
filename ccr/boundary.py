"""The unit of work of an HTTP request (services.uow): it begins before the first
before_request hook and is finished after the view, before the other after_request hooks,
so that a failed commit still becomes a complete 503 page.

The request commits when its response is not an error and nothing was refused (or a refusal
kept its record, uow.keep()); it rolls back otherwise. A failed commit is the generic 503,
never a 500 (a value the database refused at the commit is the 400 of
errors.refused_value); teardown rolls back whatever is left (an exception no handler answered).
"""

import logging

from flask import Flask, Response, g
from sqlalchemy.exc import DataError, IntegrityError

from ccr import outages
from ccr.errors import refused_value, unavailable
from ccr.services import uow

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Install the boundary. Call it after every other hook is registered."""
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request(_finish)  # registered last: runs first
    app.teardown_request(_close)


def _begin() -> None:
    g.ccr_unit = uow.begin()


def _finish(response: Response) -> Response:
    unit = g.get("ccr_unit")
    if unit is None:
        return response
    status = response.status_code
    try:
        uow.finish(unit, ok=status < 400, crashed=status >= 500)
    except (DataError, IntegrityError) as exc:
        return refused_value(exc)
    except Exception as exc:
        outages.report("database", exc, log, "the request's commit failed")
        return unavailable()
    return response


def _close(_exc: BaseException | None) -> None:
    unit = g.pop("ccr_unit", None)
    if unit is not None:
        uow.close(unit)
