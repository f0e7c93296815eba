"""Domain exceptions. Messages are for users and in Dutch; the edges map them to exit codes
(CLI) and RFC 9457 problem+json (API)."""

from __future__ import annotations


class GeoveiligError(Exception):
    """Base class of every error a user can cause or must act on."""

    #: HTTP status the API uses for this error.
    status: int = 400
    #: Short stable identifier, used in the problem+json ``type``.
    code: str = "error"

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return f"{self.message} ({self.where})" if self.where else self.message


class InvalidInput(GeoveiligError):
    """A parameter or value is not acceptable."""

    code = "invalid-input"


class CrsError(InvalidInput):
    """Data is in the wrong or an unknown coordinate reference system."""

    code = "invalid-crs"


class AreaError(GeoveiligError):
    """Boundary data is missing or invalid."""

    code = "invalid-areas"


class UnknownCrimeType(InvalidInput):
    code = "unknown-crime-type"


class NotFound(GeoveiligError):
    status = 404
    code = "not-found"


class Conflict(GeoveiligError):
    """The request does not fit the current state (e.g. ending a deployment that was never
    placed)."""

    status = 409
    code = "conflict"


class ImportRejected(GeoveiligError):
    """An import found invalid rows and imported nothing. ``rejects`` lists every bad row."""

    code = "import-rejected"

    def __init__(self, message: str, rejects: object) -> None:  # rejects: pandas.DataFrame
        super().__init__(message)
        self.rejects = rejects


class StoreUnavailable(GeoveiligError):
    status = 503
    code = "store-unavailable"
