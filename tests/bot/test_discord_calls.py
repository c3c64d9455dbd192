"""Discord calls per reply (issue 21): a reply complete within the first post's wait is posted once, final;
a longer one is posted when the wait ends, with its text when it has some (no empty placeholder), and edited
from there; a thinking model's reply starts with the thinking line at once."""

from __future__ import annotations

import threading

import pytest

from tests.bot.test_game_flow import bot_replies, start_game
from tests.bot_fixtures import Table
from tests.fakes.declared_http import declare_model_waits, settle_until
from tests.fakes.upstream import FakeUpstream, Reply

WAIT = 0.4  # the default stream.first_post_wait


@pytest.fixture
def config_overrides() -> dict[str, dict]:
    return {"model": {"request_timeout": 300}, "stream": {"edit_interval": 1.0, "first_post_wait": WAIT}}


def reply_calls(table: Table) -> list[tuple[str, str]]:
    """The bot's message calls in the game channel after /play: (method, content), in order."""
    prefix = f"/channels/{table.channel.id}/messages"
    return [
        (request.method, request.json.get("content", ""))
        for request in table.env.http_requests
        if request.method in ("POST", "PATCH") and request.path.startswith(prefix) and request.json
    ]


async def gated_game(table: Table) -> threading.Event:
    """A game whose bot moves its clock only as the test does, and a gate for the model to hold its reply at."""
    await declare_model_waits(table.env, timeout=60)
    await start_game(table)
    return threading.Event()


async def test_a_quick_reply_is_one_post_final(table: Table, fake_upstream: FakeUpstream) -> None:
    await start_game(table)
    fake_upstream.queue(Reply.text("No. Think about what he needed."))
    await table.alice.send(table.channel, "Was it raining?")
    assert reply_calls(table) == [("POST", "❌ No. Think about what he needed.")]


async def test_a_long_reply_posts_its_first_text_when_the_wait_ends_then_edits_once(
    table: Table, fake_upstream: FakeUpstream
) -> None:
    await declare_model_waits(table.env, timeout=60)  # the bot's clock moves only as the test moves it
    await start_game(table)
    gate = threading.Event()
    fake_upstream.queue(Reply.text("No. The weather has nothing to do with it.", size=8, gate=gate))
    # Settling runs the bot's clock past the wait while the model holds the rest of its reply.
    await table.alice.send(table.channel, "Was it raining?")
    await settle_until(table.env, lambda: len(reply_calls(table)) == 1)
    [(method, content)] = reply_calls(table)
    assert method == "POST" and content.startswith("❌ No.") and content.endswith("⏳")  # text, not a placeholder
    gate.set()
    await settle_until(table.env, lambda: "⏳" not in bot_replies(table)[-1].content)
    assert reply_calls(table)[1:] == [("PATCH", "❌ No. The weather has nothing to do with it.")]


async def test_the_appeal_button_goes_with_the_post_and_stays_through_the_edits(
    table: Table, fake_upstream: FakeUpstream
) -> None:
    gate = await gated_game(table)
    fake_upstream.queue(Reply.text("No. The weather has nothing to do with it.", size=8, gate=gate))
    await table.alice.send(table.channel, "Was it raining?")
    await settle_until(table.env, lambda: len(reply_calls(table)) == 1)
    gate.set()
    await settle_until(table.env, lambda: "⏳" not in bot_replies(table)[-1].content)
    prefix = f"/channels/{table.channel.id}/messages"
    sent = [
        (request.method, "components" in request.json)
        for request in table.env.http_requests
        if request.method in ("POST", "PATCH") and request.path.startswith(prefix) and request.json
    ]
    # The button is sent once, with the post; the final edit leaves it out, and Discord keeps it.
    assert sent[-2:] == [("POST", True), ("PATCH", False)]
    final = bot_replies(table)[-1]
    assert [child.label for row in final.components for child in row.children] == ["Appeal"]  # type: ignore[attr-defined]


async def test_a_silent_model_gets_a_placeholder_when_the_wait_ends(table: Table, fake_upstream: FakeUpstream) -> None:
    await declare_model_waits(table.env, timeout=60)
    await start_game(table)
    fake_upstream.queue(Reply.text("Yes.", first_delay=0.5))  # silent for half a second of real time
    await table.alice.send(table.channel, "Was he alive?")
    await settle_until(table.env, lambda: len(reply_calls(table)) >= 1)
    assert reply_calls(table)[0] == ("POST", "⏳ *The host is thinking…*")  # the placeholder
    await settle_until(table.env, lambda: bot_replies(table)[-1].content == "✅ Yes.")
    calls = reply_calls(table)
    assert calls[-1] == ("PATCH", "✅ Yes.") and len(calls) <= 3  # placeholder, maybe the text, the final


async def test_a_thinking_model_shows_the_thinking_line_at_once(table: Table, fake_upstream: FakeUpstream) -> None:
    await start_game(table)
    fake_upstream.queue(Reply.thinking("deepseek_reasoner", "Rain? No, the water.", "No. Think again.", size=3))
    await table.alice.send(table.channel, "Was it raining?")
    calls = reply_calls(table)
    assert calls[0] == ("POST", "💭 *The host is thinking…*")  # before the wait ends: the model is thinking
    assert calls[1:] == [("PATCH", "❌ No. Think again.")]  # the answer came at once: one edit, final


async def test_a_thinking_models_short_answer_replaces_the_thinking_line_in_one_edit(
    table: Table, fake_upstream: FakeUpstream
) -> None:
    gate = await gated_game(table)
    # The whole thought first, then the answer once the gate opens (DeepSeek's reasoner's fields).
    thought = {"content": None, "reasoning_content": "Rain? No, the water he asked for."}
    answer = [{"content": piece, "reasoning_content": None} for piece in ("No.", " Think", " again.")]
    fake_upstream.queue(Reply(deltas=[thought, *answer], gate=gate))
    await table.alice.send(table.channel, "Was it raining?")
    await settle_until(table.env, lambda: len(reply_calls(table)) == 1)
    await table.env.advance_time(2.0)  # the model thinks on, well past the first post's wait
    gate.set()
    await settle_until(table.env, lambda: bot_replies(table)[-1].content == "❌ No. Think again.")
    # The answer's first text waits as a first post does, and the whole answer came meanwhile: one edit, final.
    assert reply_calls(table) == [("POST", "💭 *The host is thinking…*"), ("PATCH", "❌ No. Think again.")]
