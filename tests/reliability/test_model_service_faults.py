"""The model service process killed mid-stream, then restarted, under a live game."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.bot.test_game_flow import bot_replies, start_game
from tests.bot_fixtures import Table
from tests.fakes.redis_server import free_port
from tests.fakes.redis_state import only_game, transcript
from tests.fakes.upstream import FakeUpstream, Reply

SERVICE_PORT = free_port()


class ServiceProcess:
    """`python -m model_service` as its own process, relaying to the fake upstream."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "model_service", "--config", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{SERVICE_PORT}/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("model service did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def model_service(tmp_path: Path, fake_upstream: FakeUpstream) -> Iterator[ServiceProcess]:
    config = tmp_path / "service.yaml"
    config.write_text(
        f"model_service:\n  port: {SERVICE_PORT}\n  api_key: service-key\n"
        f"  openai: {{base_url: '{fake_upstream.base_url}', api_key: upstream-key, model: fake-model}}\n",
        encoding="utf-8",
    )
    service = ServiceProcess(config)
    service.start()
    yield service
    if service.process is not None and service.process.poll() is None:
        service.kill()


@pytest.fixture
def config_overrides() -> dict[str, dict]:
    return {
        "model": {
            "base_url": f"http://127.0.0.1:{SERVICE_PORT}/v1",
            "api_key": "service-key",
            "max_retries": 0,
            "first_token_timeout": 3,
        }
    }


async def test_service_killed_mid_stream_then_restarted(
    table: Table, fake_upstream: FakeUpstream, model_service: ServiceProcess, redis_url: str
) -> None:
    await start_game(table)
    first_chunk_sent = threading.Event()

    def slow_and_doomed(body: dict) -> Reply:
        threading.Timer(0.4, first_chunk_sent.set).start()
        return Reply.text("Yes, and what is more the man was", size=4, chunk_delay=0.15)

    fake_upstream.responder = slow_and_doomed
    killer = threading.Thread(target=lambda: (first_chunk_sent.wait(10), model_service.kill()))
    killer.start()
    await table.alice.send(table.channel, "Was he alone?")
    killer.join()

    shown = bot_replies(table)[-1].content
    assert shown.startswith("Yes") and "Interrupted" in shown and "⏳" not in shown
    assert (await only_game(redis_url))["status"] == "active"  # the game is intact
    assert await transcript(redis_url) == []  # the broken answer was not counted

    model_service.start()
    fake_upstream.responder = None
    fake_upstream.default = Reply.text("No.")
    await table.alice.send(table.channel, "Was he alone?")
    assert bot_replies(table)[-1].content == "❌ No."
    assert len(await transcript(redis_url)) == 1
