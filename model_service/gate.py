"""What a request must pass before anything reads its body: the key (on /v1) and a size cap.

FastAPI reads and parses a route's body before it runs the route's dependencies, so a key checked
as a dependency let an unauthenticated client make the service read (and hold) a body of any size.
This ASGI middleware answers 401 from the headers alone, 413 from a Content-Length over the cap,
and reads a body without one (chunked) only up to the cap before it answers 413.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        protected = scope["path"] == PROTECTED_PREFIX or scope["path"].startswith(PROTECTED_PREFIX + "/")
        if protected and not bearer_key_accepted(headers.get("authorization", ""), self.api_key):
            await error_response(Unauthorized())(scope, receive, send)
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await error_response(self._too_large())(scope, receive, send)
            return
        body = await self._read_capped(receive)
        if body is None:
            await error_response(self._too_large())(scope, receive, send)
            return
        await self.app(scope, _replaying(body, receive), send)

    async def _read_capped(self, receive: Receive) -> list[Message] | None:
        """The body's messages, or None once they pass the cap (the rest is never read)."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages  # the client left: the app will see the disconnect
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                return None
            if not message.get("more_body", False):
                return messages

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"Request body too large: at most {self.max_body_bytes:,} bytes (model_service.max_body_bytes)."
        )


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then whatever comes next (a disconnect)."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
