"""Forms shared by the role blueprints."""

from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import DataRequired, Length


class TicketActionForm(FlaskForm):
    """A status verb posted from a ticket page button (checked by the transition table)."""

    verb = HiddenField(validators=[DataRequired(), Length(max=40)])


class ConfirmForm(FlaskForm):
    """A button that only needs the CSRF token (retire, retry ...)."""
