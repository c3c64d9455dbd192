"""Bearer-key check for the /v1 routes."""

from __future__ import annotations

import hmac


def bearer_key_accepted(authorization: str, expected: str | None) -> bool:
    """Whether an Authorization header carries `Bearer <expected>` (anything goes when no key is set)."""
    if not expected:
        return True
    scheme, _, token = authorization.partition(" ")
    # compare_digest: the time taken must not tell an attacker how much of the key was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())
