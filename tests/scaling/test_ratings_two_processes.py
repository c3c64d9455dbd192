"""Rating buttons clicked in two bot processes at once on one Redis: each player's vote is counted once,
whichever process receives the click. (The rating scripts on a Redis Cluster: test_redis_cluster.)"""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import redis
import simcord

from bot.rating_views import RateButton
from tests.bot.test_game_flow import start_game
from tests.bot.test_ratings import DOWN, UP, buttons
from tests.bot_fixtures import Table
from tests.fakes.upstream import FakeUpstream, Reply
from tests.scaling.test_two_bot_processes import OtherProcess


def click_there(game_id: str, vote: str) -> Any:
    """The same reveal as the other process sees it (its world has its own copy of the message): bob clicks."""

    async def action(env: simcord.Env, world: dict) -> str:
        view = discord.ui.View(timeout=None)
        view.add_item(RateButton(game_id, vote))
        channel = env.bot.get_channel(world["channel"].id)
        message = await channel.send("the reveal, as seen there", view=view)
        result = await world["bob"].click(message, custom_id=f"rate:{game_id}:{vote}")
        return result.response.content

    return action


async def test_votes_from_two_processes_count_once(
    table: Table, other_process: OtherProcess, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await start_game(table)
    fake_upstream.default = Reply.text("No.")
    await table.alice.send(table.channel, "Was it about money?")
    await table.bob.send(table.channel, "Was it night?")
    revealed = (await table.alice.slash(table.channel, "stop")).response
    assert revealed is not None
    here_up = buttons(revealed)[UP]
    game_id = here_up.split(":")[1]

    # bob clicks 👍 in both processes at the same moment: one vote.
    here, there = await asyncio.gather(
        table.bob.click(revealed, custom_id=here_up), other_process.run(click_there(game_id, "up"))
    )
    told = sorted([here.response.content, there])
    assert told[0].startswith("Thanks! Your 👍") and told[0].endswith("This server: 👍 1 · 👎 0.")
    assert told[1].startswith("You already rated")
    # alice 👎 here, then bob changes his vote there.
    await table.alice.click(revealed, custom_id=buttons(revealed)[DOWN])
    changed = await other_process.run(click_there(game_id, "down"))
    assert changed.startswith("Changed to 👎") and changed.endswith("This server: 👍 0 · 👎 2.")

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        guild_counts = client.hgetall(f"soup:{{ratings}}:g{table.channel.guild.id}")
        [puzzle_field] = [field for field in guild_counts if field.startswith("down:")]
        puzzle_id = puzzle_field.removeprefix("down:")
        assert guild_counts == {f"up:{puzzle_id}": "0", f"down:{puzzle_id}": "2"}
        assert client.hgetall("soup:{ratings}:all") == guild_counts
    finally:
        client.close()
