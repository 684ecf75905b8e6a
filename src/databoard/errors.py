"""Domain exceptions. Services raise them; one API handler and the web views render them.

Each carries an HTTP status and a stable machine-readable code; the message says what went
wrong, why, and what to do next.
"""

from __future__ import annotations

from typing import Any


class DataboardError(Exception):
    """Base of every error a user can act on."""

    status, code = 400, "invalid"

    def __init__(self, message: str, **details: Any):
        super().__init__(message)
        self.details = details

    @property
    def message(self) -> str:
        return str(self)

    def as_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": str(self), "details": self.details}}


class ValidationFailed(DataboardError):
    status, code = 400, "invalid"


class NotAuthenticated(DataboardError):
    status, code = 401, "unauthorized"


class PermissionDenied(DataboardError):
    status, code = 403, "forbidden"


class NotFound(DataboardError):
    status, code = 404, "not_found"


class Conflict(DataboardError):
    status, code = 409, "conflict"


class TooLarge(DataboardError):
    status, code = 413, "too_large"


class Unprocessable(DataboardError):
    status, code = 422, "unprocessable"


class RateLimited(DataboardError):
    status, code = 429, "rate_limited"


def from_django_validation(exc: Any) -> ValidationFailed:
    """Wrap Django's ValidationError as ours, keeping field messages as details."""
    if hasattr(exc, "message_dict"):
        fields = {name: [str(m) for m in msgs] for name, msgs in exc.message_dict.items()}
        first = next(iter(fields.items()))
        label = "" if first[0] == "__all__" else f"{first[0]}: "
        return ValidationFailed(f"{label}{first[1][0]}", fields=fields)
    messages = [str(m) for m in getattr(exc, "messages", [str(exc)])]
    return ValidationFailed(" ".join(messages), fields={"__all__": messages})
