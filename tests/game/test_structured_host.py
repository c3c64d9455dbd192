"""The host client asks for structured verdicts, decodes them as they stream, and steps down to the text
protocol where an endpoint refuses the schema: over real HTTP against the scripted upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.game.host import HostUnavailable, ModelHost
from bot.game.structured import VerdictForm
from common.config import ModelConfig
from tests.fakes.upstream import FakeUpstream, Reply

FORM = VerdictForm("en", 3)
MESSAGES = [{"role": "system", "content": "You host."}, {"role": "user", "content": "Was he alone?"}]
STRUCTURED = '{"verdict": "no", "comment": "Someone was with him.", "facts": [2]}'
CANONICAL = "No. Someone was with him.\n[facts: 2]"
# How llama-cpp-python's server (0.3.x) refuses OpenAI's json_schema: a 500 whose message is the request
# validation error naming the field.
LLAMA_CPP_PYTHON_REFUSAL = {
    "error": {
        "message": "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
        "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}",
        "type": "internal_server_error",
        "param": None,
        "code": None,
    }
}
# A FastAPI server validating the request itself answers 422 with the field's location.
VALIDATION_REFUSAL = {"detail": [{"type": "literal_error", "loc": ["body", "response_format", "type"], "msg": "bad"}]}
# The model service relaying that refusal: a 502 quoting the upstream's message.
RELAYED_REFUSAL = {
    "error": {
        "message": "The upstream at http://127.0.0.1:8080/v1 answered HTTP 500: 1 validation error: "
        "{'type': 'literal_error', 'loc': ('body', 'response_format', 'type')}",
        "type": "upstream_error",
        "code": "upstream_http_500",
    }
}
OPENAI_STYLE_REFUSAL = {
    "error": {
        "message": "Invalid parameter: 'response_format' of type 'json_object' is not supported with this model.",
        "type": "invalid_request_error",
        "param": "response_format",
        "code": None,
    }
}


@pytest.fixture
async def host(fake_upstream: FakeUpstream) -> AsyncIterator[ModelHost]:
    client = ModelHost(ModelConfig(base_url=fake_upstream.base_url, api_key="k", max_retries=0, first_token_timeout=5))
    yield client
    await client.close()


async def ask(host: ModelHost, form: VerdictForm | None = FORM) -> list[str]:
    return [delta async for delta in host.stream(MESSAGES, verdict=form)]


def formats_asked(upstream: FakeUpstream) -> list[str | None]:
    return [(body.get("response_format") or {}).get("type") for body in upstream.requests]


def refusing(*refused: str, status: int = 400, body: dict[str, Any] = OPENAI_STYLE_REFUSAL):
    def respond(request: dict[str, Any]) -> Reply:
        kind = (request.get("response_format") or {}).get("type")
        if kind in refused:
            return Reply(status=status, error_body=body)
        return Reply.text(STRUCTURED if kind else "Yes. Text it is.\n[facts: none]", size=5)

    return respond


async def test_a_structured_reply_streams_as_the_text_protocol(host: ModelHost, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(Reply.text(STRUCTURED, size=3))
    deltas = await ask(host)
    assert "".join(deltas) == CANONICAL
    assert deltas[0] == "No."  # the verdict is a delta of its own, sent the moment its field closed
    [request] = fake_upstream.requests
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["schema"]["properties"]["facts"]["items"]["enum"] == [1, 2, 3]
    assert request["messages"][0]["content"].startswith("You host.\n\n") and "JSON" in request["messages"][0]["content"]
    assert request["messages"][1:] == MESSAGES[1:]


async def test_a_request_that_is_no_verdict_is_sent_as_it_was(host: ModelHost, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(Reply.text('{"hint": "Look at the"}'))
    assert "".join(await ask(host, form=None)) == '{"hint": "Look at the"}'  # a hint's text is not decoded
    assert "response_format" not in fake_upstream.requests[0]
    assert fake_upstream.requests[0]["messages"] == MESSAGES


@pytest.mark.parametrize(
    ("status", "body"), [(500, LLAMA_CPP_PYTHON_REFUSAL), (422, VALIDATION_REFUSAL), (502, RELAYED_REFUSAL)]
)
async def test_a_refused_json_schema_steps_down_to_json_object_once(
    host: ModelHost, fake_upstream: FakeUpstream, status: int, body: dict[str, Any]
) -> None:
    fake_upstream.responder = refusing("json_schema", status=status, body=body)
    assert "".join(await ask(host)) == CANONICAL
    assert "".join(await ask(host)) == CANONICAL
    # Refused once, then json_object from the first question on: no request is wasted on the second.
    assert formats_asked(fake_upstream) == ["json_schema", "json_object", "json_object"]
    assert fake_upstream.requests[1]["response_format"]["schema"]["required"] == ["verdict", "comment", "facts"]


async def test_an_endpoint_refusing_both_gets_the_text_protocol_from_then_on(
    host: ModelHost, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.responder = refusing("json_schema", "json_object")
    assert "".join(await ask(host)) == "Yes. Text it is.\n[facts: none]"
    assert "".join(await ask(host)) == "Yes. Text it is.\n[facts: none]"
    assert formats_asked(fake_upstream) == ["json_schema", "json_object", None, None]
    assert fake_upstream.requests[-1]["messages"] == MESSAGES  # no JSON note in the text protocol


async def test_a_server_that_ignores_the_schema_is_read_as_text(host: ModelHost, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(Reply.text("Irrelevant. Weather plays no part.\n[facts: none]"))
    assert "".join(await ask(host)) == "Irrelevant. Weather plays no part.\n[facts: none]"


async def test_a_400_about_something_else_is_not_a_refusal_of_the_format(
    host: ModelHost, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.queue(Reply(status=400, error_body={"error": {"message": "prompt too long", "param": "messages"}}))
    fake_upstream.queue(Reply(status=500))  # a plain server error either
    for _ in range(2):
        with pytest.raises(HostUnavailable):
            await ask(host)
    assert formats_asked(fake_upstream) == ["json_schema", "json_schema"]
    assert host.formats.current == "json_schema"


@pytest.mark.parametrize(("configured", "asked"), [("text", [None]), ("json_object", ["json_object"])])
async def test_the_configured_format_is_the_one_asked_for(
    fake_upstream: FakeUpstream, configured: str, asked: list[str | None]
) -> None:
    config = ModelConfig(base_url=fake_upstream.base_url, verdict_format=configured, max_retries=0)
    client = ModelHost(config)
    try:
        fake_upstream.queue(Reply.text(STRUCTURED if configured != "text" else CANONICAL))
        assert "".join(await ask(client)) == CANONICAL
    finally:
        await client.close()
    assert formats_asked(fake_upstream) == asked


async def test_a_configured_format_refused_falls_back_to_text(fake_upstream: FakeUpstream) -> None:
    client = ModelHost(ModelConfig(base_url=fake_upstream.base_url, verdict_format="json_schema", max_retries=0))
    fake_upstream.responder = refusing("json_schema")
    try:
        assert "".join(await ask(client)) == "Yes. Text it is.\n[facts: none]"
    finally:
        await client.close()
    assert formats_asked(fake_upstream) == ["json_schema", None]
