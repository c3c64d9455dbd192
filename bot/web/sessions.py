"""Browser sessions: each is a game channel of its own, in a range of ids no Discord channel uses.

Channel ids in the one Redis all surfaces share:
  Discord channels           1 … 2**63 - 1  (snowflakes are positive)
  terminal play (bot.play)   -1 … -2**62
  browser sessions           -(2**62 + 1) … -(2**63 - 1)

The browser keeps only a random session token (in its local storage); the channel id is derived
from it with SHA-256, so a client can neither pick another session's channel nor learn anything
from its token but its own game. The game itself expires like a channel's game.
"""

from __future__ import annotations

import hashlib
import re
import secrets

WEB_CHANNEL_BASE = 2**62  # ids start just below -WEB_CHANNEL_BASE, after terminal play's range
WEB_CHANNEL_SPAN = 2**62 - 1  # so the lowest id is -(2**63 - 1), still a signed 64-bit number
TOKEN_BYTES = 24
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")  # what new_token() makes: 24 bytes, URL-safe base64


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def valid_token(token: object) -> bool:
    return isinstance(token, str) and _TOKEN.fullmatch(token) is not None


def channel_for(token: str) -> int:
    """The session's channel id: always in the browser range, the same for the same token."""
    digest = int.from_bytes(hashlib.sha256(token.encode("ascii")).digest()[:8], "big")
    return -(WEB_CHANNEL_BASE + 1 + digest % WEB_CHANNEL_SPAN)


def is_web_channel(channel_id: int) -> bool:
    return -(WEB_CHANNEL_BASE + WEB_CHANNEL_SPAN) <= channel_id <= -(WEB_CHANNEL_BASE + 1)
