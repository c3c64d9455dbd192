"""Discord lets a channel's messages be edited about 5 times per 5 seconds: the bot keeps to that per
channel, across replies, so a queued reply does not start with a fresh budget right after the previous
reply's edits (and meet 429s)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from bot.streaming import RATE_EDITS, RATE_WINDOW
from tests.bot.test_game_flow import bot_replies, start_game
from tests.bot_fixtures import Table
from tests.fakes.declared_http import declare_model_waits, settle_until
from tests.fakes.upstream import FakeUpstream, Reply


@pytest.fixture
def config_overrides(request: pytest.FixtureRequest) -> dict[str, dict]:
    # The test's clock steps must not time the replies out.
    return getattr(request, "param", {"model": {"request_timeout": 300}})


def answers_by_question(table: Table) -> dict[int, str]:
    """The bot's replies keyed by the id of the question each one replies to."""
    return {
        reply.reference.message_id: reply.content
        for reply in bot_replies(table)
        if reply.reference is not None and reply.reference.message_id is not None
    }


def edit_times(table: Table) -> list[float]:
    """When (on SimCord's clock) each message in the channel was edited, from the gateway's updates."""
    times = [
        datetime.fromisoformat(payload["edited_timestamp"]).timestamp()
        for kind, event, payload in table.env.backend.transcript
        if kind == "GATEWAY" and event == "MESSAGE_UPDATE" and int(payload["channel_id"]) == table.channel.id
    ]
    return sorted(times)


def busiest_window(times: list[float]) -> int:
    """The most edits in any RATE_WINDOW seconds."""
    return max((sum(1 for other in times if start <= other < start + RATE_WINDOW) for start in times), default=0)


async def test_a_queued_reply_shares_the_channels_edit_budget(table: Table, fake_upstream: FakeUpstream) -> None:
    await declare_model_waits(table.env, timeout=60)  # the clock moves only as the test moves it
    await start_game(table)
    first = "No. " + "The weather has nothing to do with it, think about what he needed. " * 3
    second = "Yes. " + "He was in a hurry, and the bartender saw why at once, before anyone. " * 3
    # Text arrives in real time while the loop below moves the bot's clock: a slower model leaves room for
    # enough steps (hence edits) even when a busy machine makes each step slow.
    fake_upstream.queue(Reply.text(first, size=4, chunk_delay=0.06), Reply.text(second, size=4, chunk_delay=0.06))
    backend = table.env.backend
    raining = backend.create_message(table.channel.id, table.alice.id, "Was it raining?")
    hurry = backend.create_message(table.channel.id, table.bob.id, "Was he in a hurry?")  # queued behind alice's
    # Each answer replies to its question; which of the two posts first is a race between the handlers.
    finals = {int(raining.id): f"❌ {first.strip()}", int(hurry.id): f"✅ {second.strip()}"}
    for _ in range(400):  # text arrives in real time; half a second passes on the bot's clock per step
        await table.env.advance_time(0.5)
        if answers_by_question(table) == finals:
            break
        await asyncio.sleep(0.02)

    assert answers_by_question(table) == finals
    times = edit_times(table)
    assert len(times) >= 2 * RATE_EDITS  # both replies were streamed in many edits
    assert busiest_window(times) <= RATE_EDITS, times  # never past Discord's limit: no 429


@pytest.mark.parametrize(
    "config_overrides", [{"model": {"request_timeout": 300, "thinking_timeout": 30}}], indirect=True, ids=["limit"]
)
async def test_a_long_thought_shows_its_time_within_the_edit_budget(table: Table, fake_upstream: FakeUpstream) -> None:
    """A model that thinks on and on: the reply counts the seconds in steps, one edit per step, until the
    thinking limit ends it. The model waits are declared: the bot's clock moves only as the test moves it."""
    await declare_model_waits(table.env, timeout=60)
    await start_game(table)
    fake_upstream.queue(Reply(deltas=[{"reasoning_content": "Hmm. "}], keepalive="thinking", keepalive_every=0.05))
    await table.alice.send(table.channel, "Was it raining?")
    await settle_until(table.env, lambda: "💭" in bot_replies(table)[-1].content)
    for _ in range(40):  # a second at a time, each with thought arriving, until the limit ends it
        sent = fake_upstream.keepalives_sent
        await table.env.advance_time(1)
        await settle_until(
            table.env,
            lambda: fake_upstream.keepalives_sent > sent + 1 or "💭" not in bot_replies(table)[-1].content,  # noqa: B023
        )
        if "💭" not in bot_replies(table)[-1].content:
            break

    shown = [
        payload["content"]
        for kind, event, payload in table.env.backend.transcript
        if kind == "GATEWAY" and event == "MESSAGE_UPDATE" and int(payload["channel_id"]) == table.channel.id
    ]
    posted = [
        payload["content"]
        for kind, event, payload in table.env.backend.transcript
        if kind == "GATEWAY"
        and event == "MESSAGE_CREATE"
        and payload["author"]["id"] == str(table.env.bot.user.id)
        and not payload["embeds"]
    ]
    assert posted == ["💭 *The host is thinking…*"]  # the thinking line is the first post: no empty placeholder
    steps = [line for line in shown if line.startswith("💭")]
    assert steps == [f"💭 *The host is thinking… ({s} s)*" for s in range(5, 30, 5)]
    assert shown[-1] == "⚠️ *The host thought it over but gave no answer in time. Not counted; please ask again.*"
    assert busiest_window(edit_times(table)) <= 2  # a step every 5 s, and the final edit
