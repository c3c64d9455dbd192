"""The relay in front of an upstream that refuses parameters the way OpenAI's reasoning models do."""

from __future__ import annotations

import httpx
import pytest

from model_service.server import ServerThread
from tests.fakes.upstream import OPENAI_REASONING_REFUSALS, FakeUpstream, Refusal, Reply
from tests.model_service.conftest import SERVICE_KEY, StartService, openai_config

HELLO = [{"role": "user", "content": "Is the man alive?"}]
TODAY = {"messages": HELLO, "temperature": 0.2, "max_tokens": 300}


@pytest.fixture
def service(fake_upstream: FakeUpstream, start_service: StartService) -> ServerThread:
    """The relay with room for a refusal and its retry before the first token: these tests are about the
    adaptation, and the usual 0.5 s deadline was missed on a busy machine (a 504 instead of the retry's text)."""
    return start_service(openai_config(fake_upstream, first_token_timeout=10))


async def post(service: ServerThread, body: dict[str, object]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=service.url, timeout=10) as http:
        return await http.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {SERVICE_KEY}"})


async def test_refused_parameters_are_adapted_once_and_remembered(
    service: ServerThread, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.refusals = list(OPENAI_REASONING_REFUSALS)
    fake_upstream.default = Reply.text("No.")
    first = await post(service, TODAY)
    assert first.status_code == 200, first.text
    assert first.json()["choices"][0]["message"]["content"] == "No."
    # One reshaped retry per rule the upstream taught: max_tokens, then temperature.
    tried = [
        sorted(set(sent) & {"max_tokens", "max_completion_tokens", "temperature"}) for sent in fake_upstream.requests
    ]
    assert tried == [["max_tokens", "temperature"], ["max_completion_tokens", "temperature"], ["max_completion_tokens"]]
    assert fake_upstream.requests[-1]["max_completion_tokens"] == 300
    # Remembered for the model: the next request goes out right the first time, streamed too.
    fake_upstream.requests.clear()
    assert (await post(service, {**TODAY, "stream": True})).status_code == 200
    assert len(fake_upstream.requests) == 1
    assert "temperature" not in fake_upstream.requests[0] and "max_tokens" not in fake_upstream.requests[0]


async def test_the_default_temperature_is_not_refused(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    fake_upstream.refusals = list(OPENAI_REASONING_REFUSALS)
    assert (await post(service, {"messages": HELLO, "temperature": 1, "max_completion_tokens": 9})).status_code == 200
    assert len(fake_upstream.requests) == 1


async def test_a_refusal_it_cannot_adapt_to_is_not_retried(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    fake_upstream.refusals = [Refusal("logit_bias", "unsupported_parameter")]
    response = await post(service, {"messages": HELLO, "logit_bias": {"1": 3}})
    assert response.status_code == 400 and response.json()["error"]["param"] == "logit_bias"
    assert len(fake_upstream.requests) == 1


async def test_a_refusal_that_persists_is_not_retried_again(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    # A server that names `temperature` whatever is sent: one reshaped retry, then its 400 is the answer.
    fake_upstream.queue(
        *[Reply(status=400, error=Refusal("temperature", "unsupported_value").error({"temperature": 0}))] * 3
    )
    response = await post(service, TODAY)
    assert response.status_code == 400 and response.json()["error"]["param"] == "temperature"
    assert len(fake_upstream.requests) == 2


async def test_a_server_that_predates_stream_options_still_streams(
    service: ServerThread, fake_upstream: FakeUpstream
) -> None:
    # Refused in the server's own words, without OpenAI's param or code.
    refusal = {"message": "Unrecognized request argument supplied: stream_options", "type": "invalid_request_error"}
    fake_upstream.queue(Reply(status=400, error=refusal), Reply.text("No."), Reply.text("Yes."))
    for _ in range(2):
        assert (await post(service, {"messages": HELLO, "stream": True})).status_code == 200
    assert ["stream_options" in sent for sent in fake_upstream.requests] == [True, False, False]
