"""The errors the service answers with: an HTTP status and a JSON body `{"message": ..., "errorType": ...}`, as
Stat-Xplore's Open Data API does. Nothing else reaches a client: no exception text, no stack trace."""

from __future__ import annotations


class ServiceError(Exception):
    status = 500
    error_type = "internalError"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def body(self) -> dict:
        return {"message": self.message, "errorType": self.error_type}


class UnknownId(ServiceError):
    """An id that is not in the schema: a typo, or a quarter not yet released."""
    status = 400
    error_type = "unknownId"


class Forbidden(ServiceError):
    status = 403
    error_type = "forbidden"


class NotFound(ServiceError):
    status = 404
    error_type = "notFound"


class MethodNotAllowed(ServiceError):
    status = 405
    error_type = "methodNotAllowed"


class BodyTooLarge(ServiceError):
    status = 413
    error_type = "requestTooLarge"


class BadRequest(ServiceError):
    """Well-formed HTTP whose body is not a valid query: malformed JSON, wrong types, a field asked for twice."""
    status = 422
    error_type = "badRequest"


class CellLimitExceeded(ServiceError):
    status = 422
    error_type = "cellLimitExceeded"


class RateLimited(ServiceError):
    status = 429
    error_type = "rateLimitExceeded"


INTERNAL_ERROR = ServiceError("The service could not answer this request; it has been logged.")
