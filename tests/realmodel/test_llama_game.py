"""A game played end to end against a real model server: the real bot under SimCord, real Redis, the model
service relaying to llama.cpp's server running SmolLM2-135M-Instruct (and the bot talking to it directly).

The tiny model's verdicts are whatever it says; the tests check that the whole path holds: the reply streams
into the channel, a readable verdict is stored as an exchange, an unreadable one shows the "unclear" line and
stores nothing, and nothing crashes.
"""

from __future__ import annotations

import pytest

from bot.game.facts import strip_facts_line
from bot.game.store import ACTIVE, SOLVED
from bot.game.verdict import Verdict, parse_verdict
from bot.texts import TEXTS, VERDICT_ICONS
from tests.bot.test_game_flow import bot_replies, start_game
from tests.bot_fixtures import Table
from tests.fakes.redis_state import only_game, transcript
from tests.realmodel.llama_server import MODEL_ALIAS, LlamaServer

UNCLEAR_LINES = tuple(TEXTS[language]["unclear"] for language in ("en", "zh"))
# Short replies keep the test quick: the verdict and a few words.
MODEL_SETTINGS = {"api_key": "service-key", "max_tokens": 32, "first_token_timeout": 60, "request_timeout": 120}
pytestmark = pytest.mark.simcord(settle_timeout=180)  # the model answers in real seconds on a busy CPU


async def ask_and_check(table: Table, redis_url: str, question: str) -> str:
    """Ask; the reply must be a verdict that was stored, or the unclear line with nothing stored."""
    stored_before = len(await transcript(redis_url))
    await table.alice.send(table.channel, question)
    reply = bot_replies(table)[-1]
    shown = reply.content
    assert shown and "⏳" not in shown and "⚠️" not in shown  # finished, and the host was reachable
    # Posted once when complete within stream.first_post_wait, else streamed into it: either is fine here.
    stored = len(await transcript(redis_url)) - stored_before
    if any(line in shown for line in UNCLEAR_LINES):
        assert stored == 0
    else:
        icon, _, text = shown.partition(" ")
        assert icon in VERDICT_ICONS.values() and parse_verdict(strip_facts_line(text)) is not Verdict.UNCLEAR
        assert stored == 1 or (await only_game(redis_url))["status"] != ACTIVE  # counted, or it solved
    return shown


@pytest.fixture
def config_overrides(request: pytest.FixtureRequest) -> dict[str, dict]:
    base_url = request.getfixturevalue(request.param)
    if request.param == "llama_base_url":
        return {"model": {**MODEL_SETTINGS, "base_url": base_url, "name": MODEL_ALIAS}}
    return {"model": {**MODEL_SETTINGS, "base_url": base_url}}


@pytest.fixture
def llama_base_url(llama_server: LlamaServer) -> str:
    return llama_server.base_url


@pytest.mark.parametrize("config_overrides", ["relay"], indirect=True)
async def test_a_game_through_the_model_service_relay(table: Table, redis_url: str) -> None:
    await start_game(table)
    # The relay passes response_format on: the server's refusal of json_schema comes back through it, and
    # json_object's schema is enforced, so even the tiny model's replies are always read as verdicts.
    for question in ("Was he alone?", "Did it happen at night?"):
        shown = await ask_and_check(table, redis_url, question)
        assert not any(line in shown for line in UNCLEAR_LINES)
    assert table.env.bot.host.formats.current == "json_object"
    assert (await only_game(redis_url))["status"] in (ACTIVE, SOLVED)


@pytest.mark.parametrize("config_overrides", ["llama_base_url"], indirect=True)
async def test_structured_verdicts_straight_to_llama_cpp_are_always_read(table: Table, redis_url: str) -> None:
    """llama-cpp-python's server refuses json_schema and enforces json_object's schema: every reply is a
    verdict the bot reads, in English and in Chinese."""
    await start_game(table)
    shown = await ask_and_check(table, redis_url, "Was he alone?")
    assert not any(line in shown for line in UNCLEAR_LINES)
    assert table.env.bot.host.formats.current == "json_object"
    await table.alice.slash(table.channel, "stop")
    await start_game(table, language="zh")
    shown = await ask_and_check(table, redis_url, "他是一个人吗？")
    assert not any(line in shown for line in UNCLEAR_LINES)
