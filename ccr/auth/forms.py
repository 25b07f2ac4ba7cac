from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    RadioField,
    SelectChoice,
    StringField,
    SubmitField,
    ValidationError,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, Regexp

from ccr.services.accounts import MAX_PASSWORD_BYTES, name_problem, password_problem


def _good_password(_form, field) -> None:
    if field.data:
        problem = password_problem(field.data)
        if problem:
            raise ValidationError(problem)


def _good_name(_form, field) -> None:
    problem = name_problem(field.data)
    if problem:
        raise ValidationError(problem)


def _email_field(label: str = "Email"):
    return EmailField(label, validators=[DataRequired(), Email(), Length(max=254)])


def _new_password_fields(label: str = "Password"):
    password = PasswordField(
        label,
        validators=[DataRequired(), _good_password],
        description=f"At least 8 characters, at most {MAX_PASSWORD_BYTES} bytes; "
        "a few unrelated words work well.",
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")],
    )
    return password, confirm


_CODE = [DataRequired(), Regexp(r"^\s*\d{6}\s*$", message="Enter the 6-digit code.")]


class LoginForm(FlaskForm):
    email = _email_field()
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000)])
    remember = BooleanField("Remember me")
    submit = SubmitField("Log in")


class LogoutForm(FlaskForm):
    submit = SubmitField("Log out")


class RegisterForm(FlaskForm):
    first_name = StringField("First name", validators=[_good_name])
    last_name = StringField("Last name", validators=[_good_name])
    email = _email_field()
    password, confirm = _new_password_fields()
    submit = SubmitField("Create account")


class VerifyEmailForm(FlaskForm):
    email = _email_field()
    code = StringField("Verification code", validators=_CODE)
    submit = SubmitField("Verify")


class EmailOnlyForm(FlaskForm):
    email = _email_field()
    submit = SubmitField("Send")


class ResetPasswordForm(FlaskForm):
    email = _email_field()
    code = StringField("Reset code", validators=_CODE)
    password, confirm = _new_password_fields("New password")
    submit = SubmitField("Set new password")


class AcceptInviteForm(FlaskForm):
    password, confirm = _new_password_fields()
    submit = SubmitField("Set password")


class ProfileNameForm(FlaskForm):
    first_name = StringField("First name", validators=[_good_name])
    last_name = StringField("Last name", validators=[_good_name])
    submit = SubmitField("Save name")


class ChangePasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=1000)])
    password, confirm = _new_password_fields("New password")
    submit = SubmitField("Change password")


class ChatEmailsForm(FlaskForm):
    chat_emails = BooleanField("Email me about new chat messages while I am away")
    submit = SubmitField("Save")


class DeleteAccountForm(FlaskForm):
    password = PasswordField("Your password", validators=[DataRequired(), Length(max=1000)])
    submit = SubmitField("Delete my account")


class AgentCreateForm(FlaskForm):
    first_name = StringField("First name", validators=[_good_name])
    last_name = StringField("Last name", validators=[_good_name])
    email = _email_field()
    method = RadioField(
        "How they get in",
        choices=[
            SelectChoice("invite", "Email an invitation link"),
            SelectChoice("password", "Set an initial password"),
        ],
        default="invite",
    )
    password = PasswordField("Initial password", validators=[_good_password])
    submit = SubmitField("Create agent")

    def validate_password(self, field) -> None:
        if self.method.data == "password" and not field.data:
            raise ValidationError("Enter an initial password, or choose an invitation.")


class AgentEditForm(FlaskForm):
    first_name = StringField("First name", validators=[_good_name])
    last_name = StringField("Last name", validators=[_good_name])
    email = _email_field()
    submit = SubmitField("Save")


class ActionForm(FlaskForm):
    """A button that changes state: only the CSRF token."""

    submit = SubmitField("Confirm")
