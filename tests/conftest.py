"""Shared fixtures: a real redis-server and a fake OpenAI-compatible upstream, both on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.game.meaning import default_encoder
from tests.fakes.redis_proxy import RedisProxy
from tests.fakes.redis_server import RedisServer
from tests.fakes.upstream import FakeUpstream

pytest_plugins = ["tests.bot_fixtures"]


@pytest.fixture(scope="session", autouse=True)
def sentence_encoder() -> None:
    """The real embedding model judges by meaning in every game; it loads once per test session, here,
    not inside the first test's reply (where SimCord's settle deadline would count its second)."""
    default_encoder().encode(["warm up"])


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(Path(tmp_path_factory.mktemp("redis"))).start()
    yield server
    server.stop()


@pytest.fixture
async def redis_url(redis_server: RedisServer) -> AsyncIterator[str]:
    """The test Redis, flushed before each test."""
    client = aioredis.from_url(redis_server.url)
    await client.flushall()
    await client.aclose()
    yield redis_server.url


@pytest.fixture
def redis_proxy(redis_server: RedisServer, redis_url: str) -> Iterator[RedisProxy]:
    """A proxy in front of the test's (flushed) redis-server that can hold a chosen command
    (tests/fakes/redis_proxy.py); a module routes its bot through it by overriding `bot_settings`."""
    proxy = RedisProxy(redis_server.port).start()
    yield proxy
    proxy.stop()


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A client of the test's redis-server, to read what the code under test stored."""
    connection = aioredis.from_url(redis_url, decode_responses=True)
    yield connection
    await connection.aclose()


@pytest.fixture(scope="session")
def upstream_server() -> Iterator[FakeUpstream]:
    server = FakeUpstream().start()
    yield server
    server.stop()


@pytest.fixture
def fake_upstream(upstream_server: FakeUpstream) -> FakeUpstream:
    """The fake OpenAI-compatible upstream, with scripts and records cleared."""
    upstream_server.reset()
    return upstream_server
