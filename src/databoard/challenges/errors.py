"""Domain exceptions of the challenges: each has its status and a stable code clients can test."""

from databoard.errors import Conflict, PermissionDenied, RateLimited


class EventClosed(Conflict):
    code = "event_closed"


class NotSignedUp(PermissionDenied):
    code = "not_signed_up"


class LimitReached(RateLimited):
    code = "limit_reached"


class NameTaken(Conflict):
    code = "name_taken"


class DuplicateCode(Conflict):
    code = "duplicate_code"


class InvalidTransition(Conflict):
    code = "invalid_transition"
