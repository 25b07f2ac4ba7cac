"""Forms and field rules shared by the role blueprints."""

import secrets

from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (  # type: ignore[attr-defined]  # SelectChoice is newer than the stubs
    EmailField,
    Field,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, Email, Length, Optional

from ccr.inputs import parse_id, text_problem
from ccr.models import Category, Priority
from ccr.services.messages import BODY_MAX
from ccr.services.passwords import password_problem, personal_words
from ccr.services.users import name_problem


def no_control_characters(_form: FlaskForm, field: Field) -> None:
    """Text the database and email can hold: no NUL or other control characters (a field
    that already failed another rule is not told twice)."""
    if not field.errors and isinstance(field.data, str):
        problem = text_problem(field.data)
        if problem:
            raise ValidationError(problem)


class CCRForm(FlaskForm):
    """The base of every form: each text field (StringField and its kinds: text areas,
    hidden, email and password fields) refuses control characters, so nothing the database
    or an email cannot hold gets past validation."""

    def validate(self, extra_validators=None) -> bool:
        extra = {name: list(v) for name, v in (extra_validators or {}).items()}
        for name, field in self._fields.items():
            if isinstance(field, StringField):
                extra.setdefault(name, []).append(no_control_characters)
        return super().validate(extra)


def good_password(form: FlaskForm, field: Field) -> None:
    """A new password the policy accepts (an empty field is left to DataRequired): not the
    email address or names in the same form, or else the signed-in user's own."""
    if field.data:
        problem = password_problem(field.data, _personal(form))
        if problem:
            raise ValidationError(problem)


def _personal(form: FlaskForm) -> tuple[str, ...]:
    if "email" in form:
        return tuple(form[n].data or "" for n in ("email", "first_name", "last_name") if n in form)
    if current_user.is_authenticated:
        return personal_words(current_user)
    return ()


def good_name(_form: FlaskForm, field: Field) -> None:
    """A first or last name the name rule accepts."""
    problem = name_problem(field.data)
    if problem:
        raise ValidationError(problem)


def email_field(label: str = "Email") -> EmailField:
    return EmailField(label, validators=[DataRequired(), Email(), Length(max=254)])


class TicketActionForm(CCRForm):
    """A status verb posted from a ticket page button (checked by the transition table)."""

    verb = HiddenField(validators=[DataRequired(), Length(max=40)])


class ConfirmForm(CCRForm):
    """A button that only needs the CSRF token (retire, retry ...)."""


def new_idempotency_key() -> str:
    return secrets.token_urlsafe(18)


class IdempotentForm(CCRForm):
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


class TicketEditForm(CCRForm):
    """Staff set a ticket's priority and category (the choices are the page's)."""

    priority = SelectField(
        "Priority", choices=[SelectChoice(p.value, p.value.capitalize()) for p in Priority]
    )
    category = SelectField("Category", choices=[], validate_choice=False)
    submit = SubmitField("Save")
    _category_values: set[str] = set()

    def set_categories(self, categories, current: Category | None) -> None:
        """The active categories, and the ticket's own even when it has been retired."""
        listed = list(categories)
        if current is not None and current not in listed:
            listed.append(current)
        self.category.choices = [SelectChoice("", "— None —")] + [
            SelectChoice(str(c.id), c.name) for c in listed
        ]
        self._category_values = {str(c.id) for c in listed}

    def validate_category(self, field: SelectField) -> None:
        if field.data and field.data not in self._category_values:
            raise ValidationError("Choose a category from the list.")

    @property
    def category_id(self) -> int | None:
        return parse_id(self.category.data)


class TicketTransferForm(CCRForm):
    """An agent hands the ticket on: to whom, and the note they see first."""

    agent_id = SelectField("Hand on to", choices=[], validate_choice=False)
    note = TextAreaField(
        "Note for them",
        validators=[DataRequired(message="Write a note for your colleague."), Length(max=BODY_MAX)],
    )
    submit = SubmitField("Hand on")

    def set_agents(self, agents) -> None:
        self.agent_id.choices = [SelectChoice("", "— Choose a colleague —")] + [
            SelectChoice(str(a.id), a.full_name) for a in agents
        ]
