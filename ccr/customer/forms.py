from wtforms import RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ccr.forms import CCRForm, IdempotentForm
from ccr.inputs import parse_id
from ccr.models import Priority
from ccr.services.tickets import DESCRIPTION_MAX, SUBJECT_MAX


class TicketOpenForm(IdempotentForm):
    subject = StringField("Subject", validators=[DataRequired(), Length(max=SUBJECT_MAX)])
    description = TextAreaField(
        "Describe the problem", validators=[DataRequired(), Length(max=DESCRIPTION_MAX)]
    )
    category = SelectField("Category", choices=[], default="")
    priority = SelectField(
        "Priority",
        choices=[(p.value, p.value.capitalize()) for p in Priority],
        default=Priority.NORMAL.value,
    )
    submit = SubmitField("Raise ticket")

    def set_categories(self, categories) -> None:
        self.category.choices = [("", "— Choose if one fits —")] + [
            (str(c.id), c.name) for c in categories
        ]

    @property
    def category_id(self) -> int | None:
        return parse_id(self.category.data)


class TicketRateForm(CCRForm):
    rating = RadioField(
        "Rating", choices=[(str(i), str(i)) for i in range(1, 6)], validators=[DataRequired()]
    )
    comment = TextAreaField("Comment (optional)", validators=[Optional(), Length(max=2000)])
    submit = SubmitField("Send rating")
