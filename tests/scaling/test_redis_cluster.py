"""The bot on a real three-node Redis Cluster: a game's keys share one slot, every script runs."""

from __future__ import annotations

import pytest
import redis
from redis.crc import key_slot

from tests.bot.test_game_flow import bot_replies, start_game
from tests.bot_fixtures import Table
from tests.fakes.redis_cluster import RedisCluster
from tests.fakes.upstream import FakeUpstream, Reply


@pytest.fixture
def config_overrides(redis_cluster: RedisCluster) -> dict[str, dict]:
    return {"redis": {"url": redis_cluster.url, "cluster": True}}


async def test_a_game_runs_on_a_cluster(table: Table, fake_upstream: FakeUpstream, redis_cluster: RedisCluster) -> None:
    story = await start_game(table)
    again = await table.bob.slash(table.channel, "play")
    assert again.ephemeral and again.response.embeds[0].description == story.description
    fake_upstream.queue(Reply.text("No. Not at all."), Reply.text("Correct! That is it."))
    await table.alice.send(table.channel, "Is it about money?")
    assert bot_replies(table)[-1].content == "❌ No. Not at all."

    client = redis.RedisCluster.from_url(redis_cluster.url, decode_responses=True)
    keys = [key for key in client.scan_iter(match=f"soup:{{ch{table.channel.id}}}:*")]
    assert {key.rsplit(":", 1)[1] for key in keys} == {"game", "log", "recent"}
    assert len({key_slot(key.encode()) for key in keys}) == 1
    answer = client.hget(f"soup:{{ch{table.channel.id}}}:game", "answer")
    client.close()

    await table.bob.send(table.channel, f"Is it that {answer[:400]}")
    assert table.channel.history()[-1].embeds[0].title.startswith("🎉 Solved")
    stopped = await table.alice.slash(table.channel, "stop")
    assert "No game is running" in stopped.response.content


async def test_ratings_run_on_a_cluster(table: Table, fake_upstream: FakeUpstream, redis_cluster: RedisCluster) -> None:
    await start_game(table)
    fake_upstream.queue(Reply.text("No."))
    await table.alice.send(table.channel, "Is it about money?")
    revealed = (await table.alice.slash(table.channel, "stop")).response
    [row] = revealed.components
    thumbs_up = next(button["custom_id"] for button in row["components"] if button["emoji"]["name"] == "👍")
    voted = await table.alice.click(revealed, custom_id=thumbs_up)
    assert voted.response.content.endswith("This server: 👍 1 · 👎 0.")

    client = redis.RedisCluster.from_url(redis_cluster.url, decode_responses=True)
    keys = [key for key in client.scan_iter(match="soup:{ratings}:*")]
    assert {"soup:{ratings}:all", f"soup:{{ratings}}:g{table.channel.guild.id}"} <= set(keys)
    assert len({key_slot(key.encode()) for key in keys}) == 1  # ballots, the server's and every server's counts
    client.close()
