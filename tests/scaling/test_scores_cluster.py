"""Scores and a server's own puzzles on a real three-node Redis Cluster: the channel-slot end scripts, the
guild-slot counting script, the expiry sweep and the puzzle scripts each run in one slot."""

from __future__ import annotations

import json
import time

import pytest
import redis
from redis.crc import key_slot

from bot.cogs.scores import SWEEP_INTERVAL_SECONDS
from tests.bot.test_custom_puzzles import EN_ENTRY, pack_file
from tests.bot.test_game_flow import start_game
from tests.bot_fixtures import Table
from tests.fakes.redis_cluster import RedisCluster
from tests.fakes.upstream import FakeUpstream, Reply


@pytest.fixture
def config_overrides(redis_cluster: RedisCluster) -> dict[str, dict]:
    return {"redis": {"url": redis_cluster.url, "cluster": True}, "game": {"puzzle_admin_role": "Puzzlers"}}


async def test_scores_and_server_puzzles_on_a_cluster(
    table: Table, fake_upstream: FakeUpstream, redis_cluster: RedisCluster
) -> None:
    client = redis.RedisCluster.from_url(redis_cluster.url, decode_responses=True)
    guild_id, channel_key = table.channel.guild.id, f"soup:{{ch{table.channel.id}}}:game"
    try:
        await start_game(table)
        facts = len(json.loads(client.hget(channel_key, "key_facts")))  # a solve credits every fact to its solver
        fake_upstream.queue(Reply.text("Correct! That is it."))
        await table.bob.send(table.channel, f"Is it that {client.hget(channel_key, 'answer')[:400]}")
        await table.alice.slash(table.channel, "play")
        await table.alice.slash(table.channel, "newgame")
        # The third game idles for a week: the sweep ends and counts it.
        client.hset(channel_key, "updated_at", repr(time.time() - 7 * 86400))
        client.zadd(f"soup:{{g{guild_id}}}:live", {f"{table.channel.id}:{client.hget(channel_key, 'game_id')}": 0})
        await table.env.advance_time(SWEEP_INTERVAL_SECONDS)

        board = (await table.alice.slash(table.channel, "leaderboard", period="all")).response.embeds[0]
        assert board.description.splitlines()[0] == f"**1.** <@{table.bob.id}>: {3 + facts} pts"
        assert "3 games, 1 solved" in board.footer.text
        totals = client.hgetall(f"soup:{{g{guild_id}}}:totals")
        assert (totals["ended_solved"], totals["ended_replaced"], totals["ended_expired"]) == ("1", "1", "1")

        puzzlers = table.channel.guild.create_role("Puzzlers")
        carol = table.channel.guild.add_member(table.env.create_user("carol"), roles=[puzzlers])
        imported = await carol.slash(table.channel, "puzzle import", file=pack_file(EN_ENTRY))
        assert imported.response.content.startswith("Imported 1 puzzle(s)")
        keys = list(client.scan_iter(match=f"soup:{{g{guild_id}}}:*"))
        assert any(key.endswith(":puzzles") for key in keys) and any(":board:" in key for key in keys)
        assert len({key_slot(key.encode()) for key in keys}) == 1
    finally:
        client.close()
