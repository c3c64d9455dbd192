"""Edit cadence: replies streamed over 1 to 30 seconds, edits issued against the ideal
(duration / edit_interval + 1), Discord's edit rate limit (5 per 5 s per channel), and the delay
from the last token to the final edit.

    .venv/bin/python bench/bench_edit_cadence.py [--durations 1 2 5 10 30]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.harness import Bot, RecordingSurface, bench_config, redis_process
from bot.game.session import HostReply, Player
from tests.fakes.upstream import FakeUpstream, Reply

CHUNK_EVERY = 0.05  # a token stream of 20 chunks per second
RATE_WINDOW, RATE_LIMIT = 5.0, 5


def busiest_window(times: list[float]) -> int:
    return max((sum(1 for t in times if start <= t < start + RATE_WINDOW) for start in times), default=0)


async def one_reply(bot: Bot, channel: int, seconds: float) -> dict[str, float]:
    surface = RecordingSurface()
    arrivals: list[tuple[float, HostReply]] = []
    await bot.games.start(channel, Player(1, "starter"))
    updates = bot.games.ask(channel, Player(2, "asker"), f"duration {seconds}")

    async def stamped():
        async for update in updates:
            arrivals.append((time.perf_counter(), update))
            yield update

    from bot.streaming import stream_to
    from bot.texts import format_reply

    await stream_to(
        surface,
        stamped(),
        lambda r: format_reply(r, "en"),
        bot.config.stream.edit_interval,
        lambda r: r.done,
        lambda r: r.placeholder,
        first_wait=bot.config.stream.first_post_wait,  # as the cog streams
    )
    last_token = max(at for at, update in arrivals if not update.done and update.text)
    writes = [at for at, kind, _ in surface.events if kind == "edit"]  # the post is another bucket
    edits = sum(1 for _, kind, _ in surface.events if kind == "edit")
    return {
        "seconds": seconds,
        "edits": edits,
        "ideal": seconds / bot.config.stream.edit_interval + 1,
        "busiest": busiest_window(writes),
        "final_delay_ms": (surface.events[-1][0] - last_token) * 1000,
    }


async def run(durations: list[float]) -> None:
    upstream = FakeUpstream().start()

    def reply(body: dict) -> Reply:
        seconds = float(body["messages"][-1]["content"].split()[1])
        chunks = max(1, round(seconds / CHUNK_EVERY))
        return Reply(chunks=["Yes."] + [f" w{i}" for i in range(chunks - 1)], chunk_delay=CHUNK_EVERY)

    upstream.responder = reply
    try:
        with redis_process() as redis_url:
            bot = Bot.build(bench_config(redis_url, upstream.base_url))
            try:
                results = await asyncio.gather(*(one_reply(bot, 100 + i, d) for i, d in enumerate(durations)))
            finally:
                await bot.close()
    finally:
        upstream.stop()
    print(f"edit_interval {1.0:.1f} s, one chunk every {CHUNK_EVERY * 1000:.0f} ms, replies run concurrently")
    print(f"{'stream (s)':>10} {'edits':>6} {'ideal':>6} {'max edits/5 s':>15} {'last token -> final edit (ms)':>30}")
    for r in results:
        print(
            f"{r['seconds']:>10.0f} {r['edits']:>6.0f} {r['ideal']:>6.1f} {r['busiest']:>15.0f} "
            f"{r['final_delay_ms']:>30.2f}"
        )
    limited = sum(1 for r in results if r["busiest"] > RATE_LIMIT)
    worst = max(r["final_delay_ms"] for r in results)
    print(f"replies that would meet Discord's edit rate limit: {limited} (target 0)")
    print(f"worst last-token -> final edit: {worst:.2f} ms (target < 100 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--durations", type=float, nargs="+", default=[1, 2, 5, 10, 30])
    asyncio.run(run(parser.parse_args().durations))


if __name__ == "__main__":
    main()
