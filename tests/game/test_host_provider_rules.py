"""The host client against a server that refuses `max_tokens` and temperature ≠ 1 as OpenAI's reasoning
models do: directly, and through the model service's relay. A server that accepts everything keeps
getting today's request."""

from __future__ import annotations

from bot.game.host import ModelHost
from common.config import ModelConfig
from model_service.app import create_app
from model_service.server import ServerThread
from tests.fakes.upstream import OPENAI_REASONING_REFUSALS, FakeUpstream, Reply
from tests.model_service.conftest import SERVICE_KEY, openai_config

QUESTION = [{"role": "system", "content": "A puzzle."}, {"role": "user", "content": "Is he alive?"}]


async def ask(host: ModelHost) -> str:
    return "".join([piece async for piece in host.stream(QUESTION) if isinstance(piece, str)])


def host_for(base_url: str, api_key: str | None = None) -> ModelHost:
    return ModelHost(ModelConfig(base_url=base_url, api_key=api_key, name="o4-mini", max_retries=0))


async def test_a_server_that_accepts_everything_gets_todays_request(fake_upstream: FakeUpstream) -> None:
    host = host_for(fake_upstream.base_url)
    try:
        assert await ask(host) == "Yes."
    finally:
        await host.close()
    assert fake_upstream.requests == [
        {"model": "o4-mini", "messages": QUESTION, "stream": True, "temperature": 0.2, "max_tokens": 1024}
    ]


async def test_refused_parameters_are_adapted_directly(fake_upstream: FakeUpstream) -> None:
    fake_upstream.refusals = list(OPENAI_REASONING_REFUSALS)
    fake_upstream.default = Reply.text("No. He is not.")
    host = host_for(fake_upstream.base_url)
    try:
        assert await ask(host) == "No. He is not."
        assert len(fake_upstream.requests) == 3  # today's, then one reshaped retry per refused parameter
        fake_upstream.requests.clear()
        assert await ask(host) == "No. He is not."
    finally:
        await host.close()
    assert fake_upstream.requests == [
        {"model": "o4-mini", "messages": QUESTION, "stream": True, "max_completion_tokens": 1024}
    ]


async def test_refused_parameters_are_adapted_through_the_model_service(fake_upstream: FakeUpstream) -> None:
    fake_upstream.refusals = list(OPENAI_REASONING_REFUSALS)
    fake_upstream.default = Reply.text("No. He is not.")
    with ServerThread(create_app(openai_config(fake_upstream))) as service:
        host = host_for(f"{service.url}/v1", SERVICE_KEY)
        try:
            assert await ask(host) == "No. He is not."
            assert await ask(host) == "No. He is not."
        finally:
            await host.close()
    assert len(fake_upstream.requests) == 4  # the relay learned both rules on the first question
    assert "temperature" not in fake_upstream.requests[-1] and "max_tokens" not in fake_upstream.requests[-1]
