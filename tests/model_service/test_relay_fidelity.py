"""The relay over real HTTP: every field the client sends reaches the upstream as sent, the upstream's
own refusals come back, usage is the upstream's, and thinking fields pass through to the client."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from model_service.server import ServerThread
from tests.fakes.upstream import FakeUpstream, Refusal, Reply
from tests.model_service.conftest import SERVICE_KEY, UPSTREAM_KEY, StartService, openai_config

HELLO = [{"role": "user", "content": "Is the man alive?"}]
# Every option a client may send today, none of which the service reads itself.
RICH_REQUEST: dict[str, Any] = {
    "messages": [
        {"role": "developer", "content": "Answer as the host."},
        {"role": "user", "name": "player-7", "content": [{"type": "text", "text": "Is the man alive?"}]},
        {"role": "assistant", "content": "No.", "reasoning_content": "He drowned."},
        {"role": "user", "content": "Was he at sea?"},
    ],
    "temperature": 0.3,
    "top_p": 0.9,
    "max_completion_tokens": 50,
    "stop": ["\n\n"],
    "seed": 7,
    "presence_penalty": 0.5,
    "frequency_penalty": -0.25,
    "logit_bias": {"50256": -100},
    "logprobs": True,
    "top_logprobs": 2,
    "response_format": {
        "type": "json_object",
        "schema": {"type": "object", "properties": {"verdict": {"type": "string"}}, "required": ["verdict"]},
    },
    "reasoning_effort": "low",
    "chat_template_kwargs": {"enable_thinking": False},
    "tools": [{"type": "function", "function": {"name": "look", "parameters": {"type": "object"}}}],
    "tool_choice": "none",
    "parallel_tool_calls": False,
    "user": "player-7",
    "metadata": {"table": "12"},
}
THOUGHTS = [{"reasoning_content": "The keeper turned "}, {"reasoning_content": "off the light."}]
USAGE = {
    "prompt_tokens": 33,
    "completion_tokens": 9,
    "total_tokens": 42,
    "completion_tokens_details": {"reasoning_tokens": 6},
}


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {SERVICE_KEY}"}


async def post(service: ServerThread, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=service.url, timeout=10) as http:
        return await http.post("/v1/chat/completions", json=body, headers=auth())


async def events(service: ServerThread, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The streamed reply's JSON events (without [DONE])."""
    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream("POST", f"{service.url}/v1/chat/completions", json=body, headers=auth()) as response,
    ):
        assert response.status_code == 200
        lines = [line.removeprefix("data: ") async for line in response.aiter_lines() if line]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


async def metric(service: ServerThread, name: str) -> float:
    async with httpx.AsyncClient(base_url=service.url) as http:
        text = (await http.get("/metrics")).text
    return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(f"{name} ")))


# -- request fields ---------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_every_field_arrives_as_sent(service: ServerThread, fake_upstream: FakeUpstream, stream: bool) -> None:
    fake_upstream.queue(Reply.text("{}"))
    response = await post(service, {**RICH_REQUEST, "model": "turtle-host", "stream": stream})
    assert response.status_code == 200, response.text
    sent = fake_upstream.requests[-1]
    # The service owns only the model and, for a stream, asking for usage.
    usage = {"stream_options": {"include_usage": True}} if stream else {}
    assert sent == {**RICH_REQUEST, "model": "fake-model", "stream": stream, **usage}


async def test_both_token_limits_arrive_under_their_own_names(
    service: ServerThread, fake_upstream: FakeUpstream
) -> None:
    for field in ("max_tokens", "max_completion_tokens"):
        assert (await post(service, {"messages": HELLO, field: 12})).status_code == 200
        sent = fake_upstream.requests[-1]
        assert sent[field] == 12 and len({"max_tokens", "max_completion_tokens"} & set(sent)) == 1


async def test_an_unknown_stream_option_is_refused_not_ignored(
    service: ServerThread, fake_upstream: FakeUpstream
) -> None:
    body = {"messages": HELLO, "stream": True, "stream_options": {"include_usage": True, "include_obfuscation": True}}
    response = await post(service, body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "stream_options.include_obfuscation"
    assert fake_upstream.requests == []


# -- the upstream's refusals ----------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_upstream_400_naming_a_field_reaches_the_client(
    service: ServerThread, fake_upstream: FakeUpstream, stream: bool
) -> None:
    error = {
        "message": "'response_format.type' must be 'json_object' or 'text'",
        "type": "invalid_request_error",
        "param": "response_format.type",
        "code": "invalid_value",
    }
    fake_upstream.queue(Reply(status=400, error=error))
    async with openai.AsyncOpenAI(base_url=f"{service.url}/v1", api_key=SERVICE_KEY, max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(
                model="m", messages=HELLO, stream=stream, response_format={"type": "json_schema"}
            )
    assert caught.value.status_code == 400
    assert caught.value.body == error


async def test_openai_style_refusal_reaches_the_client_verbatim(
    service: ServerThread, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.refusals = [Refusal("logit_bias", "unsupported_parameter")]
    response = await post(service, {"messages": HELLO, "logit_bias": {"1": 5}})
    assert response.status_code == 400
    body = response.json()["error"]
    assert (body["param"], body["code"]) == ("logit_bias", "unsupported_parameter")
    assert body["type"] == "invalid_request_error"
    assert body["message"] == "Unsupported parameter: 'logit_bias' is not supported with this model."


async def test_an_upstream_refusal_never_echoes_our_key(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    error = {"message": f"key {UPSTREAM_KEY} may not set logit_bias", "param": "logit_bias", "code": "invalid_value"}
    fake_upstream.queue(Reply(status=400, error=error))
    response = await post(service, {"messages": HELLO, "logit_bias": {"1": 3}})
    assert response.status_code == 400 and response.json()["error"]["param"] == "logit_bias"
    assert UPSTREAM_KEY not in response.text and "[redacted]" in response.text


# -- usage ------------------------------------------------------------------------------------


async def test_a_whole_answer_is_the_upstreams_own(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    # One `created` for both answers: two requests may straddle a second (a CI run saw 1796713645 against ...44).
    reply = Reply(chunks=["No, ", "he is not."], extra_deltas=THOUGHTS, usage=USAGE, created=1_700_000_000)
    fake_upstream.queue(reply, reply)
    async with httpx.AsyncClient(timeout=10) as http:
        direct = (await http.post(f"{fake_upstream.base_url}/chat/completions", json={"messages": HELLO})).json()
    relayed = (await post(service, {"messages": HELLO})).json()
    assert relayed == {**direct, "model": "turtle-host"}  # usage, thinking and created included, field for field
    assert relayed["usage"] == USAGE
    assert fake_upstream.requests[-1]["stream"] is False  # asked whole, as the client asked


async def test_a_whole_answer_records_the_metrics(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(Reply.text("No.", usage=USAGE))
    await post(service, {"messages": HELLO})
    assert await metric(service, "model_service_time_to_first_token_seconds_count") == 1
    assert await metric(service, "model_service_in_flight_requests") == 0


async def test_streamed_usage_is_the_upstreams_when_asked(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(Reply.text("No.", usage=USAGE), Reply.text("No.", usage=USAGE))
    asked = await events(service, {"messages": HELLO, "stream": True, "stream_options": {"include_usage": True}})
    assert asked[-1]["choices"] == [] and asked[-1]["usage"] == USAGE
    assert sum("usage" in event for event in asked) == 1
    not_asked = await events(service, {"messages": HELLO, "stream": True})
    assert not any("usage" in event for event in not_asked)  # OpenAI sends usage in a stream only when asked


async def test_metrics_count_the_upstreams_usage(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(Reply.text("No.", usage=USAGE), Reply.text("Yes.", usage=USAGE))
    await post(service, {"messages": HELLO})
    await events(service, {"messages": HELLO, "stream": True})
    assert await metric(service, "model_service_prompt_tokens_total") == 66
    assert await metric(service, "model_service_completion_tokens_total") == 18
    assert await metric(service, "model_service_reasoning_tokens_total") == 12


# -- thinking and other delta fields ----------------------------------------------------------------


async def test_thinking_fields_stream_through_unchanged(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(Reply(chunks=["No", "."], extra_deltas=[*THOUGHTS, {"reasoning": "OpenRouter's field."}]))
    deltas = [event["choices"][0]["delta"] for event in await events(service, {"messages": HELLO, "stream": True})]
    assert deltas[1:4] == [*THOUGHTS, {"reasoning": "OpenRouter's field."}]
    assert "".join(delta.get("content") or "" for delta in deltas) == "No."


async def test_empty_delta_fields_are_not_relayed(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    # Some servers send `"tool_calls": []` or `"reasoning_content": null` in every delta: they say nothing.
    empty = {"tool_calls": [], "reasoning_content": None, "refusal": ""}
    fake_upstream.queue(Reply(chunks=["No."], extra_deltas=[empty, empty]))
    deltas = [event["choices"][0]["delta"] for event in await events(service, {"messages": HELLO, "stream": True})]
    assert deltas == [{"role": "assistant", "content": ""}, {"content": "No."}, {}]


async def test_thinking_fields_in_a_whole_reply(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(Reply(chunks=["No", "."], extra_deltas=THOUGHTS))
    message = (await post(service, {"messages": HELLO})).json()["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "No.", "reasoning_content": "The keeper turned off the light."}


async def test_thinking_counts_as_the_first_token(start_service: StartService, fake_upstream: FakeUpstream) -> None:
    service = start_service(openai_config(fake_upstream, first_token_timeout=0.5))
    # Thinking at once, the answer after longer than first_token_timeout: the model was alive all along.
    thoughts = [{"reasoning_content": "hmm "}] * 4
    fake_upstream.queue(Reply(chunks=["No."], chunk_delay=0.2, extra_deltas=thoughts))
    deltas = [event["choices"][0]["delta"] for event in await events(service, {"messages": HELLO, "stream": True})]
    assert "".join(delta.get("content") or "" for delta in deltas) == "No."


async def test_tool_calls_stream_through_unchanged(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    pieces = [
        {"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "look"}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"at": "sea"}'}}]},
    ]
    fake_upstream.queue(Reply(chunks=[""], extra_deltas=pieces))
    body = {"messages": HELLO, "tools": RICH_REQUEST["tools"], "stream": True}
    deltas = [event["choices"][0]["delta"] for event in await events(service, body)]
    assert deltas[1:3] == pieces
