"""Throughput and scale: questions per second one bot process sustains across many active
channels with an instant model; CPU per question; Redis round trips and commands per question;
Redis memory per game with a full transcript.

    .venv/bin/python bench/bench_throughput.py [--channels 1000] [--per-channel 3]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import redis.asyncio as aioredis

from bench.harness import Bot, RecordingSurface, RoundTrips, bench_config, redis_process, upstream_process
from bot.game.puzzles import PuzzleBank
from bot.game.session import Outcome, Player
from bot.game.store import Exchange

QUESTION = "Did the man know the bartender before that night?"
REPLY = "No. They had never met before."


async def commands_processed(client: aioredis.Redis) -> int:
    return int((await client.info("stats"))["total_commands_processed"])


async def throughput(bot: Bot, channels: int, per_channel: int) -> None:
    for channel in range(1, channels + 1):
        await bot.games.start(channel, Player(1, "starter"))
    # Warm up: one question in each of a few channels opens connections and fills caches.
    await asyncio.gather(
        *(bot.ask(channel, QUESTION, RecordingSurface()) for channel in range(1, min(channels, 50) + 1))
    )

    async def channel_questions(channel: int) -> list:
        return await asyncio.gather(*(bot.ask(channel, QUESTION, RecordingSurface()) for _ in range(per_channel)))

    before_commands = await commands_processed(bot.redis)
    with RoundTrips() as trips:
        cpu, wall = time.process_time(), time.perf_counter()
        results = await asyncio.gather(*(channel_questions(c) for c in range(1, channels + 1)))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    commands = await commands_processed(bot.redis) - before_commands - 1
    answered = sum(1 for batch in results for reply in batch if reply and reply.outcome is Outcome.ANSWERED)
    total = channels * per_channel
    print(f"questions: {total} ({per_channel} in each of {channels} active channels, all at once)")
    print(f"answered: {answered}")
    print(f"wall: {wall:.2f} s -> {total / wall:.0f} questions/s, with the fake model and Redis on the same 2 cores")
    print(
        f"bot process CPU: {cpu:.2f} s -> {cpu / total * 1000:.2f} ms per question "
        f"-> {total / cpu:.0f} questions/s for one process on a core of its own (target >= 200)"
    )
    print(f"Redis round trips per question: {trips.count / total:.2f} (target <= 3)")
    print(f"Redis commands per question: {commands / total:.2f}")


async def memory_per_game(bot: Bot) -> None:
    """Measured on the built-in puzzle with the most text: the worst case."""
    channel = 999_999
    largest = max(bot.games.bank.by_id.values(), key=lambda p: len((p.title + p.story + p.answer).encode()))
    bot.games.bank = PuzzleBank([largest])
    game = await bot.games.start(channel, Player(1, "starter"))
    cap = bot.config.game.transcript_cap
    for index in range(cap + 5):
        exchange = Exchange(f"{QUESTION} ({index})", REPLY, "no", 123456789012345678, time.time())
        await bot.games.store.append(game, exchange)
    keys = bot.games.store.keys(channel)
    sizes = [await bot.redis.memory_usage(key, samples=0) or 0 for key in keys]  # exact, not sampled
    print(
        f"Redis memory per game with a full transcript ({cap} exchanges, largest puzzle {largest.id}): "
        f"{sum(sizes)} bytes "
        f"(game hash {sizes[0]}, transcript {sizes[1]}, recent puzzles {sizes[2]}; target < 8192)"
    )


async def run(channels: int, per_channel: int) -> None:
    with redis_process() as redis_url, upstream_process(text=REPLY, chunk_size=8) as model_url:
        bot = Bot.build(bench_config(redis_url, model_url))
        try:
            await throughput(bot, channels, per_channel)
            await memory_per_game(bot)
        finally:
            await bot.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--per-channel", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.channels, args.per_channel))


if __name__ == "__main__":
    main()
