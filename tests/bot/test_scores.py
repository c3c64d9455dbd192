"""Scores through the real bot: /leaderboard and /stats after several games by several players, and every
way a game ends (solved, /stop, /newgame, expiry) counted exactly once, on a real redis-server."""

from __future__ import annotations

import json
import time

import redis.asyncio as aioredis
import simcord
from redis.crc import key_slot

from bot.cogs.scores import SWEEP_INTERVAL_SECONDS
from bot.game.scores import ScoreKeeper, iso_week
from tests.bot.test_game_flow import start_game
from tests.bot_fixtures import Table
from tests.fakes.redis_state import only_game
from tests.fakes.upstream import FakeUpstream, Reply


def keeper_of(table: Table) -> ScoreKeeper:
    return table.env.bot.get_cog("ScoresCog").keeper  # type: ignore[union-attr]


async def ask(table: Table, fake_upstream: FakeUpstream, player: simcord.MemberActor, question: str) -> None:
    fake_upstream.queue(Reply.text("No."))
    await player.send(table.channel, question)


async def solve(table: Table, fake_upstream: FakeUpstream, redis_url: str, player: simcord.MemberActor) -> int:
    """Solve the channel's game; returns how many key facts the solve credited to the solver (the
    facts nobody had found: a solve covers them all)."""
    fake_upstream.queue(Reply.text("Correct! You got it."))
    game = await only_game(redis_url)
    guess = game["answer"][:400]  # names the answer's words, so the solve is believed
    await player.send(table.channel, f"Is it that {guess}?")
    assert (await only_game(redis_url))["status"] == "solved"
    return len(json.loads(game["key_facts"]))


async def totals(client: aioredis.Redis, guild_id: int) -> dict[str, int]:
    return {name: int(value) for name, value in (await client.hgetall(f"soup:{{g{guild_id}}}:totals")).items()}


def board_lines(result: simcord.InteractionResult) -> list[str]:
    return result.response.embeds[0].description.splitlines()


async def test_leaderboard_and_stats_after_several_games_by_several_players(
    table: Table, fake_upstream: FakeUpstream, redis_url: str, client: aioredis.Redis
) -> None:
    carol = table.alice.guild.add_member(table.env.create_user("carol"))
    alice, bob = table.alice, table.bob

    # Game 1: bob asks twice and solves; alice asks once.
    await start_game(table)
    await ask(table, fake_upstream, bob, "Was he alone?")
    await ask(table, fake_upstream, alice, "Was it night?")
    bob_facts = await solve(table, fake_upstream, redis_url, bob)
    # Game 2: carol asks and solves.
    await start_game(table)
    await ask(table, fake_upstream, carol, "Is the water important?")
    carol_facts = await solve(table, fake_upstream, redis_url, carol)
    # Game 3: bob starts it and solves at once.
    await bob.slash(table.channel, "play")
    bob_facts += await solve(table, fake_upstream, redis_url, bob)
    bob_points, carol_points = 2 * 3 + bob_facts, 3 + carol_facts  # +3 a solve, +1 a key fact
    # Game 4: alice asks once and stops it.
    await start_game(table)
    await ask(table, fake_upstream, alice, "Did anyone die?")
    await alice.slash(table.channel, "stop")

    for period in ("all", "week"):
        result = await alice.slash(table.channel, "leaderboard", period=period)
        assert not result.ephemeral
        lines = board_lines(result)
        assert lines[:3] == [
            f"**1.** <@{bob.id}>: {bob_points} pts",
            f"**2.** <@{carol.id}>: {carol_points} pts",
            f"**3.** <@{alice.id}>: 0 pts",
        ]
        assert lines[-1] == "Your place: **#3** with 0 pts."
        footer = result.response.embeds[0].footer.text
        assert "4 games, 3 solved, 7 questions" in footer and "+3 for a solve" in footer
    assert iso_week(time.time()) in (await alice.slash(table.channel, "leaderboard")).response.embeds[0].title

    stats = (await alice.slash(table.channel, "stats", member=bob)).response.embeds[0]
    assert stats.title == "📊 Stats: bob"
    assert stats.description.splitlines() == [
        f"**Score:** {bob_points} (rank 1)",
        "**Solves:** 2",
        f"**Key facts found:** {bob_facts}",
        "**Questions asked:** 3",
        "**Hints used:** 0",
        "**Games played:** 2",
        f"**This week:** {bob_points} pts (rank 1)",
    ]
    mine = (await alice.slash(table.channel, "stats")).response.embeds[0].description
    assert "**Questions asked:** 2" in mine and "**Games played:** 3" in mine  # she started game 2 too

    # A player with no games is on no board, and says so.
    dave = table.alice.guild.add_member(table.env.create_user("dave"))
    assert board_lines(await dave.slash(table.channel, "leaderboard"))[-1] == "You are not on this board yet."
    assert "**Score:** 0 (rank none yet)" in (await dave.slash(table.channel, "stats")).response.embeds[0].description

    # Every key of the server's scores shares one hash tag: one Redis Cluster slot.
    guild_id = table.alice.guild.id
    keys = [key async for key in client.scan_iter(f"soup:{{g{guild_id}}}:*")]
    assert any(":board:week:" in key for key in keys) and any(":player:" in key for key in keys)
    assert len({key_slot(key.encode()) for key in keys}) == 1
    week_key = next(key for key in keys if ":board:week:" in key)
    assert 0 < await client.ttl(week_key) <= 5 * 7 * 86400


async def test_key_facts_and_hints_count_in_the_score(
    table: Table, fake_upstream: FakeUpstream, redis_url: str, client: aioredis.Redis
) -> None:
    """Found facts and hints are written by the facts and hints features (in the game's own keys); the
    tally reads them when the game ends. Written here the way those features store them."""
    await start_game(table)
    channel_key = f"soup:{{ch{table.channel.id}}}"
    by_alice, by_bob = json.dumps({"by": str(table.alice.id), "at": 1}), json.dumps({"by": table.bob.id, "at": 2})
    await client.hset(f"{channel_key}:found", mapping={"0": by_alice, "1": by_alice, "2": by_bob})
    await client.hset(f"{channel_key}:game", mapping={"hints_used": 2, f"hint_by:{table.alice.id}": 1})
    facts = await solve(table, fake_upstream, redis_url, table.bob)  # the solve credits any fact past the third

    lines = board_lines(await table.alice.slash(table.channel, "leaderboard", period="all"))
    # bob: +3 solve +1 fact (+1 for each fact the solve found) ; alice: +2 facts -1 hint = 1 (the second hint
    # is nobody's: the server's only).
    bob_points = 3 + 1 + max(facts - 3, 0)
    assert lines[:2] == [f"**1.** <@{table.bob.id}>: {bob_points} pts", f"**2.** <@{table.alice.id}>: 1 pts"]
    stats = (await table.alice.slash(table.channel, "stats")).response.embeds[0].description
    assert "**Key facts found:** 2" in stats and "**Hints used:** 1" in stats
    counted = await totals(client, table.alice.guild.id)
    assert (counted["facts"], counted["hints"], counted["solves"]) == (max(facts, 3), 2, 1)


async def test_every_way_a_game_ends_is_counted_once(
    table: Table, fake_upstream: FakeUpstream, redis_url: str, client: aioredis.Redis
) -> None:
    guild_id = table.alice.guild.id
    await start_game(table)
    facts = await solve(table, fake_upstream, redis_url, table.bob)  # 1: solved, every key fact found by it
    await table.alice.slash(table.channel, "newgame")  # replaces a solved game: nothing more to count
    await table.alice.slash(table.channel, "newgame")  # 2: replaces an active game
    await table.alice.slash(table.channel, "stop")  # 3: stopped
    await table.alice.slash(table.channel, "stop")  # refused: nothing running
    await table.alice.slash(table.channel, "play")
    assert await totals(client, guild_id) == {
        "games": 3,
        "solves": 1,
        "facts": facts,
        "questions": 1,
        "hints": 0,
        "ended_solved": 1,
        "ended_replaced": 1,
        "ended_stopped": 1,
    }

    # 4: expiry. The game has been idle for its whole lifetime (as if a week passed): the sweep ends it.
    game = await only_game(redis_url)
    week_ago = time.time() - 7 * 86400
    await client.hset(f"soup:{{ch{table.channel.id}}}:game", "updated_at", repr(week_ago))
    await client.zadd(f"soup:{{g{guild_id}}}:live", {f"{table.channel.id}:{game['game_id']}": 0})
    await table.env.advance_time(SWEEP_INTERVAL_SECONDS)
    assert (await only_game(redis_url))["status"] == "stopped"
    assert (await totals(client, guild_id))["ended_expired"] == 1
    assert (await totals(client, guild_id))["games"] == 4
    no_game = await table.alice.slash(table.channel, "stop")
    assert no_game.ephemeral and "No game is running" in no_game.response.content

    # Later sweeps and a repeated delivery change nothing; the outbox is empty and no game is left live.
    await table.env.advance_time(SWEEP_INTERVAL_SECONDS * 2)
    assert await keeper_of(table).deliver(table.channel.id) == 0
    assert (await totals(client, guild_id))["games"] == 4
    assert await client.exists(f"soup:{{ch{table.channel.id}}}:ended") == 0
    assert await client.zcard(f"soup:{{g{guild_id}}}:live") == 0


async def test_a_game_in_use_is_not_expired_by_the_sweep(
    table: Table, fake_upstream: FakeUpstream, redis_url: str, client: aioredis.Redis
) -> None:
    guild_id = table.alice.guild.id
    await start_game(table)
    game = await only_game(redis_url)
    member = f"{table.channel.id}:{game['game_id']}"
    await client.zadd(f"soup:{{g{guild_id}}}:live", {member: 0})  # due, but it was just played
    await table.env.advance_time(SWEEP_INTERVAL_SECONDS)
    assert (await only_game(redis_url))["status"] == "active"
    assert await client.zscore(f"soup:{{g{guild_id}}}:live", member) > time.time() + 6 * 86400  # looked at later
    assert await totals(client, guild_id) == {}
