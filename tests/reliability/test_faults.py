"""The fault matrix: each fault injected into the running bot; what players see and what Redis holds."""

from __future__ import annotations

import threading

import discord
import pytest

from common.config import Config
from tests.bot.test_game_flow import bot_replies, start_game
from tests.bot_fixtures import Table, restart
from tests.fakes.declared_http import declare_model_waits, settle_until
from tests.fakes.redis_server import RedisServer
from tests.fakes.redis_state import transcript
from tests.fakes.upstream import FakeUpstream, Reply

# -- the model endpoint -------------------------------------------------------------------


@pytest.fixture
def config_overrides(request: pytest.FixtureRequest) -> dict[str, dict]:
    """The module's settings, or a test's own through indirect parametrisation."""
    return getattr(request, "param", {"model": {"max_retries": 2, "first_token_timeout": 0.5}})


async def test_rate_limit_is_retried_after_retry_after_then_answered_once(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await start_game(table)
    fake_upstream.queue(Reply(status=429, retry_after="0.2"), Reply.text("Yes."))
    await table.alice.send(table.channel, "Is he alive?")
    assert bot_replies(table)[-1].content == "✅ Yes."
    assert len(fake_upstream.requests) == 2
    assert len(await transcript(redis_url)) == 1


async def test_repeated_server_errors_end_in_a_clear_message(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await start_game(table)
    fake_upstream.default = Reply(status=500)
    await table.alice.send(table.channel, "Is he alive?")
    assert "can't answer right now" in bot_replies(table)[-1].content
    assert len(fake_upstream.requests) == 3  # the first try and two retries, no more
    assert await transcript(redis_url) == []


async def test_a_hanging_endpoint_times_out_into_a_clear_message(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await declare_model_waits(table.env)
    await start_game(table)
    fake_upstream.default = Reply(hang=True)
    await table.alice.send(table.channel, "Is he alive?")
    assert "can't answer right now" in bot_replies(table)[-1].content
    assert await transcript(redis_url) == []
    fake_upstream.default = Reply.text("No.")
    await table.alice.send(table.channel, "Is he dead?")
    assert bot_replies(table)[-1].content == "❌ No."
    assert len(await transcript(redis_url)) == 1


async def test_a_stream_cut_midway_is_marked_interrupted_not_retried(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await start_game(table)
    fake_upstream.queue(Reply.text("Yes, and he was also very", size=4, cut_after=3))
    await table.alice.send(table.channel, "Was he tired?")
    shown = bot_replies(table)[-1].content
    assert shown.startswith("Yes, and he") and "Interrupted" in shown and "⏳" not in shown
    assert len(fake_upstream.requests) == 1  # text had arrived: a retry could answer twice
    assert await transcript(redis_url) == []
    fake_upstream.queue(Reply.text("Yes."))
    await table.alice.send(table.channel, "Was he tired?")
    assert len(await transcript(redis_url)) == 1


KEEP_ALIVE_TIMEOUTS = {"model": {"max_retries": 0, "first_token_timeout": 0.5, "request_timeout": 2}}


@pytest.mark.parametrize("config_overrides", [KEEP_ALIVE_TIMEOUTS], indirect=True, ids=["timeouts"])
@pytest.mark.parametrize(
    ("keepalive", "text", "notice"),
    [
        ("comment", "", "can't answer right now"),
        ("empty", "", "can't answer right now"),
        ("comment", "Yes, and ", "Interrupted"),  # a word that ended: a partial one is held back
        ("empty", "Yes, and ", "Interrupted"),
    ],
)
async def test_a_keep_alive_stream_ends_at_the_deadline_and_frees_the_channel(
    table: Table, fake_upstream: FakeUpstream, redis_url: str, keepalive: str, text: str, notice: str
) -> None:
    """SSE comments (": ping") or empty deltas, forever, before or after some text: the clock still ends
    the reply at the deadline (first_token_timeout before text, request_timeout after), and the next
    question in the channel is answered.

    The model waits are declared, so the bot's clock moves only when the test moves it; the read timeout
    is long (keep-alives would reset it anyway), so only the reply's own deadline can end the stream."""
    await declare_model_waits(table.env, timeout=60)
    await start_game(table)
    fake_upstream.queue(
        Reply(chunks=[text] if text else [], keepalive=keepalive, keepalive_every=0.1, keepalive_after=0.2)
    )
    await table.alice.send(table.channel, "Is he alive?")  # returns with the bot parked on the stream
    # Wall clock: the text (if any) is on screen and keep-alives are arriving before the deadline passes.
    await settle_until(
        table.env, lambda: fake_upstream.keepalives_sent >= 3 and text in bot_replies(table)[-1].content, within=10
    )
    assert "⏳" in bot_replies(table)[-1].content
    await table.env.advance_time(table.env.bot.config.model.request_timeout + 1)
    await settle_until(table.env, lambda: "⏳" not in bot_replies(table)[-1].content, within=3)
    shown = bot_replies(table)[-1].content
    assert notice in shown and shown.startswith(text.strip())
    assert await transcript(redis_url) == []

    fake_upstream.queue(Reply.text("No."))
    await table.alice.send(table.channel, "Is he dead?")
    assert bot_replies(table)[-1].content == "❌ No."
    assert len(await transcript(redis_url)) == 1


# -- Redis ---------------------------------------------------------------------------------


async def test_redis_restart_keeps_the_game_and_outage_gets_clear_errors(
    table: Table, fake_upstream: FakeUpstream, redis_server: RedisServer, redis_url: str
) -> None:
    story = await start_game(table)
    fake_upstream.default = Reply.text("No.")
    await table.alice.send(table.channel, "Is it about money?")

    redis_server.stop()
    try:
        refused = await table.bob.slash(table.channel, "play")
        assert refused.ephemeral and "game store is unreachable" in refused.response.content
        asked = await table.bob.slash(table.channel, "ask", question="Is it about love?")
        assert asked.ephemeral and "unreachable" in asked.response.content
        replies_before = len(bot_replies(table))
        await table.alice.send(table.channel, "Is it about love?")  # the bot stays up and quiet
        assert len(bot_replies(table)) == replies_before
    finally:
        redis_server.start()  # same port, same folder: the append-only file is replayed

    await table.alice.send(table.channel, "Is it about love?")
    assert bot_replies(table)[-1].content == "❌ No."
    entries = await transcript(redis_url)
    assert len(entries) == 2 and "money" in entries[0]
    again = await table.bob.slash(table.channel, "play")
    assert again.ephemeral and again.response.embeds[0].description == story.description


# -- the bot restarting mid-stream -----------------------------------------------------------


async def test_bot_restart_mid_stream_marks_the_reply_and_the_game_goes_on(
    table: Table, fake_upstream: FakeUpstream, bot_settings: Config, redis_url: str
) -> None:
    await declare_model_waits(table.env, timeout=60)
    await start_game(table)
    gate = threading.Event()
    fake_upstream.queue(Reply.text("Yes, and then he went on to", size=6, gate=gate))

    await table.alice.send(table.channel, "Did he leave?")  # returns with the reply mid-stream
    reply = bot_replies(table)[-1]
    assert reply.content.endswith("⏳")

    fresh = await restart(table.env, bot_settings)  # the old process dies mid-stream
    gate.set()
    marked = next(m for m in bot_replies(table) if m.id == reply.id)
    assert "⏳" not in marked.content and "the bot restarted mid-reply" in marked.content
    assert await transcript(redis_url) == []  # the half answer was not counted

    fake_upstream.queue(Reply.text("No."))
    await table.alice.send(table.channel, "Did he leave?")
    assert bot_replies(table)[-1].content == "❌ No."
    assert len(await transcript(redis_url)) == 1
    await fresh.close()


# -- Discord refusing edits ------------------------------------------------------------------


@pytest.mark.parametrize(("status", "code"), [(500, 0), (429, 0), (502, 0)])
async def test_a_failed_edit_is_retried_at_the_next_update(
    table: Table, fake_upstream: FakeUpstream, redis_url: str, status: int, code: int
) -> None:
    await start_game(table)
    table.env.inject_error("PATCH", "/channels/*/messages/*", status=status, code=code, times=1)
    fake_upstream.queue(Reply.text("Irrelevant. Think about the bartender instead.", size=4, chunk_delay=0.1))
    await table.alice.send(table.channel, "Was it Tuesday?")
    assert bot_replies(table)[-1].content == "➖ Irrelevant. Think about the bartender instead."
    assert len(await transcript(redis_url)) == 1


async def test_a_message_deleted_mid_stream_continues_in_a_new_one(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await start_game(table)
    table.env.inject_error("PATCH", "/channels/*/messages/*", status=404, code=10008, message="Unknown Message")
    fake_upstream.queue(Reply.text("No. The weather is not the point.", size=4, chunk_delay=0.05))
    await table.alice.send(table.channel, "Was it raining?")
    assert bot_replies(table)[-1].content == "❌ No. The weather is not the point."
    assert len(await transcript(redis_url)) == 1


async def test_losing_permission_mid_stream_stops_drawing_but_keeps_the_game_right(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await start_game(table)
    table.env.inject_error(
        "*", "/channels/*/messages*", status=403, code=50013, message="Missing Permissions", times=None
    )
    fake_upstream.queue(Reply.text("Yes. He was a diver.", size=3, chunk_delay=0.05))
    await table.alice.send(table.channel, "Was he a diver?")
    entries = await transcript(redis_url)
    assert len(entries) == 1 and "Yes. He was a diver." in entries[0]


async def test_missing_permissions_are_named(table: Table, fake_upstream: FakeUpstream) -> None:
    guild = table.channel.guild
    no_embeds = guild.create_text_channel(
        "plain", overwrites={guild.me: discord.PermissionOverwrite(embed_links=False)}
    )
    result = await table.alice.slash(no_embeds, "play")
    assert result.ephemeral and "I need the **Embed Links** permission" in result.response.content
    asked = await table.alice.slash(no_embeds, "ask", question="Hello?")
    assert asked.ephemeral and "Embed Links" in asked.response.content
