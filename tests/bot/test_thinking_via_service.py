"""A reasoning model as host behind our model service (the `openai` relay backend): the bot asks the service,
the service asks the fake upstream, which streams each server's thinking shape. No word of the thought may
reach a player, the transcript or a later request's history; the verdict after it counts.

Inline thinking reaches the bot as content and is removed there. Thinking in fields is passed on as
OpenAI-compatible servers do or dropped by the relay; either way the bot must show none of it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from common.config import Config
from model_service.app import create_app
from model_service.server import ServerThread
from tests.bot.test_game_flow import bot_replies, start_game
from tests.bot.test_thinking import ANSWER, FOLLOW_UP, MARKER, QUESTION, SHOWN, assert_nowhere, thought
from tests.bot_fixtures import Table, bot_config
from tests.fakes.redis_state import only_game, transcript
from tests.fakes.upstream import SHAPES, FakeUpstream, Reply
from tests.model_service.conftest import SERVICE_KEY, openai_config


@pytest.fixture
def model_service(fake_upstream: FakeUpstream) -> Iterator[ServerThread]:
    server = ServerThread(create_app(openai_config(fake_upstream, first_token_timeout=5, request_timeout=10))).start()
    yield server
    server.stop()


@pytest.fixture
def bot_settings(redis_url: str, fake_upstream: FakeUpstream, model_service: ServerThread) -> Config:
    config = bot_config(redis_url, fake_upstream)
    model = config.model.model_copy(update={"base_url": f"{model_service.url}/v1", "api_key": SERVICE_KEY})
    return config.model_copy(update={"model": model})


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
async def test_through_the_model_service_the_thought_is_never_shown_stored_or_sent_back(
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
        Reply.thinking(shape, thought(language, answer), ANSWER[language], size=3), Reply.text(follow_up_reply)
    )

    await table.alice.send(table.channel, QUESTION[language])
    assert bot_replies(table)[-1].content == SHOWN[language]
    await table.bob.send(table.channel, follow_up)

    stored = await transcript(redis_url)
    assert [json.loads(entry)["v"] for entry in stored] == ["no", "yes"]
    assert_nowhere(table, fake_upstream, stored, MARKER[language], answer)
    assert not [
        record
        for record in caplog.records
        if record.levelno > logging.DEBUG and MARKER[language] in record.getMessage()
    ]
    assert fake_upstream.requests[1]["messages"][2] == {"role": "assistant", "content": ANSWER[language]}
