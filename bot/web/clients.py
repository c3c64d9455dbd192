"""Who a browser request comes from, for the per-address limits.

Without a proxy it is the connection's peer address. Behind a reverse proxy every connection comes
from the proxy, so `web.trusted_proxy_header` names the header the proxy sets. For a list header
(X-Forwarded-For) the last entry is the one the trusted proxy appended; any earlier entry is the
client's own say and is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping

UNKNOWN = "unknown"
MAX_ADDRESS_CHARACTERS = 100  # an IPv6 address with a zone fits; a made-up header is cut to this


def client_address(peer: str | None, headers: Mapping[str, str], trusted_header: str | None) -> str:
    """The address limits are counted against."""
    if trusted_header:
        value = headers.get(trusted_header.lower()) or headers.get(trusted_header)
        if value:
            entries = [entry.strip() for entry in value.split(",") if entry.strip()]
            if entries:
                return entries[-1][:MAX_ADDRESS_CHARACTERS]
    return (peer or UNKNOWN)[:MAX_ADDRESS_CHARACTERS]
