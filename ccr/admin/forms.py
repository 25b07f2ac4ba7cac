from wtforms import (  # type: ignore[attr-defined]  # SelectChoice is newer than the stubs
    PasswordField,
    RadioField,
    SelectChoice,
    StringField,
    SubmitField,
    ValidationError,
)
from wtforms.validators import DataRequired, Length

from ccr.forms import CCRForm, IdempotentForm, email_field, good_name, good_password
from ccr.services.categories import NAME_MAX


class CategoryForm(IdempotentForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=NAME_MAX)])
    submit = SubmitField("Save")


class AssignForm(CCRForm):
    agent_id = StringField("Agent", validators=[DataRequired(), Length(max=12)])
    # The assignee the admin saw ("" for nobody): a reassignment since then is refused.
    expected_assignee = StringField(validators=[Length(max=12)])


class BulkForm(CCRForm):
    """The admin list's toolbar: an action for the checked rows (the rows' `ticket` values,
    "id:assignee id seen", are read from the request) or, from a row's own button, `only`."""

    action = StringField(validators=[Length(max=20)])
    agent_id = StringField("Agent", validators=[Length(max=12)])
    priority = StringField("Priority", validators=[Length(max=20)])
    only = StringField(validators=[Length(max=30)])
    next = StringField(validators=[Length(max=2000)])
    confirmed = StringField(validators=[Length(max=1)])


class AgentCreateForm(IdempotentForm):
    first_name = StringField("First name", validators=[good_name])
    last_name = StringField("Last name", validators=[good_name])
    email = email_field()
    method = RadioField(
        "How they get in",
        choices=[
            SelectChoice("invite", "Email an invitation link"),
            SelectChoice("password", "Set an initial password"),
        ],
        default="invite",
    )
    # Shown only when "Set an initial password" is chosen (CSS); with an invitation a
    # password still in the field is ignored, never checked or stored.
    password = PasswordField("Initial password")
    submit = SubmitField("Create agent")

    def validate_password(self, field) -> None:
        if self.method.data != "password":
            field.data = None
            return
        if not field.data:
            raise ValidationError("Enter an initial password, or choose an invitation.")
        good_password(self, field)


class AgentEditForm(CCRForm):
    first_name = StringField("First name", validators=[good_name])
    last_name = StringField("Last name", validators=[good_name])
    email = email_field()
    submit = SubmitField("Save")


class ActionForm(CCRForm):
    """A button that changes state: the CSRF token, and `confirmed` once the admin has said
    yes on the confirmation page (the actions that ask)."""

    confirmed = StringField(validators=[Length(max=1)])
    submit = SubmitField("Confirm")
