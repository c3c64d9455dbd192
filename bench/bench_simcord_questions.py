"""Questions answered one after another through the real discord.py bot under SimCord (issue 21), with
a model that answers at once (the fake upstream in its own process) and a real redis-server: so nearly
all the time is the bot's own. Per question: wall time, and the bot's message calls to Discord.

    .venv/bin/python -m bench.bench_simcord_questions [--questions 200] [--profile]

SimCord's clock is virtual; the wall time here is the bot's work plus SimCord's own, the same for any
version of the bot, so compare versions run in the same sitting.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time

import simcord

from bench.harness import percentile, redis_process, upstream_process
from bot.app import create_bot
from common.config import validate

QUESTION = "Is it about water?"
REPLY = "Yes. It is about water, in a way."


def config(redis_url: str, model_url: str) -> object:
    return validate(
        {
            "discord": {"token": "unused-under-simcord", "shard_count": 1},
            "redis": {"url": redis_url},
            "model": {"base_url": model_url, "api_key": "bench", "max_retries": 0},
            "game": {"question_cooldown": 0},
        },
        "bench",
    )


async def run(count: int, profile: bool) -> None:
    with redis_process() as redis_url, upstream_process(text=REPLY) as model_url:
        bot = create_bot(config(redis_url, model_url))  # type: ignore[arg-type]
        async with simcord.run(bot) as env:
            guild = env.create_guild()
            channel = guild.create_text_channel("soup")
            alice = guild.add_member(env.create_user("alice"))
            await alice.slash(channel, "play")
            for _ in range(20):  # warm up connections and caches
                await alice.send(channel, QUESTION)
            calls_before = _message_calls(env, channel.id)
            profiler = cProfile.Profile() if profile else None
            if profiler:
                profiler.enable()
            each: list[float] = []
            started = time.perf_counter()
            for _ in range(count):
                asked = time.perf_counter()
                await alice.send(channel, QUESTION)
                each.append(time.perf_counter() - asked)
            wall = time.perf_counter() - started
            if profiler:
                profiler.disable()
            calls = _message_calls(env, channel.id) - calls_before
        await bot.close()
    print(f"questions: {count}, one after another, instant model, through SimCord")
    print(f"  questions/s                 {count / wall:8.1f}   ({wall / count * 1000:.1f} ms each)")
    print(f"  per question p50 / p90 (ms) {percentile(each, 0.5) * 1000:8.1f} / {percentile(each, 0.9) * 1000:.1f}")
    print(f"  questions held >= 45 ms     {sum(1 for seconds in each if seconds >= 0.045) / count:8.0%}")
    print(f"  message calls/question      {calls / count:8.2f}")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)


def _message_calls(env: simcord.Env, channel_id: int) -> int:
    prefix = f"/channels/{channel_id}/messages"
    return sum(
        1 for request in env.http_requests if request.method in ("POST", "PATCH") and request.path.startswith(prefix)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="cProfile the measured questions")
    args = parser.parse_args()
    asyncio.run(run(args.questions, args.profile))


if __name__ == "__main__":
    main()
