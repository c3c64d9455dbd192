"""What the web page refuses before Gradio sees a request: file uploads and oversized bodies.

The page has no file input, yet Gradio serves `POST /gradio_api/upload` (and other multipart routes)
to anyone, storing what it is sent under the system temp folder and serving it back through
`/gradio_api/file=…`: an open file host. Uploads are refused here with 403; every other body
(questions, button presses, the login form) is read only up to `web.max_request_bytes`, else 413.
"""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from common.body_limit import declared_length, read_capped, replaying

# Gradio's routes that take files; any other multipart body is refused too, but for the login form's.
UPLOAD_ROUTES = ("/gradio_api/upload", "/gradio_api/process_recording", "/gradio_api/component_server")
LOGIN_ROUTES = ("/login", "/login/")


class RequestGuard:
    def __init__(self, app: ASGIApp, max_request_bytes: int) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _is_upload(scope):
            await PlainTextResponse("This page takes no file uploads.", status_code=403)(scope, receive, send)
            return
        declared = declared_length(scope)
        too_large = declared is not None and declared > self.max_request_bytes
        body = None if too_large else await read_capped(receive, self.max_request_bytes)
        if body is None:
            refusal = f"Request body too large: at most {self.max_request_bytes:,} bytes."
            await PlainTextResponse(refusal, status_code=413)(scope, receive, send)
            return
        await self.app(scope, replaying(body, receive), send)


def _is_upload(scope: Scope) -> bool:
    path = scope["path"].rstrip("/")
    if any(path == route or path.startswith(route + "/") for route in UPLOAD_ROUTES):
        return True
    content_type = next((value for name, value in scope["headers"] if name.lower() == b"content-type"), b"")
    return content_type.lower().startswith(b"multipart/") and scope["path"] not in LOGIN_ROUTES
