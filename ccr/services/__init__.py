"""The domain: the only code that changes state."""


class ServiceError(Exception):
    """A refused action; the message is safe to show to the person who asked."""


class NotFound(ServiceError):
    """The thing does not exist, or the actor may not know it exists."""


class Forbidden(ServiceError):
    """The actor may see the thing but may not do this to it."""
