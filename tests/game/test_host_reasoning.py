"""model.reasoning reaches each kind of server in its own form: what the fake upstream receives from the
host client, directly and through the model service's relay."""

from __future__ import annotations

from typing import Any

import pytest

from bot.game.host import ModelHost
from common.config import ModelConfig
from model_service.app import create_app
from model_service.server import ServerThread
from tests.fakes.upstream import FakeUpstream, Refusal
from tests.model_service.conftest import SERVICE_KEY, openai_config

QUESTION = [{"role": "user", "content": "Is he alive?"}]
TODAY = {"model": "turtle-host", "messages": QUESTION, "stream": True, "temperature": 0.2, "max_tokens": 1024}
EXPECTED: dict[tuple[str, str], dict[str, Any]] = {
    ("openai", "off"): {"reasoning_effort": "none"},
    ("openai", "low"): {"reasoning_effort": "low"},
    ("vllm", "off"): {"chat_template_kwargs": {"enable_thinking": False}},
    ("vllm", "high"): {"chat_template_kwargs": {"enable_thinking": True}, "reasoning_effort": "high"},
    ("sglang", "off"): {"chat_template_kwargs": {"enable_thinking": False}},
    ("llamacpp", "off"): {"chat_template_kwargs": {"enable_thinking": False}},
    ("llamacpp", "medium"): {"chat_template_kwargs": {"enable_thinking": True}},
    ("ollama", "off"): {"think": False, "reasoning_effort": "none"},
    ("ollama", "medium"): {"think": True, "reasoning_effort": "medium"},
    ("glm", "off"): {"thinking": {"type": "disabled"}},
    ("glm", "high"): {"thinking": {"type": "enabled"}},
    ("openrouter", "off"): {"reasoning": {"effort": "none"}},
    ("openrouter", "low"): {"reasoning": {"effort": "low"}},
}


async def sent_by_host(base_url: str, api_key: str | None, **model: Any) -> None:
    host = ModelHost(ModelConfig(base_url=base_url, api_key=api_key, max_retries=0, **model))
    try:
        assert "".join([piece async for piece in host.stream(QUESTION) if isinstance(piece, str)]) == "Yes."
    finally:
        await host.close()


@pytest.mark.parametrize(("provider", "reasoning"), list(EXPECTED))
async def test_each_provider_gets_its_own_form(fake_upstream: FakeUpstream, provider: str, reasoning: str) -> None:
    await sent_by_host(fake_upstream.base_url, None, provider=provider, reasoning=reasoning)
    assert fake_upstream.requests == [{**TODAY, **EXPECTED[provider, reasoning]}]


@pytest.mark.parametrize("provider", ["auto", "openai", "vllm", "ollama", "glm", "deepseek"])
async def test_default_sends_todays_request(fake_upstream: FakeUpstream, provider: str) -> None:
    await sent_by_host(fake_upstream.base_url, None, provider=provider)
    assert fake_upstream.requests == [TODAY]


async def test_deepseek_is_asked_by_model_name_alone(fake_upstream: FakeUpstream) -> None:
    await sent_by_host(fake_upstream.base_url, None, provider="deepseek", reasoning="high", name="deepseek-reasoner")
    assert fake_upstream.requests == [{**TODAY, "model": "deepseek-reasoner"}]


async def test_the_setting_passes_through_the_model_service(fake_upstream: FakeUpstream) -> None:
    with ServerThread(create_app(openai_config(fake_upstream))) as service:
        await sent_by_host(f"{service.url}/v1", SERVICE_KEY, provider="vllm", reasoning="off")
    sent = fake_upstream.requests[-1]
    assert sent["chat_template_kwargs"] == {"enable_thinking": False}
    assert (sent["model"], sent["max_tokens"], sent["temperature"]) == ("fake-model", 1024, 0.2)


async def test_off_at_an_openai_model_without_none_is_its_lowest_effort(fake_upstream: FakeUpstream) -> None:
    # An o-series model: OpenAI's 400 lists the efforts it takes, and the nearest to `none` is sent from then on.
    fake_upstream.refusals = [Refusal("reasoning_effort", "unsupported_value", supported=("low", "medium", "high"))]
    host = ModelHost(ModelConfig(base_url=fake_upstream.base_url, provider="openai", reasoning="off", max_retries=0))
    try:
        for _ in range(2):
            assert "".join([piece async for piece in host.stream(QUESTION) if isinstance(piece, str)]) == "Yes."
    finally:
        await host.close()
    assert [sent.get("reasoning_effort") for sent in fake_upstream.requests] == ["none", "low", "low"]


async def test_a_model_that_takes_no_effort_at_all_gets_none_sent(fake_upstream: FakeUpstream) -> None:
    fake_upstream.refusals = [Refusal("reasoning_effort", "unsupported_parameter")]
    await sent_by_host(fake_upstream.base_url, None, provider="openai", reasoning="low")
    assert [sent.get("reasoning_effort") for sent in fake_upstream.requests] == ["low", None]
