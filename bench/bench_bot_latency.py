"""Added latency: question arriving -> first edit carrying the model's first token, minus the
model's own time to first token (same client, same instant fake upstream, measured in the same run).

    .venv/bin/python bench/bench_bot_latency.py [--questions 500]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from bench.harness import Bot, RecordingSurface, bench_config, percentile, redis_process, summary, upstream_process
from bot.game.session import GameAlreadyRunning, Player
from bot.game.structured import VerdictForm
from bot.game.thinking import Thinking

REPLY = "Yes. It is."


async def model_ttft(bot: Bot, samples: int) -> list[float]:
    """The model's own time to first token, as the bot's client sees it."""
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        stream = await bot.host.client.chat.completions.create(
            model="bench", messages=[{"role": "user", "content": "Is it about water?"}], stream=True
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                times.append(time.perf_counter() - started)
                break
        await stream.close()
    return times


def time_the_model(bot: Bot, model_times: list[float]) -> None:
    """Wrap the bot's model stream to time, per question, the request to its first delta."""
    stream = bot.host.stream

    async def timed(
        messages: list[dict[str, str]], verdict: VerdictForm | None = None
    ) -> AsyncIterator[str | Thinking]:
        started = time.perf_counter()
        first = True
        async with contextlib.aclosing(stream(messages, verdict=verdict)) as deltas:
            async for delta in deltas:
                if first:
                    model_times.append(time.perf_counter() - started)
                    first = False
                yield delta

    bot.host.stream = timed  # type: ignore[method-assign]


async def pipeline(bot: Bot, samples: int, channels: int) -> tuple[list[float], list[float]]:
    """Per question: arrival -> first edit with model text, and the part of it the model took."""
    for channel in range(1, channels + 1):
        with contextlib.suppress(GameAlreadyRunning):
            await bot.games.start(channel, Player(1, "starter"))
    totals: list[float] = []
    model: list[float] = []
    for index in range(samples):
        surface = RecordingSurface()
        started = time.perf_counter()
        await bot.ask(1 + index % channels, "Is it about water?", surface)
        first_text = next(at for at, _, content in surface.events if "Yes" in content)
        totals.append(first_text - started)
    return totals, model


async def run(questions: int) -> None:
    with redis_process() as redis_url, upstream_process(text=REPLY) as model_url:
        bot = Bot.build(bench_config(redis_url, model_url))
        model: list[float] = []
        time_the_model(bot, model)
        try:
            await pipeline(bot, 50, 10)  # warm up connections and caches
            await model_ttft(bot, 50)
            model.clear()
            # Interleave the two measurements so drift on a shared machine hits both alike.
            direct, total = [], []
            for _ in range(10):
                direct += await model_ttft(bot, questions // 10)
                total += (await pipeline(bot, questions // 10, 50))[0]
        finally:
            await bot.close()
    added = [whole - part for whole, part in zip(total, model, strict=True)]
    print(f"questions: {len(total)} (sequential, 50 channels), model: instant fake upstream in its own process")
    print(f"model time to first token (ms):         {summary(direct)}")
    print(f"question -> first token edit (ms):      {summary(total)}")
    print(f"  of which the model request (ms):      {summary(model)}")
    print(f"added by the bot, per question (ms):    {summary(added)}")
    added50, added99 = percentile(added, 0.5), percentile(added, 0.99)
    print(
        f"targets: p50 < 15 ms {'met' if added50 < 0.015 else 'MISSED'}, "
        f"p99 < 50 ms {'met' if added99 < 0.050 else 'MISSED'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(run(args.questions))


if __name__ == "__main__":
    main()
