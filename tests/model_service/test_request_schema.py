"""The request schema over real HTTP: what the service cannot honour (images, tools, null content,
lax types, absurd token limits) is a 400 naming the field, and nothing of it reaches the upstream."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from model_service.schemas import MAX_TOKENS_LIMIT
from model_service.server import ServerThread
from tests.fakes.upstream import FakeUpstream, Reply
from tests.model_service.conftest import SERVICE_KEY

HELLO = [{"role": "user", "content": "Is the man alive?"}]
IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/lighthouse.png"}}
TOOL_CALL = {"id": "call_1", "type": "function", "function": {"name": "look", "arguments": "{}"}}


async def post(service: ServerThread, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=service.url, timeout=10) as http:
        return await http.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {SERVICE_KEY}"})


async def refused(service: ServerThread, fake_upstream: FakeUpstream, body: dict[str, Any]) -> dict[str, Any]:
    """Post `body`, require OpenAI's 400 envelope and no upstream call; returns the error object."""
    response = await post(service, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_request"
    assert error["param"] in error["message"]
    assert fake_upstream.requests == []
    return error


# -- content ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        [IMAGE],
        [{"type": "text", "text": "What is in this picture?"}, IMAGE],
        [{"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}],
        [{"text": "a part without a type"}],
        ["a bare string part"],
    ],
)
async def test_non_text_content_parts_are_400(
    service: ServerThread, fake_upstream: FakeUpstream, content: list[object]
) -> None:
    error = await refused(service, fake_upstream, {"messages": [{"role": "user", "content": content}]})
    assert error["param"] == "messages.0.content"
    assert "only text parts are supported" in error["message"]


async def test_image_part_is_named_in_the_message(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    messages = [*HELLO, {"role": "user", "content": [{"type": "text", "text": "Look:"}, IMAGE]}]
    error = await refused(service, fake_upstream, {"messages": messages})
    assert error["param"] == "messages.1.content"
    assert "content part 1 has 'image_url'" in error["message"]


@pytest.mark.parametrize("role", ["system", "user", "assistant"])
async def test_null_content_is_400(service: ServerThread, fake_upstream: FakeUpstream, role: str) -> None:
    messages = [*HELLO, {"role": role, "content": None}]
    error = await refused(service, fake_upstream, {"messages": messages})
    assert error["param"] == "messages.1.content"
    assert "not null" in error["message"]


async def test_assistant_with_only_tool_calls_is_400(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    messages = [*HELLO, {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]}, *HELLO]
    error = await refused(service, fake_upstream, {"messages": messages})
    assert error["param"] == "messages.1.content"
    assert "no tools" in error["message"]


@pytest.mark.parametrize(
    ("message", "param"),
    [
        ({"role": "user"}, "messages.0.content"),
        ({"role": "user", "content": []}, "messages.0.content"),
        ({"role": "user", "content": 42}, "messages.0.content"),
        ({"role": "user", "content": {"type": "text", "text": "hi"}}, "messages.0.content"),
        ({"role": "user", "content": [{"type": "text", "text": 42}]}, "messages.0.content"),
        ({"role": "user", "content": [{"type": "text"}]}, "messages.0.content"),
        ({"role": "user", "content": "hi", "name": 7}, "messages.0.name"),
    ],
)
async def test_malformed_messages_are_400(
    service: ServerThread, fake_upstream: FakeUpstream, message: dict[str, object], param: str
) -> None:
    error = await refused(service, fake_upstream, {"messages": [message]})
    assert error["param"] == param


async def test_text_parts_are_relayed_as_sent(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(Reply.text("No."))
    parts = [{"type": "text", "text": "Is the man "}, {"type": "text", "text": "alive?"}]
    async with openai.AsyncOpenAI(base_url=f"{service.url}/v1", api_key=SERVICE_KEY, max_retries=0) as client:
        reply = await client.chat.completions.create(
            model="m", messages=[{"role": "system", "content": "A puzzle."}, {"role": "user", "content": parts}]
        )
    assert reply.choices[0].message.content == "No."
    sent = fake_upstream.requests[-1]["messages"]
    assert sent == [{"role": "system", "content": "A puzzle."}, {"role": "user", "content": parts}]


# -- tool messages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        {"role": "tool", "content": "42"},
        {"role": "tool", "content": "42", "tool_call_id": "call_1"},
        {"role": "function", "content": "42", "name": "look"},
    ],
)
async def test_tool_messages_are_400(
    service: ServerThread, fake_upstream: FakeUpstream, message: dict[str, object]
) -> None:
    messages = [*HELLO, {"role": "assistant", "content": "", "tool_calls": [TOOL_CALL]}, message]
    error = await refused(service, fake_upstream, {"messages": messages})
    assert error["param"] == "messages.2.role"
    assert f"role '{message['role']}' is not supported" in error["message"]
    assert "tools" in error["message"]


async def test_tool_message_is_400_through_the_openai_client(
    service: ServerThread, fake_upstream: FakeUpstream
) -> None:
    async with openai.AsyncOpenAI(base_url=f"{service.url}/v1", api_key=SERVICE_KEY, max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model="m", messages=[*HELLO, {"role": "tool", "content": "42"}])
    assert caught.value.status_code == 400
    assert caught.value.param == "messages.1.role"
    assert fake_upstream.requests == []


# -- strict types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stream", "yes"),
        ("stream", "true"),
        ("stream", 1),
        ("temperature", "0.5"),
        ("temperature", True),
        ("top_p", "0.9"),
        ("max_tokens", "5"),
        ("max_tokens", 5.0),
        ("max_tokens", 5.5),
        ("max_tokens", True),
        ("max_completion_tokens", "5"),
        ("n", "1"),
        ("n", 1.0),
        ("model", 4),
        ("stop", 3),
        ("stop", ["\n", 3]),
        ("user", 12),
    ],
)
async def test_lax_types_are_400(service: ServerThread, fake_upstream: FakeUpstream, field: str, value: object) -> None:
    error = await refused(service, fake_upstream, {"messages": HELLO, field: value})
    assert error["param"].split(".")[0] == field


async def test_lax_include_usage_is_400(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    body = {"messages": HELLO, "stream": True, "stream_options": {"include_usage": "yes"}}
    error = await refused(service, fake_upstream, body)
    assert error["param"] == "stream_options.include_usage"


async def test_lax_role_is_400(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    error = await refused(service, fake_upstream, {"messages": [{"role": ["user"], "content": "hi"}]})
    assert error["param"] == "messages.0.role"


async def test_json_numbers_and_booleans_still_pass(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(Reply.text("Yes."))
    body = {"messages": HELLO, "stream": False, "temperature": 1, "top_p": 0.5, "max_tokens": 9, "n": 1, "stop": "\n"}
    response = await post(service, body)
    assert response.status_code == 200, response.text
    sent = fake_upstream.requests[-1]
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"], sent["stop"]) == (1.0, 0.5, 9, "\n")


# -- token limits ----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
@pytest.mark.parametrize("value", [0, -1, MAX_TOKENS_LIMIT + 1, 99999999999999999999999])
async def test_token_limit_out_of_range_is_400(
    service: ServerThread, fake_upstream: FakeUpstream, field: str, value: int
) -> None:
    error = await refused(service, fake_upstream, {"messages": HELLO, field: value})
    assert error["param"] == field


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
async def test_token_limit_at_the_bound_is_relayed(
    service: ServerThread, fake_upstream: FakeUpstream, field: str
) -> None:
    fake_upstream.queue(Reply.text("Yes."))
    response = await post(service, {"messages": HELLO, field: MAX_TOKENS_LIMIT})
    assert response.status_code == 200, response.text
    assert fake_upstream.requests[-1][field] == MAX_TOKENS_LIMIT


async def test_huge_max_tokens_is_400_through_the_openai_client(
    service: ServerThread, fake_upstream: FakeUpstream
) -> None:
    async with openai.AsyncOpenAI(base_url=f"{service.url}/v1", api_key=SERVICE_KEY, max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model="m", messages=HELLO, max_tokens=99999999999999999999999)
    assert caught.value.param == "max_tokens"
    assert str(MAX_TOKENS_LIMIT) in caught.value.message
    assert fake_upstream.requests == []
