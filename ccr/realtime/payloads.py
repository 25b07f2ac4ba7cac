"""Declared shapes of socket payloads, checked by the dispatcher before a handler runs.

Each event declares its fields (`@event("send_message", payload=SendMessage)`); what the
handler gets is a new dict with exactly the declared fields, each of its declared type or
its default. A payload that does not fit is refused with the first field's problem as the
failure ack's error: nothing is coerced (no str() of a list, no bool() of "false").

- `Text(max_length)`: a str, at most `max_length` characters, without the control
  characters ccr.inputs.text_problem refuses.
- `Int(minimum, maximum)`: ccr.inputs.parse_int's numbers: an int (not a bool) or a string
  of ASCII digits, within [minimum, maximum]; floats (1e308) and huge ints are refused.
- `Bool()`: true or false only.

A field that is absent or null takes its default (`required=True`: refused instead).
Fields the declaration does not name are dropped. A payload that is not an object is refused.

Plain functions rather than a validation library: this runs on every chat message, the
hottest path (docs/performance.md#socket-payloads-checked-by-plain-functions).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ccr.inputs import INT_MAX, parse_int, text_problem

NOT_AN_OBJECT = "The request is malformed: expected an object."


class Invalid(ValueError):
    """A payload that does not fit its declaration; the text is for the user."""


@dataclass(frozen=True, slots=True)
class Text:
    max_length: int
    required: bool = False
    default: str = ""
    too_long: str | None = None  # the error when longer; a generic one otherwise

    def clean(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise Invalid(f"The field {name} must be text.")
        if len(value) > self.max_length:
            raise Invalid(
                self.too_long or f"The field {name} can be at most {self.max_length} characters."
            )
        problem = text_problem(value)
        if problem is not None:
            raise Invalid(problem)
        return value


@dataclass(frozen=True, slots=True)
class Int:
    minimum: int = 0
    maximum: int = INT_MAX
    required: bool = False
    default: int | None = None

    def clean(self, name: str, value: Any) -> int:
        number = parse_int(value, minimum=self.minimum, maximum=self.maximum)
        if number is None:
            raise Invalid(
                f"The field {name} must be a whole number from {self.minimum} to {self.maximum}."
            )
        return number


@dataclass(frozen=True, slots=True)
class Bool:
    required: bool = False
    default: bool = False

    def clean(self, name: str, value: Any) -> bool:
        if value is not True and value is not False:
            raise Invalid(f"The field {name} must be true or false.")
        return value


Field = Text | Int | Bool


class Payload:
    """The declared fields of one event's payload: Payload(body=Text(5000), ...)."""

    __slots__ = ("fields",)

    def __init__(self, **fields: Field) -> None:
        self.fields = fields

    def __repr__(self) -> str:
        return f"Payload({', '.join(self.fields)})"

    def clean(self, data: Any) -> dict[str, Any]:
        """The declared fields of `data`, checked; Invalid with the first problem."""
        if not isinstance(data, Mapping):
            raise Invalid(NOT_AN_OBJECT)
        cleaned: dict[str, Any] = {}
        for name, field in self.fields.items():
            value = data.get(name)
            if value is None:
                if field.required:
                    raise Invalid(f"The field {name} is missing.")
                cleaned[name] = field.default
            else:
                cleaned[name] = field.clean(name, value)
        return cleaned
