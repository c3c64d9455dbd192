"""Throughput and scale: questions per second one bot process sustains across many active
channels with an instant model; CPU per question; Redis round trips and commands per question;
Redis memory per game with a full transcript.

    .venv/bin/python -m bench.bench_throughput [--channels 1000] [--per-channel 3]

Overload under contention: the same burst with a CPU hog on the bot's core (the bot is pinned to
one core and shares it with a busy loop, as on a busy host); counts answered, stored, refused at
the door and answered-but-not-saved, and times the final edit and the refusals:

    .venv/bin/python -m bench.bench_throughput --contention [--in-flight 256] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import redis.asyncio as aioredis

from bench.harness import (
    Bot,
    RecordingSurface,
    RoundTrips,
    bench_config,
    percentile,
    redis_process,
    upstream_process,
)
from bot.game.puzzles import PuzzleBank
from bot.game.session import Outcome, Overloaded, Player
from bot.game.store import Exchange
from common.config import GameConfig

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
    game = await bot.games.start(channel, Player(1, "starter"), largest.language)
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


async def timed_question(bot: Bot, channel: int) -> tuple[str, float]:
    """One question as the cog handles it: how it ended and how long until its final edit."""
    started = time.perf_counter()
    try:
        reply = await bot.ask(channel, QUESTION, RecordingSurface())
    except Overloaded:
        return "refused", time.perf_counter() - started
    outcome = reply.outcome.value if reply is not None else "none"
    return outcome, time.perf_counter() - started


async def stored_exchanges(bot: Bot, channels: int) -> int:
    total = 0
    for channel in range(1, channels + 1):
        total += await bot.redis.llen(bot.games.store.keys(channel)[1])
    return total


async def overload(bot: Bot, channels: int, per_channel: int) -> None:
    for channel in range(1, channels + 1):
        await bot.games.start(channel, Player(1, "starter"))
    questions = [channel for channel in range(1, channels + 1) for _ in range(per_channel)]
    results = await asyncio.gather(*(timed_question(bot, channel) for channel in questions), return_exceptions=True)
    errors = [result for result in results if isinstance(result, BaseException)]
    timed = [result for result in results if not isinstance(result, BaseException)]
    outcomes = Counter(outcome for outcome, _ in timed)
    answered = [seconds for outcome, seconds in timed if outcome == Outcome.ANSWERED.value]
    refused = [seconds for outcome, seconds in timed if outcome == "refused"]
    stored = await stored_exchanges(bot, channels)
    print(f"questions: {len(questions)} ({per_channel} in each of {channels} channels, all at once)")
    print(f"in-flight limit: {bot.config.game.max_questions_in_flight}")
    print(
        f"answered and stored: {outcomes[Outcome.ANSWERED.value]}  stored in Redis: {stored}  "
        f"refused at the door: {len(refused)}  answered but not saved: {outcomes[Outcome.NOT_SAVED.value]}  "
        f"errors: {len(errors)}  other: {dict((k, v) for k, v in outcomes.items() if k not in ('answered', 'refused'))}"
    )
    if answered:
        print(
            f"time to final edit (answered): p50 {percentile(answered, 0.5) * 1000:.0f} ms  "
            f"p99 {percentile(answered, 0.99) * 1000:.0f} ms"
        )
    if refused:
        print(
            f"time to refusal: p50 {percentile(refused, 0.5) * 1000:.1f} ms  p99 "
            f"{percentile(refused, 0.99) * 1000:.1f} ms  max {max(refused) * 1000:.1f} ms (target < 100 ms)"
        )
    for error in errors[:3]:
        print(f"error: {type(error).__name__}: {error}")


@contextmanager
def cpu_hog(core: int) -> Iterator[None]:
    """A busy loop pinned to `core`, and this process moved onto it too: the bot gets about half a core."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    os.sched_setaffinity(hog.pid, {core})
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
        hog.kill()
        hog.wait()


async def run(channels: int, per_channel: int, contention: bool, in_flight: int | None, runs: int) -> None:
    with redis_process() as redis_url, upstream_process(text=REPLY, chunk_size=8) as model_url:
        if not contention:
            bot = Bot.build(bench_config(redis_url, model_url))
            try:
                await throughput(bot, channels, per_channel)
                await memory_per_game(bot)
            finally:
                await bot.close()
            return
        limit = in_flight or GameConfig.model_fields["max_questions_in_flight"].default
        # Redis and the fake model started above keep both cores; only the bot shares its core.
        with cpu_hog(core=0):
            for run_number in range(1, runs + 1):
                print(f"-- run {run_number} of {runs}, bot pinned to core 0 beside a busy loop")
                bot = Bot.build(bench_config(redis_url, model_url, max_questions_in_flight=limit))
                try:
                    await bot.redis.flushdb()
                    await overload(bot, channels, per_channel)
                finally:
                    await bot.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--per-channel", type=int, default=3)
    parser.add_argument("--contention", action="store_true", help="the overload run, beside a CPU hog")
    parser.add_argument("--in-flight", type=int, help="game.max_questions_in_flight (default: the config default)")
    parser.add_argument("--runs", type=int, default=1, help="overload runs in a row (with --contention)")
    args = parser.parse_args()
    asyncio.run(run(args.channels, args.per_channel, args.contention, args.in_flight, args.runs))


if __name__ == "__main__":
    main()
