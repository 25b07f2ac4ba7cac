"""Forms and field rules shared by the role blueprints."""

from flask_wtf import FlaskForm
from wtforms import EmailField, Field, HiddenField, ValidationError
from wtforms.validators import DataRequired, Email, Length

from ccr.services.passwords import password_problem
from ccr.services.users import name_problem


def good_password(_form: FlaskForm, field: Field) -> None:
    """A new password the policy accepts (an empty field is left to DataRequired)."""
    if field.data:
        problem = password_problem(field.data)
        if problem:
            raise ValidationError(problem)


def good_name(_form: FlaskForm, field: Field) -> None:
    """A first or last name the name rule accepts."""
    problem = name_problem(field.data)
    if problem:
        raise ValidationError(problem)


def email_field(label: str = "Email") -> EmailField:
    return EmailField(label, validators=[DataRequired(), Email(), Length(max=254)])


class TicketActionForm(FlaskForm):
    """A status verb posted from a ticket page button (checked by the transition table)."""

    verb = HiddenField(validators=[DataRequired(), Length(max=40)])


class ConfirmForm(FlaskForm):
    """A button that only needs the CSRF token (retire, retry ...)."""
