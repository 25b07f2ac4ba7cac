from wtforms import BooleanField, HiddenField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from ccr.forms import CCRForm
from ccr.services.messages import BODY_MAX, CLIENT_ID_MAX


class MessagePostForm(CCRForm):
    body = TextAreaField("Message", validators=[DataRequired(), Length(max=BODY_MAX)])
    client_id = HiddenField(validators=[DataRequired(), Length(max=CLIENT_ID_MAX)])
    internal = BooleanField("Internal note (staff only)")
    submit = SubmitField("Send")
