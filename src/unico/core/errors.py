"""One error tree: every Unico error knows its HTTP status, a stable code and the field at fault.

The web layer maps them once to ``{"error": {"code", "message", "field"}}``.
"""

from __future__ import annotations


class UnicoError(Exception):
    """Base of every error Unico reports to a caller."""

    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        #: Extra keys for the error object (a syntax error's ``line``, ``column``, ``hint``).
        self.details = details or {}
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, dict[str, object]]:
        return {
            "error": {
                **self.details,
                "code": self.code,
                "message": self.message,
                "field": self.field,
            }
        }


class InvalidInput(UnicoError):
    status = 400
    code = "invalid_input"


class InvalidJSON(UnicoError):
    status = 400
    code = "invalid_json"


class Unprocessable(UnicoError):
    """Well-formed input that cannot be used: a condition with a syntax or type error."""

    status = 422
    code = "unprocessable"


class PayloadTooLarge(UnicoError):
    status = 413
    code = "payload_too_large"


class Unauthorized(UnicoError):
    status = 401
    code = "unauthorized"


class Forbidden(UnicoError):
    status = 403
    code = "forbidden"


class NotFound(UnicoError):
    status = 404
    code = "not_found"


class Conflict(UnicoError):
    status = 409
    code = "conflict"


class UnsupportedMediaType(UnicoError):
    status = 415
    code = "unsupported_media_type"


class Overloaded(UnicoError):
    """The server cannot take more work now; the caller should retry later."""

    status = 503
    code = "overloaded"


class QueueFull(Overloaded):
    """More work is waiting than the server holds: the caller should slow down. A 429 with
    ``Retry-After``, which analytics.js honours (it reads ``Retry-After`` only on a 429) and
    RudderStack's SDKs retry as well."""

    status = 429
    code = "queue_full"


class ConfigurationError(Exception):
    """Invalid settings: start-up stops with this message."""
