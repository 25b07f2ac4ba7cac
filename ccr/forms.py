"""Forms and field rules shared by the role blueprints."""

import secrets

from flask_wtf import FlaskForm
from wtforms import EmailField, Field, HiddenField, ValidationError
from wtforms.validators import DataRequired, Email, Length, Optional

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


def new_idempotency_key() -> str:
    return secrets.token_urlsafe(18)


class IdempotentForm(FlaskForm):
    """A form that creates something. It carries a random key made when it is rendered, so
    that sending it twice (a double click, a retried POST) creates one thing
    (services.idempotency)."""

    idempotency_key = HiddenField(
        default=new_idempotency_key, validators=[Optional(), Length(max=64)]
    )

    @property
    def sent_key(self) -> str | None:
        """The key the submission carried (None when it carried none, as from an old page:
        the field's default would be a fresh key)."""
        raw = self.idempotency_key.raw_data
        return raw[0] if raw else None
