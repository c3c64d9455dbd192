"""Shared set-up for the bot's benchmarks: a real redis-server, the fake upstream in its own
process, and the bot's real engine and streaming code drawing into a surface that records
what it would have sent to Discord and when."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection

from bot.game.assembly import build_games
from bot.game.host import ModelHost
from bot.game.puzzles import PuzzleBank, builtin_puzzles
from bot.game.session import GameService, HostReply, Outcome, Player
from bot.redis_client import connect
from bot.streaming import stream_to
from bot.texts import format_reply
from common.config import Config, validate
from tests.fakes.redis_server import RedisServer, free_port

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class RecordingSurface:
    """Stands where Discord would: records each post and edit with its time."""

    events: list[tuple[float, str, str]] = field(default_factory=list)

    async def post(self, content: str, first: bool) -> int:
        self.events.append((time.perf_counter(), "post", content))
        return len(self.events)

    async def edit(self, page: object, content: str) -> object:
        self.events.append((time.perf_counter(), "edit", content))
        return page


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(values: list[float], unit: float = 1000.0) -> str:
    return (
        f"p50 {percentile(values, 0.5) * unit:7.2f}  p99 {percentile(values, 0.99) * unit:7.2f}  "
        f"mean {statistics.fmean(values) * unit:7.2f}"
    )


@contextmanager
def upstream_process(
    text: str = "Yes. It is.", chunk_size: int = 4, chunk_delay: float = 0.0, thought: str = ""
) -> Iterator[str]:
    """The fake upstream in a process of its own, answering every request with `text` (after `thought`, streamed
    as a reasoning model's, when given)."""
    command = ["--text", text, "--chunk-size", str(chunk_size), "--chunk-delay", str(chunk_delay)]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.upstream", *command, *(["--thought", thought] if thought else [])],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:  # open keep-alive streams can hold aiohttp's shutdown
            process.kill()
            process.wait(10)


def start_model_service(workdir: Path, key: str, settings: str, timeout: float) -> tuple[subprocess.Popen[str], str]:
    """`python -m model_service` on a free port, its `model_service` section being `key` plus
    `settings` (YAML lines indented by two spaces); returns once /readyz answers 200."""
    port = free_port()
    config = workdir / "config.yaml"
    config.write_text(f"logging:\n  level: WARNING\nmodel_service:\n  port: {port}\n  api_key: {key}\n{settings}")
    process = subprocess.Popen([sys.executable, "-m", "model_service", "--config", str(config)], cwd=ROOT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as reply:
                if reply.status == 200:
                    return process, url
        except OSError:  # not listening yet, or 503 while the model loads
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise SystemExit("the model service did not start")
        time.sleep(0.1)


@contextmanager
def redis_process() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        server = RedisServer(Path(folder)).start()
        try:
            yield server.url
        finally:
            server.stop()


def bench_config(redis_url: str, model_url: str, **game: object) -> Config:
    return validate(
        {
            "redis": {"url": redis_url},
            "model": {"base_url": model_url, "api_key": "bench", "max_retries": 0},
            # No admission limit unless a benchmark sets one: most measure the work, not the door.
            "game": {"question_cooldown": 0, "max_queued_questions": 1000, "max_questions_in_flight": 100_000, **game},
        },
        "bench",
    )


class RoundTrips:
    """Counts what redis-py writes to the socket: one packed write per command or pipeline."""

    def __init__(self) -> None:
        self.count = 0
        self._original = AbstractConnection.send_packed_command

    def __enter__(self) -> RoundTrips:
        counter = self

        async def counting(connection: AbstractConnection, command: object, check_health: bool = True) -> None:
            counter.count += 1
            await counter._original(connection, command, check_health)

        AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        AbstractConnection.send_packed_command = self._original  # type: ignore[method-assign]


@dataclass
class Bot:
    """The bot's engine as one bot process holds it: one Redis pool, one model client."""

    config: Config
    redis: aioredis.Redis
    host: ModelHost
    games: GameService

    @classmethod
    def build(cls, config: Config) -> Bot:
        client = connect(config.redis, config.game.max_questions_in_flight)  # as bot.app builds it
        host = ModelHost(config.model)
        return cls(config, client, host, build_games(config, client, host, PuzzleBank(builtin_puzzles()), 3600))

    async def close(self) -> None:
        await self.host.close()
        await self.redis.aclose()

    async def ask(
        self, channel_id: int, question: str, surface: RecordingSurface, arrivals: list[float] | None = None
    ) -> HostReply | None:
        """What the cog does for a question message, drawing into `surface`."""
        # As the cog does: the reply's message (here always "message 1") is noted for restarts once shown.
        updates = self.games.ask(channel_id, Player(7, "bench"), question, lambda: (0, 1) if surface.events else None)
        noted = False

        async def note(reply: HostReply) -> None:
            nonlocal noted
            if not noted:
                noted = await self.games.note_shown(reply, 1, 0)

        if arrivals is not None:
            updates = _stamped(updates, arrivals)
        return await stream_to(
            surface,
            updates,
            lambda reply: format_reply(reply, "en"),
            self.config.stream.edit_interval,
            lambda reply: reply.done,
            lambda reply: reply.placeholder,
            first_wait=self.config.stream.first_post_wait,
            ends_wait=lambda reply: reply.thinking is not None or reply.outcome is Outcome.QUEUED,
            on_shown=note,
        )


async def _stamped(updates: AsyncIterator[HostReply], arrivals: list[float]) -> AsyncIterator[HostReply]:
    async for update in updates:
        arrivals.append(time.perf_counter())
        yield update
