"""/hint through the real bot: the puzzle's hints in order, then ones the host writes towards a key fact not
yet found (withheld when they give the answer away), at most game.max_hints, counted once in the game hash."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.game.session import NoHint, Player
from tests.bot.depth_pack import write_pack
from tests.bot_fixtures import Table
from tests.fakes.redis_state import only_game
from tests.fakes.upstream import FakeUpstream, Reply

WRITTEN = "Ask yourselves who might have been out at sea."


@pytest.fixture
def config_overrides(tmp_path: Path) -> dict[str, dict]:
    return {"game": {"puzzle_files": [write_pack(tmp_path)], "include_builtin": False, "max_hints": 4}}


async def start_lighthouse(table: Table) -> None:
    result = await table.alice.slash(table.channel, "play", difficulty="easy", language="en")
    assert result.response.embeds[0].title == "🐢 The Dark Lighthouse"


async def mark_found(redis_url: str, channel_id: int, index: int, player_id: int) -> None:
    """What H10's code records when a question uncovers a key fact."""
    client = aioredis.from_url(redis_url)
    try:
        await client.hset(f"soup:{{ch{channel_id}}}:found", str(index), json.dumps({"by": player_id, "at": 0}))
    finally:
        await client.aclose()


async def test_stored_hints_in_order_then_written_ones_then_none(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await start_lighthouse(table)
    first = await table.bob.slash(table.channel, "hint")
    second = await table.alice.slash(table.channel, "hint")
    assert not first.ephemeral and not second.ephemeral  # shown to the whole table
    assert first.response.content == "💡 **Hint 1/4** (asked for by bob): The keeper was expecting someone."
    assert second.response.content == "💡 **Hint 2/4** (asked for by alice): Think about what the lamp is for."
    assert fake_upstream.requests == []  # stored hints need no model

    # The table has found the first key fact: the written hint points to the next one.
    await mark_found(redis_url, table.channel.id, 0, table.bob.id)
    fake_upstream.queue(Reply.text(WRITTEN))
    third = await table.bob.slash(table.channel, "hint")
    assert third.response.content == f"💡 **Hint 3/4** (asked for by bob): {WRITTEN}"
    [request] = fake_upstream.requests
    prompt = request["messages"][0]["content"]
    assert "Without the beam the captain hit the rocks." in prompt
    assert "A supply vessel was due that night." not in prompt.split("nudge them towards:")[1]

    fake_upstream.queue(Reply.text("Consider whose fault it felt like."))
    fourth = await table.alice.slash(table.channel, "hint")
    assert "**Hint 4/4**" in fourth.response.content
    assert "The keeper caused the wreck." in fake_upstream.requests[-1]["messages"][0]["content"]

    capped = await table.bob.slash(table.channel, "hint")
    assert capped.ephemeral and capped.response.content == "No hints left: this game allows 4."
    assert len(fake_upstream.requests) == 2
    game = await only_game(redis_url)
    assert game["hints_used"] == "4"
    assert game[f"hint_by:{table.bob.id}"] == "2" and game[f"hint_by:{table.alice.id}"] == "2"  # for the scores
    shown = [message.content for message in table.channel.history() if "💡" in (message.content or "")]
    assert len(shown) == 4


async def test_a_written_hint_that_gives_the_answer_away_is_not_shown_or_counted(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await start_lighthouse(table)
    for _ in range(2):
        await table.bob.slash(table.channel, "hint")  # the stored two
    answer = (await only_game(redis_url))["answer"]
    fake_upstream.queue(Reply.text(f"Here is a hint: {answer}"))
    leaked = await table.bob.slash(table.channel, "hint")
    assert leaked.ephemeral
    assert leaked.response.content.startswith("No hint is available right now")
    game = await only_game(redis_url)
    assert game["hints_used"] == "2" and game[f"hint_by:{table.bob.id}"] == "2"  # given back
    assert not any("supply vessel" in (message.content or "") for message in table.channel.history())

    # A hint that merely names the key fact's own words is withheld too.
    fake_upstream.queue(Reply.text("A supply vessel was due that night."))
    named = await table.bob.slash(table.channel, "hint")
    assert named.ephemeral and named.response.content.startswith("No hint is available right now")

    # With the model down there is no hint either, and nothing is counted; it says so, not that
    # nothing more can be said.
    fake_upstream.queue(Reply(status=500))
    down = await table.bob.slash(table.channel, "hint")
    assert down.ephemeral and (await only_game(redis_url))["hints_used"] == "2"
    assert down.response.content.startswith("⚠️ The host can't write a hint right now. It was not counted")

    fake_upstream.queue(Reply.text(WRITTEN))
    fine = await table.bob.slash(table.channel, "hint")
    assert fine.response.content.endswith(WRITTEN) and "**Hint 3/4**" in fine.response.content


async def test_with_every_key_fact_found_no_hint_is_written(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await start_lighthouse(table)
    for index in range(3):
        await mark_found(redis_url, table.channel.id, index, table.alice.id)
    for _ in range(2):
        await table.bob.slash(table.channel, "hint")
    none = await table.bob.slash(table.channel, "hint")
    assert none.ephemeral and none.response.content.startswith("No hint is available right now")
    assert fake_upstream.requests == []
    assert (await only_game(redis_url))["hints_used"] == "2"


async def test_two_quick_hint_calls_cannot_both_take_the_last_hint(table: Table, redis_url: str) -> None:
    await start_lighthouse(table)
    client = aioredis.from_url(redis_url)
    try:
        [key] = [key async for key in client.scan_iter("soup:*:game")]
        await client.hset(key, "max_hints", "2")
    finally:
        await client.aclose()
    await table.bob.slash(table.channel, "hint")
    games = table.env.bot.games
    results = await asyncio.gather(
        games.hint(table.channel.id, Player(table.alice.id, "alice")),
        games.hint(table.channel.id, Player(table.bob.id, "bob")),
        return_exceptions=True,
    )
    given = [result for result in results if not isinstance(result, BaseException)]
    refused = [result for result in results if isinstance(result, NoHint)]
    assert len(given) == 1 and len(refused) == 1 and refused[0].reason == "used_up"
    assert given[0].number == 2 and given[0].text == "Think about what the lamp is for."
    assert (await only_game(redis_url))["hints_used"] == "2"


async def test_hint_without_a_game_and_in_chinese(table: Table, fake_upstream: FakeUpstream) -> None:
    refused = await table.bob.slash(table.channel, "hint")
    assert refused.ephemeral and "No game is running" in refused.response.content
    await table.alice.slash(table.channel, "play", language="zh")
    hint = await table.bob.slash(table.channel, "hint")
    assert hint.response.content == "💡 **提示 1/4**（bob 请求）：他在桥上看到了某样东西。"


async def test_a_hint_renews_the_games_keys_like_a_question(table: Table, redis_url: str) -> None:
    """The keeper schedules an idle game from its last activity; a /hint is activity, so the game's keys
    must live on from it too, or a game whose last act was a hint expires before it is counted."""
    await start_lighthouse(table)
    await mark_found(redis_url, table.channel.id, 0, table.bob.id)
    keys = [f"soup:{{ch{table.channel.id}}}:{name}" for name in ("game", "found")]
    client = aioredis.from_url(redis_url)
    try:
        for key in keys:
            await client.expire(key, 5)
        await table.bob.slash(table.channel, "hint")
        ttl = table.env.bot.games.store.ttl
        assert [await client.ttl(key) > ttl - 60 for key in keys] == [True, True]
    finally:
        await client.aclose()


async def test_a_stored_hint_longer_than_a_hint_may_be_is_shown_clipped(table: Table, redis_url: str) -> None:
    """A pack imported before hints had a length limit may hold a long one: shown clipped, never lost."""
    await start_lighthouse(table)
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        await client.hset(f"soup:{{ch{table.channel.id}}}:game", "hints", json.dumps(["Think. " * 400]))
    finally:
        await client.aclose()
    result = await table.bob.slash(table.channel, "hint")
    shown = result.response.content
    assert shown.startswith("💡 **Hint 1/4** (asked for by bob): Think. Think.") and shown.endswith("…")
    assert len(shown) < 400
    assert (await only_game(redis_url))["hints_used"] == "1"


@pytest.mark.parametrize("shape", ["deepseek_reasoner", "ollama_inline", "mid_thought", "openrouter"])
async def test_a_thinking_host_writes_a_hint_without_its_thought(
    table: Table, fake_upstream: FakeUpstream, redis_url: str, shape: str
) -> None:
    """The written hint is what follows the thought; a thought cut off before any hint is no hint, not counted."""
    await start_lighthouse(table)
    for _ in range(2):
        await table.bob.slash(table.channel, "hint")  # the stored two
    answer = (await only_game(redis_url))["answer"]
    thought = f"Mulling it over: the answer is {answer} so I must not say the keeper caused the wreck."
    fake_upstream.queue(Reply(deltas=[{"reasoning_content": thought}, {"content": ""}]))
    cut_off = await table.bob.slash(table.channel, "hint")
    assert cut_off.ephemeral and cut_off.response.content.startswith("⚠️ The host can't write a hint right now")
    assert (await only_game(redis_url))["hints_used"] == "2"

    fake_upstream.queue(Reply.thinking(shape, thought, WRITTEN))
    written = await table.bob.slash(table.channel, "hint")
    assert written.response.content == f"💡 **Hint 3/4** (asked for by bob): {WRITTEN}"
    sent = "\n".join(json.dumps(request.json) for request in table.env.http_requests if request.json)
    assert "Mulling" not in sent and answer not in sent
