from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length

from ccr.services.categories import NAME_MAX


class CategoryForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=NAME_MAX)])
    submit = SubmitField("Save")


class AssignForm(FlaskForm):
    agent_id = StringField("Agent", validators=[DataRequired(), Length(max=12)])
