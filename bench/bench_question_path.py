"""The bot's own path per question (issue 21): questions answered one after another with a model that
answers at once, and replies streamed over a few seconds. Per question: wall time, question -> first
model text on screen, final edit after the model's last chunk, Discord message calls (posts + edits),
and Redis round trips.

    .venv/bin/python -m bench.bench_question_path [--questions 300] [--stream-seconds 10 --streams 3] [--tables 5]

Runs on the bench harness (the bot's real engine and streaming code, a real redis-server, the fake
upstream in its own process, a surface that records what would go to Discord), so it can also be run
from an older checkout of the project to compare before/after in one sitting.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextvars import ContextVar

from bench.harness import Bot, RecordingSurface, RoundTrips, bench_config, percentile, redis_process, upstream_process
from bot.game.session import GameAlreadyRunning, Player

QUESTION = "Is it about water?"
REPLY = "Yes. It is about water, in a way."


# Where a question's task notes its model stream's last delta (the stream may be read from tasks it starts).
LAST_CHUNK: ContextVar[list[float]] = ContextVar("last_chunk")


def time_last_chunk(bot: Bot) -> None:
    """Wrap the model stream (once) to note, per question, when its last delta reached the bot."""
    stream = bot.host.stream
    if getattr(stream, "timed", False):
        return

    async def timed(messages: list[dict[str, str]], **options: object) -> AsyncIterator[object]:
        last = None
        try:
            async with contextlib.aclosing(stream(messages, **options)) as deltas:  # type: ignore[arg-type]
                async for delta in deltas:
                    last = time.perf_counter()
                    yield delta
        finally:  # also when the bot closes the stream at its last text, before the body's end is read
            if last is not None:
                LAST_CHUNK.get().append(last)

    timed.timed = True  # type: ignore[attr-defined]
    bot.host.stream = timed  # type: ignore[method-assign,assignment]


async def questions(bot: Bot, count: int, channels: int, tables: int = 1) -> dict[str, float]:
    """`count` questions over `channels` channels; `tables` channels ask at the same time, each one question
    after another."""
    for channel in range(1, max(channels, tables) + 1):
        with contextlib.suppress(GameAlreadyRunning):
            await bot.games.start(channel, Player(1, "starter"))
    time_last_chunk(bot)
    first_text: list[float] = []
    final_after: list[float] = []
    calls = 0

    async def table(number: int, asked: int) -> None:
        nonlocal calls
        for index in range(asked):
            surface = RecordingSurface()
            last_chunk: list[float] = []
            LAST_CHUNK.set(last_chunk)
            started = time.perf_counter()
            channel = 1 + (index % channels if tables == 1 else number)
            await bot.ask(channel, QUESTION, surface)
            first_text.append(next(at for at, _, content in surface.events if "Yes" in content) - started)
            final_after.append(surface.events[-1][0] - last_chunk[-1])
            calls += len(surface.events)

    with RoundTrips() as trips:
        started_all = time.perf_counter()
        await asyncio.gather(*(table(number, count // tables) for number in range(tables)))
        wall = time.perf_counter() - started_all
    asked = count // tables * tables
    return {
        "questions/s": asked / wall,
        "first text p50 ms": percentile(first_text, 0.5) * 1000,
        "final after last chunk p50 ms": percentile(final_after, 0.5) * 1000,
        "final after last chunk p99 ms": percentile(final_after, 0.99) * 1000,
        "message calls/question": calls / asked,
        "redis round trips/question": trips.count / asked,
    }


async def run(count: int, stream_seconds: float, streams: int, tables: int) -> None:
    with redis_process() as redis_url:
        with upstream_process(text=REPLY) as model_url:
            bot = Bot.build(bench_config(redis_url, model_url))
            try:
                await questions(bot, 30, 10)  # warm up connections and caches
                print("instant model, one question after another:")
                for name, value in (await questions(bot, count, 10)).items():
                    print(f"  {name:32s} {value:9.2f}")
                if tables > 1:
                    print(f"instant model, {tables} tables at once, each one question after another:")
                    for name, value in (await questions(bot, count, 10, tables)).items():
                        print(f"  {name:32s} {value:9.2f}")
            finally:
                await bot.close()
        # One chunk of four characters every `delay` s: a reply of `stream_seconds`.
        text = "Yes. " + "He was in a hurry, and the bartender saw why. " * 4
        delay = stream_seconds / (len(text) / 4)
        with upstream_process(text=text, chunk_delay=delay) as model_url:
            bot = Bot.build(bench_config(redis_url, model_url))
            try:
                print(f"a {stream_seconds:.0f}-second stream, {streams} one after another:")
                for name, value in (await questions(bot, streams, 1)).items():
                    if name != "questions/s":
                        print(f"  {name:32s} {value:9.2f}")
            finally:
                await bot.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--stream-seconds", type=float, default=10.0)
    parser.add_argument("--streams", type=int, default=3)
    parser.add_argument("--tables", type=int, default=5, help="tables asking at once in a second round (1: none)")
    args = parser.parse_args()
    asyncio.run(run(args.questions, args.stream_seconds, args.streams, args.tables))


if __name__ == "__main__":
    main()
