"""The domain: the only code that changes state."""

from ccr.services import uow


class ServiceError(Exception):
    """A refused action; the message is safe to show to the person who asked.

    Creating one marks the current unit of work refused, so its boundary rolls it back
    (uow.keep() before raising saves a record of the refusal)."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        uow.refuse()


class NotFound(ServiceError):
    """The thing does not exist, or the actor may not know it exists."""


class Forbidden(ServiceError):
    """The actor may see the thing but may not do this to it."""
