"""The `id` URL converter: a row id in a path is ASCII digits within what the column holds
(ccr.inputs.parse_id); anything else matches no route, so it is the 404 a missing row gets."""

from typing import Any

from werkzeug.routing import BaseConverter, ValidationError

from ccr.inputs import parse_id


class IdConverter(BaseConverter):
    regex = r"[0-9]{1,10}"

    def to_python(self, value: str) -> int:
        parsed = parse_id(value)
        if parsed is None:
            raise ValidationError()
        return parsed

    def to_url(self, value: Any) -> str:
        return str(int(value))
