"""Questions answered one after another through the real discord.py bot under SimCord (issue 21), with
a model that answers at once (the fake upstream in its own process) and a real redis-server: so nearly
all the time is the bot's own. Per question: wall time, question -> first text on screen, the bot's time
from the model's last chunk to its final post or edit, and its message calls to Discord. Then replies of
other shapes, one after another, for their message calls: a short streamed one, a 10-second stream, and a
thinking model's (a second of thought, then a short answer).

    .venv/bin/python -m bench.bench_simcord_questions [--questions 200] [--streams 3] [--profile]

SimCord's clock is virtual; the wall time here is the bot's work plus SimCord's own, the same for any
version of the bot, so compare versions run in the same sitting.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import pstats
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import simcord

from bench.harness import percentile, redis_process, upstream_process
from bot.app import create_bot
from bot.game.sse import FinalText
from common.config import validate
from tests.fakes.declared_http import declare_model_waits

QUESTION = "Is it about water?"
REPLY = "Yes. It is about water, in a way."
LONG_TEXT = "No. " + "The weather had nothing to do with what happened that night. " * 4
THOUGHT = "Let me think about whether the story involves water at all, step by step, before answering. " * 2


@dataclass
class Calls:
    """The bot's Discord message calls (posts and edits), stamped when the bot makes them, and when the model's
    last chunk of each reply reached the bot."""

    made: list[float] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)  # each call's text
    last_chunks: list[float] = field(default_factory=list)
    # The same moments in CPU time of the bot's thread (which SimCord shares): its own work between them, without
    # the waits on Redis, on Discord's replies or on the machine to run it.
    made_cpu: list[float] = field(default_factory=list)
    last_chunks_cpu: list[float] = field(default_factory=list)

    def final_after_last_chunk(self) -> tuple[float, float]:
        """The latest reply's final call after its last chunk: in wall time, and in CPU time of the bot's thread."""
        return self.made[-1] - self.last_chunks[-1], self.made_cpu[-1] - self.last_chunks_cpu[-1]


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


def watch(bot: object, calls: Calls) -> None:
    """Stamp every message post/edit as the bot makes it, and every reply's last chunk from the model."""
    http = bot.http  # type: ignore[attr-defined]
    request = http.request

    async def stamped(route: object, **options: object) -> object:
        if getattr(route, "method", "") in ("POST", "PATCH") and "/messages" in getattr(route, "path", ""):
            calls.made.append(time.perf_counter())
            calls.made_cpu.append(time.thread_time())
            body = options.get("json")
            calls.shown.append(str(body.get("content", "")) if isinstance(body, dict) else "")
        return await request(route, **options)

    http.request = stamped
    games = bot.games  # type: ignore[attr-defined]
    stream = games.host.stream

    async def timed(messages: list[dict[str, str]], **options: object) -> AsyncIterator[object]:
        last = last_cpu = 0.0  # when the model's last text reached the bot
        stamped = False
        try:
            async with contextlib.aclosing(stream(messages, **options)) as deltas:
                async for delta in deltas:
                    if isinstance(delta, str) and delta:
                        last, last_cpu = time.perf_counter(), time.thread_time()
                    if isinstance(delta, FinalText) and last:
                        # The model's last event: stamped now, so that asking stops moving the clock (a settle
                        # spinning beside the bot's store and final edit would be the harness's time, not the bot's).
                        calls.last_chunks.append(last)
                        calls.last_chunks_cpu.append(last_cpu)
                        stamped = True
                    yield delta
        finally:  # a stream with no last event (or a bot that reads on to the body's end): stamped at its end
            if last and not stamped:
                calls.last_chunks.append(last)
                calls.last_chunks_cpu.append(last_cpu)

    games.host.stream = timed


async def instant(redis_url: str, count: int, profile: bool) -> None:
    with upstream_process(text=REPLY) as model_url:
        bot = create_bot(config(redis_url, model_url))  # type: ignore[arg-type]
        async with simcord.run(bot) as env:
            guild = env.create_guild()
            channel = guild.create_text_channel("soup")
            alice = guild.add_member(env.create_user("alice"))
            await alice.slash(channel, "play")
            for _ in range(20):  # warm up connections and caches
                await alice.send(channel, QUESTION)
            calls = Calls()
            watch(bot, calls)
            profiler = cProfile.Profile() if profile else None
            if profiler:
                profiler.enable()
            each: list[float] = []
            first_text: list[float] = []
            final_after: list[float] = []
            final_cpu: list[float] = []
            started, cpu = time.perf_counter(), time.process_time()
            for _ in range(count):
                asked = time.perf_counter()
                made_before = len(calls.made)
                await alice.send(channel, QUESTION)
                each.append(time.perf_counter() - asked)
                # The first call that shows the model's text (an older version posts a placeholder first).
                shown = next(i for i in range(made_before, len(calls.made)) if "Yes" in calls.shown[i])
                first_text.append(calls.made[shown] - asked)
                wall_after, cpu_after = calls.final_after_last_chunk()
                final_after.append(wall_after)
                final_cpu.append(cpu_after)
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            if profiler:
                profiler.disable()
        await bot.close()
    print(f"questions: {count}, one after another, instant model, through SimCord")
    print(f"  questions/s                       {count / wall:8.1f}   ({wall / count * 1000:.1f} ms each)")
    print(
        f"  per question p50 / p90 (ms)       {percentile(each, 0.5) * 1000:8.1f} / {percentile(each, 0.9) * 1000:.1f}"
    )
    print(f"  CPU of this process/question      {cpu / count * 1000:8.2f} ms (the bot's and SimCord's)")
    print(f"  questions held >= 45 ms           {sum(1 for seconds in each if seconds >= 0.045) / count:8.0%}")
    print(f"  first text on screen p50 (ms)     {percentile(first_text, 0.5) * 1000:8.2f}")
    print(
        f"  final after last chunk p50 / p99  {percentile(final_after, 0.5) * 1000:8.2f} / "
        f"{percentile(final_after, 0.99) * 1000:.2f} ms"
    )
    print(
        f"  ... of it CPU, p50 / p99            {percentile(final_cpu, 0.5) * 1000:8.2f} / "
        f"{percentile(final_cpu, 0.99) * 1000:.2f} ms (the bot's thread)"
    )
    print(f"  message calls/question            {len(calls.made) / count:8.2f}")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)


def shapes(stream_seconds: float) -> dict[str, dict[str, object]]:
    """Reply shapes, as the fake upstream's process is started for each, four characters a chunk: a short verdict
    streamed over 0.8 s, a long one over `stream_seconds`, and a second of thinking (reasoning_content) before a
    short verdict."""
    thought_pieces = len(THOUGHT) // 4 + 1
    return {
        "short streamed (0.8 s)": {"text": REPLY, "chunk_delay": 0.8 / (len(REPLY) / 4)},
        f"long ({stream_seconds:.0f} s)": {"text": LONG_TEXT, "chunk_delay": stream_seconds / (len(LONG_TEXT) / 4)},
        "thinking (1 s), short answer": {
            "text": "No. Not at all.",
            "thought": THOUGHT,
            "chunk_delay": 1.0 / thought_pieces,
        },
    }


async def streamed(redis_url: str, streams: int, stream_seconds: float) -> None:
    print(f"replies of other shapes, {streams} each, one after another (model in its own process):")
    for name, shape in shapes(stream_seconds).items():
        # The model in a process of its own, as in any deployment: in the bench's process its thread's work at
        # the end of each reply took the GIL from the bot just as the bot stored and showed the reply.
        with upstream_process(**shape) as model_url:  # type: ignore[arg-type]
            bot = create_bot(config(redis_url, model_url))  # type: ignore[arg-type]
            # A settle gives up on timers due within its timeout: shorter than the first post's wait (0.4 s) and the
            # edit interval, so asking returns once the bot waits on the model or on such a timer, and the clock
            # moved below fires them as a live process would. With a longer one, a bot waiting on the model with a
            # deadline (asyncio.wait's timeout) kept the settle, and the ask, going until the whole reply was in:
            # every shape then counted one call, its first post's wait never over on the frozen clock.
            async with simcord.run(bot, settle_timeout=0.3) as env:
                guild = env.create_guild()
                channel = guild.create_text_channel("streams")
                alice = guild.add_member(env.create_user("alice"))
                await alice.slash(channel, "play")
                await declare_model_waits(env, timeout=60)  # the bot's clock follows the wall clock below
                calls = Calls()
                watch(bot, calls)
                await ask_in_real_time(env, alice, channel, calls)  # warm up
                counts: list[int] = []
                final_after: list[float] = []
                final_cpu: list[float] = []
                for _ in range(streams):
                    made_before = len(calls.made)
                    await ask_in_real_time(env, alice, channel, calls)
                    counts.append(len(calls.made) - made_before)
                    wall_after, cpu_after = calls.final_after_last_chunk()
                    final_after.append(wall_after)
                    final_cpu.append(cpu_after)
                print(
                    f"  {name:30s} message calls {sum(counts) / len(counts):5.2f} ({', '.join(map(str, counts))}); "
                    f"final after last chunk p50 {percentile(final_after, 0.5) * 1000:.2f} ms, "
                    f"of it CPU {percentile(final_cpu, 0.5) * 1000:.2f} ms"
                )
            await bot.close()


async def ask_in_real_time(env: simcord.Env, member: object, channel: object, calls: Calls) -> None:
    """Ask, then move the bot's virtual clock along with the wall clock (its timers, such as the first post's
    wait and the edit interval, fire as in a live process) until the reply's last chunk came and the bot settled."""
    replies = len(calls.last_chunks)
    await member.send(channel, QUESTION)  # type: ignore[attr-defined]
    moved = time.perf_counter()
    give_up = moved + 120
    while len(calls.last_chunks) == replies:
        await asyncio.sleep(0.02)
        now = time.perf_counter()
        if now > give_up:
            raise RuntimeError("no reply from the model within 120 s (see the bot's log)")
        with contextlib.suppress(TimeoutError):  # the bot was busy past the short settle timeout: the clock moved
            await env.advance_time(now - moved)
        moved = now
    await env.settle(timeout=30)


async def run(count: int, profile: bool, streams: int, stream_seconds: float) -> None:
    with redis_process() as redis_url:
        await instant(redis_url, count, profile)
        if streams:
            await streamed(redis_url, streams, stream_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--streams", type=int, default=3, help="replies of each other shape (0: none)")
    parser.add_argument("--stream-seconds", type=float, default=10.0)
    parser.add_argument("--profile", action="store_true", help="cProfile the measured questions")
    args = parser.parse_args()
    asyncio.run(run(args.questions, args.profile, args.streams, args.stream_seconds))


if __name__ == "__main__":
    main()
