"""What a request must pass before anything reads its body: the key (on /v1) and a size cap.

FastAPI reads and parses a route's body before it runs the route's dependencies, so a key checked
as a dependency let an unauthenticated client make the service read (and hold) a body of any size.
This ASGI middleware answers 401 from the headers alone, 413 from a Content-Length over the cap,
and reads a body without one (chunked) only up to the cap before it answers 413.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from common.body_limit import declared_length, read_capped, replaying
from model_service.auth import bearer_key_accepted
from model_service.errors import ServiceError, Unauthorized, error_response

PROTECTED_PREFIX = "/v1"


class PayloadTooLarge(ServiceError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class RequestGate:
    def __init__(self, app: ASGIApp, api_key: str | None, max_body_bytes: int) -> None:
        self.app = app
        self.api_key = api_key
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        protected = scope["path"] == PROTECTED_PREFIX or scope["path"].startswith(PROTECTED_PREFIX + "/")
        if protected and not bearer_key_accepted(_header(scope, b"authorization"), self.api_key):
            await error_response(Unauthorized())(scope, receive, send)
            return
        declared = declared_length(scope)
        body = (
            None
            if declared is not None and declared > self.max_body_bytes
            else await read_capped(receive, self.max_body_bytes)
        )
        if body is None:
            too_large = PayloadTooLarge(
                f"Request body too large: at most {self.max_body_bytes:,} bytes (model_service.max_body_bytes)."
            )
            await error_response(too_large)(scope, receive, send)
            return
        await self.app(scope, replaying(body, receive), send)


def _header(scope: Scope, name: bytes) -> str:
    return next((value.decode("latin-1") for key, value in scope["headers"] if key.lower() == name), "")
