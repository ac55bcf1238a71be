"""The exception tree. Each error carries its HTTP status and a message a person can act on."""

from __future__ import annotations

from typing import Any


class CityhubError(Exception):
    status: int = 500
    title: str = "Internal error"

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotFound(CityhubError):
    status = 404
    title = "Not found"


class Conflict(CityhubError):
    status = 409
    title = "Conflict"


class InvalidInput(CityhubError):
    status = 400
    title = "Invalid input"


class SourceError(InvalidInput):
    """A source file cannot be read: says which file, where, what was expected, what was found."""

    title = "Unreadable source"

    def __init__(
        self,
        file: str,
        problem: str,
        *,
        place: str | None = None,
        expected: str | None = None,
        found: str | None = None,
    ) -> None:
        parts = [file + (f", {place}" if place else ""), problem]
        if expected is not None:
            parts.append(f"expected {expected}")
        if found is not None:
            parts.append(f"found {found}")
        super().__init__(
            ": ".join(parts[:2]) + "".join(f"; {p}" for p in parts[2:]),
            file=file,
            place=place,
            expected=expected,
            found=found,
        )


class SyncFailed(CityhubError):
    """A sync was stopped before committing; the last good version is untouched."""

    status = 422
    title = "Sync failed"


class RejectRatioExceeded(SyncFailed):
    title = "Too many rejected rows"


class SchemaDrift(SyncFailed):
    title = "Breaking schema change"


class Unauthorized(CityhubError):
    """No valid credentials: a wrong, expired or revoked token, or a failed login."""

    status = 401
    title = "Unauthorized"


class Forbidden(CityhubError):
    """Known caller, not allowed: a missing role or scope, or a workflow step not theirs."""

    status = 403
    title = "Forbidden"


class TooManyRequests(CityhubError):
    status = 429
    title = "Too many requests"

    def __init__(self, message: str, retry_after: int, **detail: object) -> None:
        super().__init__(message, retry_after=retry_after, **detail)
        self.retry_after = retry_after


class ServiceUnavailable(CityhubError):
    """A part the answer depends on is down (e.g. the audit log cannot be written)."""

    status = 503
    title = "Service unavailable"
