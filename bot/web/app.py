"""The web server: the engine (Redis, the model client, the puzzle bank) and the page, in one app."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import gradio as gr
from fastapi import FastAPI

from bot.game.assembly import build_games, load_configured_bank
from bot.game.host import ModelHost
from bot.game.meaning import warm_up
from bot.redis_client import connect
from bot.web.game import WebGames
from bot.web.guard import RequestGuard
from bot.web.limits import AddressLimits, RateLimiter
from bot.web.page import PAGE_CSS, build_page
from bot.web.texts import web_text
from common.config import Config

log = logging.getLogger(__name__)


def create_app(config: Config) -> FastAPI:
    """The page at /, over a GameService like the bot's; the clients close when the server stops.

    Games expire after game.expire_after_days, like a channel's."""
    bank = load_configured_bank(config)
    client = connect(config.redis)
    host = ModelHost(config.model)
    games = build_games(config, client, host, bank)
    addresses = AddressLimits.of(config.web.actions_per_minute_per_address, config.web.new_games_per_hour_per_address)
    web = WebGames(games, RateLimiter(config.web.actions_per_minute), addresses)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            await asyncio.to_thread(warm_up)  # before the first request, not during a player's first solve
            yield
        finally:
            await host.close()
            await client.aclose()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(RequestGuard, max_request_bytes=config.web.max_request_bytes)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    language = config.game.default_language
    return gr.mount_gradio_app(
        app,
        build_page(web, config),
        path="/",
        auth=_password_check(config.web.secret) if config.web.auth == "secret" else None,
        auth_message=web_text(language, "login") if config.web.auth == "secret" else None,
        show_error=False,
        css=PAGE_CSS,
        footer_links=[],
        mcp_server=False,
    )


def _password_check(secret: str | None) -> Callable[[str, str], bool]:
    """Any name; the password must be the shared secret (compared in constant time)."""
    assert secret, "auth: secret needs web.secret (checked at start-up)"
    expected = secret.encode()

    def check(_: str, password: str) -> bool:
        return secrets.compare_digest(password.encode(), expected)

    return check
