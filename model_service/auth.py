"""Bearer-key check for the /v1 routes."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from starlette.requests import Request

from model_service.errors import Unauthorized


def bearer_key_checker(expected: str | None) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency that accepts only `Authorization: Bearer <expected>` (no check when None)."""
    expected_bytes = expected.encode() if expected else None

    async def check(request: Request) -> None:
        if expected_bytes is None:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        # compare_digest: the time taken must not tell an attacker how much of the key was right.
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected_bytes):
            raise Unauthorized()

    return check
