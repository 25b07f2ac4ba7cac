from wtforms import BooleanField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from ccr.forms import CCRForm, email_field, good_name, good_password
from ccr.services.passwords import MAX_PASSWORD_BYTES


def _new_password_fields(label: str = "Password"):
    password = PasswordField(
        label,
        validators=[DataRequired(), good_password],
        description=f"At least 8 characters, at most {MAX_PASSWORD_BYTES} bytes; "
        "a few unrelated words work well.",
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")],
    )
    return password, confirm


_CODE = [DataRequired(), Regexp(r"^\s*\d{6}\s*$", message="Enter the 6-digit code.")]


class LoginForm(CCRForm):
    email = email_field()
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000)])
    remember = BooleanField("Remember me")
    submit = SubmitField("Log in")


class LogoutForm(CCRForm):
    submit = SubmitField("Log out")


class RegisterForm(CCRForm):
    first_name = StringField("First name", validators=[good_name])
    last_name = StringField("Last name", validators=[good_name])
    email = email_field()
    password, confirm = _new_password_fields()
    submit = SubmitField("Create account")


class VerifyEmailForm(CCRForm):
    email = email_field()
    code = StringField("Verification code", validators=_CODE)
    submit = SubmitField("Verify")


class EmailOnlyForm(CCRForm):
    email = email_field()
    submit = SubmitField("Send")


class ResetPasswordForm(CCRForm):
    email = email_field()
    code = StringField("Reset code", validators=_CODE)
    password, confirm = _new_password_fields("New password")
    submit = SubmitField("Set new password")


class AcceptInviteForm(CCRForm):
    password, confirm = _new_password_fields()
    submit = SubmitField("Set password")


class ProfileNameForm(CCRForm):
    first_name = StringField("First name", validators=[good_name])
    last_name = StringField("Last name", validators=[good_name])
    submit = SubmitField("Save name")


class ChangePasswordForm(CCRForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=1000)])
    password, confirm = _new_password_fields("New password")
    submit = SubmitField("Change password")


class ChatEmailsForm(CCRForm):
    chat_emails = BooleanField("Email me about new chat messages while I am away")
    submit = SubmitField("Save")


class DeleteAccountForm(CCRForm):
    password = PasswordField("Your password", validators=[DataRequired(), Length(max=1000)])
    submit = SubmitField("Delete my account")
