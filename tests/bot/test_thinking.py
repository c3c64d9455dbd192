"""A reasoning model as host, in every shape servers stream its thinking: the real bot under SimCord, real
Redis, the fake upstream on loopback. The thinking names the hidden answer; none of it may reach a player
(no post, no streamed edit), the transcript, or a later request's history. The verdict after it counts; a
thought with no verdict after it leaves the game taking questions."""

from __future__ import annotations

import json
import logging
import threading

import pytest

from bot.texts import TEXTS
from tests.bot.test_game_flow import bot_replies, start_game
from tests.bot_fixtures import Table
from tests.fakes.declared_http import declare_model_waits, settle_until
from tests.fakes.redis_state import only_game, transcript
from tests.fakes.upstream import SHAPES, FakeUpstream, Reply

# A word only the thought holds, so any trace of it is a trace of the thought.
MARKER = {"en": "Zebrapondering", "zh": "斑马沉思"}
ANSWER = {"en": "No. Think about what he needed.", "zh": "否。想想他需要什么。"}
SHOWN = {"en": "❌ No. Think about what he needed.", "zh": "❌ 否。想想他需要什么。"}
QUESTION = {"en": "Was it raining?", "zh": "当时在下雨吗？"}
FOLLOW_UP = {"en": ("Was he alone?", "Yes."), "zh": ("他是一个人吗？", "是。")}


@pytest.fixture
def config_overrides(request: pytest.FixtureRequest) -> dict[str, dict]:
    """A test's own settings, through indirect parametrisation; none otherwise."""
    return getattr(request, "param", {})


def thought(language: str, answer: str) -> str:
    """A thought that gives the hidden answer away, as reasoning models do."""
    if language == "zh":
        return f"{MARKER['zh']}：用户问下雨。汤底是：{answer} 所以应该回答否。"
    return f"{MARKER['en']}: the user asks about rain. The hidden answer is: {answer} So the verdict is No."


def sent_to_discord(table: Table) -> str:
    """Everything the bot sent Discord (every post and every streamed edit), as one text."""
    return "\n".join(
        json.dumps(request.json, ensure_ascii=False) for request in table.env.http_requests if request.json
    )


def assert_nowhere(table: Table, fake_upstream: FakeUpstream, stored: list[str], secret: str, answer: str) -> None:
    sent = sent_to_discord(table)
    assert secret not in sent
    assert answer not in sent
    assert not any(secret in entry or answer in entry for entry in stored)
    for request in fake_upstream.requests[1:]:  # the history sent back with later questions
        history = json.dumps(request["messages"][1:], ensure_ascii=False)
        assert secret not in history and answer not in history


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
async def test_the_thought_is_never_shown_stored_or_sent_back_and_the_verdict_counts(
    table: Table,
    fake_upstream: FakeUpstream,
    redis_url: str,
    shape: str,
    language: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await start_game(table, language)
    answer = (await only_game(redis_url))["answer"]
    follow_up, follow_up_reply = FOLLOW_UP[language]
    fake_upstream.queue(
        Reply.thinking(shape, thought(language, answer), ANSWER[language], size=3, chunk_delay=0.01),
        Reply.text(follow_up_reply),
    )

    await table.alice.send(table.channel, QUESTION[language])
    assert bot_replies(table)[-1].content == SHOWN[language]  # the verdict after the thought, not masked
    await table.bob.send(table.channel, follow_up)

    stored = await transcript(redis_url)
    assert [json.loads(entry)["v"] for entry in stored] == ["no", "yes"]
    assert json.loads(stored[0])["r"] == ANSWER[language]
    assert_nowhere(table, fake_upstream, stored, MARKER[language], answer)
    assert not [
        record
        for record in caplog.records
        if record.levelno > logging.DEBUG and MARKER[language] in record.getMessage()
    ]
    assert len(fake_upstream.requests) == 2
    assert fake_upstream.requests[1]["messages"][2] == {"role": "assistant", "content": ANSWER[language]}


async def test_while_the_model_thinks_the_reply_says_so(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    await start_game(table)
    answer = (await only_game(redis_url))["answer"]
    fake_upstream.queue(Reply.thinking("deepseek_reasoner", thought("en", answer), ANSWER["en"], chunk_delay=0.02))
    await table.alice.send(table.channel, QUESTION["en"])
    shown = [
        request.json["content"]
        for request in table.env.http_requests
        if request.method in ("POST", "PATCH") and request.json and "content" in request.json
    ]
    assert "💭 *The host is thinking…*" in shown
    assert shown[-1] == SHOWN["en"]


CUT_OFF = {
    "reasoning field, budget spent": lambda text: Reply(
        deltas=[{"reasoning_content": text[i : i + 5]} for i in range(0, len(text), 5)]
    ),
    "inline block never closed": lambda text: Reply.text(f"<think>{text}", size=5),
    "openrouter, budget spent": lambda text: Reply(deltas=[{"content": "", "reasoning": text}, {"content": ""}]),
}


@pytest.mark.parametrize("config_overrides", [{"game": {"question_cooldown": 30}}], indirect=True, ids=["cooldown"])
@pytest.mark.parametrize("cut_off", sorted(CUT_OFF))
@pytest.mark.parametrize("language", ["en", "zh"])
async def test_a_thought_cut_off_before_its_verdict_is_not_counted_and_the_player_asks_again(
    table: Table, fake_upstream: FakeUpstream, redis_url: str, cut_off: str, language: str
) -> None:
    await start_game(table, language)
    answer = (await only_game(redis_url))["answer"]
    fake_upstream.queue(CUT_OFF[cut_off](thought(language, answer)), Reply.text(ANSWER[language]))

    await table.alice.send(table.channel, QUESTION[language])
    assert bot_replies(table)[-1].content == TEXTS[language]["no_verdict"]
    assert await transcript(redis_url) == []

    # No cooldown was spent: the same player asks again at once, and this time the host answers.
    await table.alice.send(table.channel, QUESTION[language])
    assert bot_replies(table)[-1].content == SHOWN[language]
    stored = await transcript(redis_url)
    assert len(stored) == 1
    assert_nowhere(table, fake_upstream, stored, MARKER[language], answer)


THINKING_LIMIT = {"model": {"first_token_timeout": 1, "request_timeout": 60, "thinking_timeout": 5}}


@pytest.mark.parametrize("config_overrides", [THINKING_LIMIT], indirect=True, ids=["limit"])
async def test_a_thought_past_the_thinking_limit_is_not_counted(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    """The thought keeps the model past its first-token deadline (it is alive) until thinking_timeout ends it;
    the model waits are declared, so the bot's clock moves only when the test moves it."""
    await declare_model_waits(table.env, timeout=60)
    await start_game(table)
    answer = (await only_game(redis_url))["answer"]
    thinking = [{"reasoning_content": piece} for piece in thought("en", answer).split(" ")]
    fake_upstream.queue(Reply(deltas=thinking, keepalive="comment", keepalive_every=0.1))

    await table.alice.send(table.channel, QUESTION["en"])
    await settle_until(table.env, lambda: "💭" in bot_replies(table)[-1].content)
    await table.env.advance_time(2)  # past first_token_timeout: thinking counts as the model being alive
    await table.env.settle()
    assert "💭" in bot_replies(table)[-1].content
    await table.env.advance_time(4)  # past thinking_timeout
    await settle_until(table.env, lambda: "💭" not in bot_replies(table)[-1].content, within=5)
    assert bot_replies(table)[-1].content == TEXTS["en"]["no_verdict"]
    assert await transcript(redis_url) == []

    fake_upstream.queue(Reply.thinking("glm", thought("en", answer), ANSWER["en"]))
    await table.alice.send(table.channel, QUESTION["en"])
    await settle_until(table.env, lambda: bot_replies(table)[-1].content == SHOWN["en"])
    assert_nowhere(table, fake_upstream, await transcript(redis_url), MARKER["en"], answer)


async def test_a_model_that_starts_mid_thought_has_its_later_openings_held_to_the_closing_tag(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    """Its chat template opens the thought in the prompt: after the first such reply, a thought that itself
    begins like a verdict ("No, wait…") is not taken for the answer."""
    await start_game(table)
    answer = (await only_game(redis_url))["answer"]
    fake_upstream.queue(
        Reply.thinking("mid_thought", f"Okay, {thought('en', answer)}", ANSWER["en"]),
        Reply.thinking("mid_thought", f"No, wait. {thought('en', answer)}", "Yes. Keep going."),
    )
    await table.alice.send(table.channel, QUESTION["en"])
    await table.alice.send(table.channel, "Was he in a hurry?")
    assert [reply.content for reply in bot_replies(table)] == [SHOWN["en"], "✅ Yes. Keep going."]
    assert_nowhere(table, fake_upstream, await transcript(redis_url), MARKER["en"], answer)


@pytest.mark.parametrize("config_overrides", [THINKING_LIMIT], indirect=True, ids=["limit"])
async def test_a_long_thought_with_no_opening_tag_keeps_the_model_alive(
    table: Table, fake_upstream: FakeUpstream, redis_url: str
) -> None:
    """Output that starts mid-thought is held back until its closing tag; a long held opening counts as
    thinking, so the first-token deadline is met and the table sees the host think."""
    await declare_model_waits(table.env, timeout=60)
    await start_game(table)
    answer = (await only_game(redis_url))["answer"]
    gate = threading.Event()
    long_thought = f"Okay, let me weigh this carefully. {thought('en', answer)}"
    fake_upstream.queue(Reply.thinking("mid_thought", long_thought, ANSWER["en"], size=120, gate=gate))

    await table.alice.send(table.channel, QUESTION["en"])
    await settle_until(table.env, lambda: "💭" in bot_replies(table)[-1].content)
    await table.env.advance_time(3)  # past first_token_timeout (1 s), within thinking_timeout (5 s)
    await table.env.settle()
    assert "💭" in bot_replies(table)[-1].content
    gate.set()
    await settle_until(table.env, lambda: bot_replies(table)[-1].content == SHOWN["en"])
    assert_nowhere(table, fake_upstream, await transcript(redis_url), MARKER["en"], answer)
