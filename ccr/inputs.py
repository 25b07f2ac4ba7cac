"""Numbers and text from outside (paths, query strings, forms, socket payloads), parsed in
one place: what does not fit gets the same answer as a missing thing, never an exception.

Python's own parsing is too lenient for this: str.isdigit() accepts superscript digits
that int() refuses, int() accepts "+5", " 5", "5_000" and other scripts' digits, and a
number no database column holds fails only when the database sees it.
"""

import re
from typing import Any

# The largest value an id or counter column holds on every supported database: ids are
# INTEGER columns, and PostgreSQL's INTEGER is 32 bits (SQLite's would take 64).
INT_MAX = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,10}")
# Characters no text field may hold: C0 controls but tab, line feed and carriage return, and
# DEL. PostgreSQL cannot store NUL at all; the others break emails and terminals.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_PROBLEM = "Remove the control characters (such as NUL) from this text."


def parse_int(value: Any, *, minimum: int = 0, maximum: int = INT_MAX) -> int | None:
    """`value` as an int within [minimum, maximum], or None. Accepts an int (not a bool) or
    a string of 1 to 10 ASCII digits, nothing else: no sign, spaces, underscores or floats."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value)
    else:
        return None
    return number if minimum <= number <= maximum else None


def parse_id(value: Any) -> int | None:
    """A row id from outside (1 to INT_MAX), or None."""
    return parse_int(value, minimum=1)


def text_problem(value: str) -> str | None:
    """Why this text cannot be stored as it is (a control character), or None."""
    return CONTROL_PROBLEM if _CONTROL.search(value) else None
