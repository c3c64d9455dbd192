"""Every failure as OpenAI's error envelope: `{"error": {"message", "type", "code", "param"}}`.

Routes and backends raise a `ServiceError` subclass; the handlers here turn it (and FastAPI's own
404/405/422 answers) into that body, so OpenAI clients raise their usual typed exceptions.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

DEFAULT_RETRY_AFTER = "1"


class ServiceError(Exception):
    """A failure with the HTTP status and OpenAI error type/code a client should see."""

    status = 500
    type = "server_error"
    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "code": self.code, "param": self.param}}


class InvalidRequest(ServiceError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class Unauthorized(ServiceError):
    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"

    def __init__(self, message: str = "Missing or incorrect API key: send `Authorization: Bearer <key>`.") -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class NotFound(ServiceError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class MethodNotAllowed(ServiceError):
    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"


class RateLimited(ServiceError):
    """The upstream rate-limited us, or the local queue is full: retry after `retry_after` seconds."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: str | None = None, code: str | None = None) -> None:
        self.retry_after = retry_after or DEFAULT_RETRY_AFTER
        super().__init__(message, code=code, headers={"Retry-After": self.retry_after})


class UpstreamError(ServiceError):
    status = 502
    type = "upstream_error"
    code = "bad_gateway"


class UpstreamRejected(ServiceError):
    """The upstream refused the request itself (a 400 naming a field): its own answer goes back as it was.

    The client sent the field, so the client is the one to hear about it, in the upstream's words.
    """

    type = "invalid_request_error"
    code = "invalid_request"

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(str(error.get("message") or f"The upstream answered HTTP {status}."))
        self.status = status
        self.param = error.get("param") if isinstance(error.get("param"), str) else None
        self.code = str(error.get("code") or self.code)
        self.error = error

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "code": None, "param": None, **self.error}}


class NotReady(ServiceError):
    status = 503
    type = "server_error"
    code = "not_ready"


class GatewayTimeout(ServiceError):
    status = 504
    type = "timeout_error"
    code = "timeout"


def error_response(error: ServiceError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    problems = []
    param = None
    for item in exc.errors():
        loc = [str(part) for part in item.get("loc", ()) if part != "body"]
        where = ".".join(loc) or "body"
        param = param or (where if loc else None)
        problems.append(f"{where}: {item.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(problems), param


def install_handlers(app: FastAPI) -> None:
    """Route every error through the envelope; never log request headers (they carry keys)."""

    async def on_service_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceError)
        return error_response(exc)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        message, param = _validation_message(exc)
        # OpenAI answers 400 (not FastAPI's 422) for a malformed body.
        return error_response(InvalidRequest(message, param=param))

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        kinds: dict[int, type[ServiceError]] = {404: NotFound, 405: MethodNotAllowed, 401: Unauthorized}
        if exc.status_code == 401:
            return error_response(Unauthorized())
        kind = kinds.get(exc.status_code)
        if kind is None:
            kind = InvalidRequest if exc.status_code < 500 else ServiceError
            error = kind(str(exc.detail), code=f"http_{exc.status_code}")
            error.status = exc.status_code
        else:
            error = kind(str(exc.detail))
        error.headers.update(exc.headers or {})
        return error_response(error)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Method and path only: headers (Authorization) must never reach the logs.
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(ServiceError("Internal error in the model service."))

    app.add_exception_handler(ServiceError, on_service_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
