"""Start the model service on a free loopback port, over the fake upstream or a tiny local model."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from common.config import ModelServiceConfig
from model_service.app import create_app
from model_service.backends.base import Backend
from model_service.server import ServerThread
from tests.fakes.upstream import FakeUpstream

SERVICE_KEY = "svc-key-5f3a9c1e-not-a-real-key"
UPSTREAM_KEY = "sk-upstream-7d2b8e44-not-a-real-key"

StartService = Callable[..., ServerThread]


def openai_config(upstream: FakeUpstream, **overrides: Any) -> ModelServiceConfig:
    settings: dict[str, Any] = {
        "api_key": SERVICE_KEY,
        "backend": "openai",
        "first_token_timeout": 0.5,
        "request_timeout": 5,
        "openai": {"base_url": upstream.base_url, "api_key": UPSTREAM_KEY, "model": "fake-model"},
    }
    openai_overrides = overrides.pop("openai", {})
    settings.update(overrides)
    settings["openai"] = {**settings["openai"], **openai_overrides}
    return ModelServiceConfig.model_validate(settings)


async def wait_until(condition: Callable[[], bool], within: float) -> bool:
    """Poll a condition another thread makes true (a counter on the fake upstream, a backend flag)."""
    deadline = time.monotonic() + within
    while not condition():  # the state lives on another thread: poll it
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def leave_after_first_text(service: ServerThread, body: dict[str, Any]) -> float:
    """Stream a chat completion and hang up as soon as the first text arrives; returns when it left."""
    headers = {"Authorization": f"Bearer {SERVICE_KEY}"}
    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream("POST", f"{service.url}/v1/chat/completions", json=body, headers=headers) as response,
    ):
        async for line in response.aiter_lines():
            if '"content":"' in line and '"role"' not in line:
                break
    return time.monotonic()


@pytest.fixture
def start_service() -> Iterator[StartService]:
    """`start_service(config, backend=None)` runs the app until the test ends."""
    servers: list[ServerThread] = []

    def start(config: ModelServiceConfig, backend: Backend | None = None) -> ServerThread:
        server = ServerThread(create_app(config, backend=backend)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def service(fake_upstream: FakeUpstream, start_service: StartService) -> ServerThread:
    """The service with the openai backend over the fake upstream, short timeouts, key SERVICE_KEY."""
    return start_service(openai_config(fake_upstream))
