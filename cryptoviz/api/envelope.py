"""The success and error envelopes, and the exception handlers that produce the latter.

Every response body goes through `cryptoviz.codec`, so decimals stay exact numbers.
Whatever a client sends, it gets a 4xx envelope, never a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.status_codes import HTTP_400_BAD_REQUEST, HTTP_500_INTERNAL_SERVER_ERROR

from cryptoviz.api.schemas import Envelope, ErrorBody, ErrorEnvelope
from cryptoviz.codec import encode_json
from cryptoviz.errors import StorageUnavailable
from cryptoviz.timeutil import now_ms, to_rfc3339

log = logging.getLogger(__name__)
JSON = "application/json"


class ApiError(Exception):
    """A client-facing error: HTTP status, stable code, human message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def ok(data: Any, status: int = 200) -> Response[bytes]:
    body = Envelope(success=True, data=data, timestamp=to_rfc3339(now_ms()))
    return Response(encode_json(body), status_code=status, media_type=JSON)


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> Response[bytes]:
    body = ErrorEnvelope(False, ErrorBody(code, message, details), to_rfc3339(now_ms()))
    return Response(encode_json(body), status_code=status, media_type=JSON)


def _api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[bytes]:
    return error_response(exc.status, exc.code, exc.message)


_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if isinstance(exc, NotFoundException):
        return error_response(404, "not_found", f"no route for {request.method} {request.url.path}")
    if isinstance(exc, ValidationException):
        return error_response(HTTP_400_BAD_REQUEST, "bad_request", str(exc.detail))
    return error_response(status, _CODES.get(status, f"http_{status}"), str(exc.detail))


def _unavailable(_: Request[Any, Any, Any], exc: StorageUnavailable) -> Response[bytes]:
    return error_response(503, "storage_unavailable", str(exc))


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "internal server error")


EXCEPTION_HANDLERS: dict[int | type[Exception], Any] = {
    ApiError: _api_error,
    HTTPException: _http_error,
    StorageUnavailable: _unavailable,
    Exception: _internal,
}
