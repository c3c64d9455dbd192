"""The service over the fake upstream, called with the official openai client and raw httpx."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time

import httpx
import openai
import pytest

from model_service.server import ServerThread
from tests.fakes.upstream import FakeUpstream, Reply
from tests.model_service.conftest import SERVICE_KEY, UPSTREAM_KEY, StartService, openai_config, wait_until

HELLO = [{"role": "user", "content": "Is the man alive?"}]
LONG_TEXT = "The man was a lighthouse keeper who turned off the light. " * 3


def client_for(service: ServerThread, key: str | None = SERVICE_KEY) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{service.url}/v1", api_key=key or "none", max_retries=0, timeout=10)


def auth(key: str = SERVICE_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def sse_lines(service: ServerThread, body: dict[str, object]) -> tuple[int, list[str]]:
    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream("POST", f"{service.url}/v1/chat/completions", json=body, headers=auth()) as response,
    ):
        return response.status_code, [line async for line in response.aiter_lines()]


# -- happy paths -----------------------------------------------------------------------------


async def test_non_streamed_text_equals_upstream(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(Reply.text(LONG_TEXT))
    async with client_for(service) as client:
        reply = await client.chat.completions.create(model="turtle-host", messages=HELLO)
    assert reply.choices[0].message.content == LONG_TEXT
    assert reply.choices[0].finish_reason == "stop"
    assert reply.object == "chat.completion"
    assert reply.model == "turtle-host"
    assert reply.usage is not None and reply.usage.completion_tokens > 0


async def test_streamed_text_equals_upstream(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(Reply.text(LONG_TEXT, chunk_delay=0.001))
    async with client_for(service) as client:
        stream = await client.chat.completions.create(model="turtle-host", messages=HELLO, stream=True)
        chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == LONG_TEXT
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(chunk.choices[0].finish_reason is None for chunk in chunks[:-1])
    assert len({chunk.id for chunk in chunks}) == 1


async def test_sse_wire_format(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(Reply(chunks=["Ye", "s."]))
    body = {"model": "m", "messages": HELLO, "stream": True, "stream_options": {"include_usage": True}}
    status, lines = await sse_lines(service, body)
    assert status == 200
    events = [line for line in lines if line]
    assert all(line.startswith("data: ") for line in events)
    assert lines[1::2] == [""] * (len(lines) // 2)  # every event ends with a blank line
    assert events[-1] == "data: [DONE]"
    payloads = [json.loads(line.removeprefix("data: ")) for line in events[:-1]]
    assert [p["object"] for p in payloads] == ["chat.completion.chunk"] * len(payloads)
    assert payloads[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [p["choices"][0]["delta"].get("content") for p in payloads[1:3]] == ["Ye", "s."]
    assert payloads[3]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert payloads[4]["choices"] == [] and payloads[4]["usage"]["completion_tokens"] == 2


async def test_first_chunk_arrives_before_upstream_finishes(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    gate = threading.Event()
    fake_upstream.queue(Reply(chunks=["First", " second", " third"], gate=gate))
    async with client_for(service) as client:
        stream = await client.chat.completions.create(model="m", messages=HELLO, stream=True)
        texts = []
        async for chunk in stream:
            texts.append(chunk.choices[0].delta.content or "")
            if texts[-1] == "First":
                assert fake_upstream.completed == 0  # the upstream is still held at the gate
                gate.set()
    assert "".join(texts) == "First second third"
    assert gate.is_set()


async def test_request_options_reach_upstream(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    messages = [{"role": "system", "content": "The answer: he was a diver."}, *HELLO]
    async with client_for(service) as client:
        await client.chat.completions.create(
            model="turtle-host",
            messages=messages,
            temperature=0.2,
            top_p=0.9,
            max_tokens=7,
            stop=["\n"],
            extra_body={"some_future_option": True},
        )
    sent = fake_upstream.requests[-1]
    assert sent["model"] == "fake-model"
    assert sent["messages"] == messages
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"], sent["stop"]) == (0.2, 0.9, 7, ["\n"])
    assert sent["some_future_option"] is True  # an option the service does not know is still the client's
    assert fake_upstream.headers[-1]["Authorization"] == f"Bearer {UPSTREAM_KEY}"


async def test_models_health_ready_and_metrics(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    async with client_for(service) as client:
        models = await client.models.list()
        await client.chat.completions.create(model="m", messages=HELLO)
    assert [model.id for model in models.data] == ["turtle-host"]
    async with httpx.AsyncClient(base_url=service.url) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        metrics = (await http.get("/metrics")).text
    assert 'model_service_requests_total{path="/v1/chat/completions",status="200"} 1.0' in metrics
    assert "model_service_in_flight_requests 0.0" in metrics
    assert "model_service_time_to_first_token_seconds_count 1.0" in metrics
    assert "model_service_completion_tokens_total 2.0" in metrics


async def test_readyz_503_when_upstream_unreachable(start_service: StartService, fake_upstream: FakeUpstream) -> None:
    config = openai_config(fake_upstream, openai={"base_url": f"http://127.0.0.1:{closed_port()}/v1"})
    service = start_service(config)
    async with httpx.AsyncClient(base_url=service.url) as http:
        ready = await http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["error"]["code"] == "not_ready"


# -- auth and validation -----------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "wrong-key"])
async def test_missing_or_wrong_key_is_401(service: ServerThread, key: str | None) -> None:
    headers = auth(key) if key else {}
    async with httpx.AsyncClient(base_url=service.url) as http:
        for method, path in (("GET", "/v1/models"), ("POST", "/v1/chat/completions")):
            response = await http.request(method, path, headers=headers, json={"messages": HELLO})
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "invalid_api_key"
            assert set(response.json()["error"]) >= {"message", "type", "code"}
    async with client_for(service, key="wrong-key") as client:
        with pytest.raises(openai.AuthenticationError):
            await client.chat.completions.create(model="m", messages=HELLO)


async def test_no_key_configured_means_open(start_service: StartService, fake_upstream: FakeUpstream) -> None:
    service = start_service(openai_config(fake_upstream, api_key=None))
    async with httpx.AsyncClient(base_url=service.url) as http:
        response = await http.post("/v1/chat/completions", json={"messages": HELLO})
    assert response.status_code == 200


async def test_n_other_than_one_is_400(service: ServerThread) -> None:
    async with client_for(service) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model="m", messages=HELLO, n=2)
    assert caught.value.code == "unsupported_parameter"
    assert caught.value.param == "n"


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m"},
        {"model": "m", "messages": []},
        {"model": "m", "messages": [{"role": "wizard", "content": "hi"}]},
        {"model": "m", "messages": "hi"},
        {"model": "m", "messages": HELLO, "temperature": 5},
        {"model": "m", "messages": HELLO, "stop": ["a", "b", "c", "d", "e"]},
    ],
)
async def test_malformed_requests_get_the_envelope(service: ServerThread, body: dict[str, object]) -> None:
    async with httpx.AsyncClient(base_url=service.url) as http:
        response = await http.post("/v1/chat/completions", json=body, headers=auth())
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]


async def test_not_json_404_and_405_get_the_envelope(service: ServerThread) -> None:
    async with httpx.AsyncClient(base_url=service.url) as http:
        not_json = await http.post("/v1/chat/completions", content=b"{nope", headers=auth())
        missing = await http.get("/v1/nothing", headers=auth())
        wrong_method = await http.get("/v1/chat/completions", headers=auth())
    assert not_json.status_code == 400 and "error" in not_json.json()
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"


# -- upstream failures -----------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_upstream_500_is_502(service: ServerThread, fake_upstream: FakeUpstream, stream: bool) -> None:
    fake_upstream.queue(Reply(status=500))
    async with client_for(service) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(model="m", messages=HELLO, stream=stream)
    assert caught.value.status_code == 502
    assert caught.value.code == "upstream_http_500"


@pytest.mark.parametrize("stream", [False, True])
async def test_upstream_429_is_429_with_retry_after(
    service: ServerThread, fake_upstream: FakeUpstream, stream: bool
) -> None:
    fake_upstream.queue(Reply(status=429, retry_after="7"), Reply(status=429))
    async with client_for(service) as client:
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="m", messages=HELLO, stream=stream)
        assert caught.value.response.headers["retry-after"] == "7"
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="m", messages=HELLO, stream=stream)
        assert caught.value.response.headers["retry-after"] == "1"


async def test_upstream_refusing_our_key_is_502_without_echoing_it(
    start_service: StartService, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.api_key = "the-right-upstream-key"
    try:
        service = start_service(openai_config(fake_upstream))
        async with httpx.AsyncClient(base_url=service.url) as http:
            response = await http.post("/v1/chat/completions", json={"messages": HELLO}, headers=auth())
    finally:
        fake_upstream.api_key = None
    assert response.status_code == 502
    assert "refused the API key" in response.json()["error"]["message"]
    assert UPSTREAM_KEY not in response.text


async def test_refused_connection_is_502_quickly(start_service: StartService, fake_upstream: FakeUpstream) -> None:
    service = start_service(openai_config(fake_upstream, openai={"base_url": f"http://127.0.0.1:{closed_port()}/v1"}))
    started = time.monotonic()
    async with client_for(service) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(model="m", messages=HELLO, stream=True)
    assert caught.value.status_code == 502
    assert caught.value.code == "upstream_unreachable"
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("stream", [False, True])
async def test_hanging_upstream_is_504_within_its_deadline(
    start_service: StartService, fake_upstream: FakeUpstream, stream: bool
) -> None:
    # A stream waits first_token_timeout (0.5 s) for its first token; a whole answer, relayed whole,
    # has no first token and waits request_timeout (1.2 s here) for all of it.
    service = start_service(openai_config(fake_upstream, request_timeout=1.2))
    fake_upstream.queue(Reply(hang=True))
    started = time.monotonic()
    async with client_for(service) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(model="m", messages=HELLO, stream=stream)
    elapsed = time.monotonic() - started
    assert caught.value.status_code == 504
    assert (0.4 < elapsed < 1.0) if stream else (1.1 < elapsed < 2.0)


async def test_slow_first_token_is_504(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(Reply(chunks=["late"], first_delay=3))  # headers and role chunk come at once
    async with client_for(service) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(model="m", messages=HELLO, stream=True)
    assert caught.value.status_code == 504


async def test_stream_cut_midway_ends_with_an_error_event(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(Reply(chunks=["one", "two", "three"], cut_after=2))
    started = time.monotonic()
    status, lines = await sse_lines(service, {"model": "m", "messages": HELLO, "stream": True})
    assert status == 200
    events = [line.removeprefix("data: ") for line in lines if line]
    assert events[-1] == "[DONE]"
    error = json.loads(events[-2])["error"]
    assert error["code"] == "upstream_unreachable" and error["type"] == "upstream_error"
    assert [json.loads(e)["choices"][0]["delta"].get("content") for e in events[1:3]] == ["one", "two"]
    assert time.monotonic() - started < 2
    # The official client surfaces the in-band error as an exception.
    fake_upstream.queue(Reply(chunks=["one", "two", "three"], cut_after=1))
    async with client_for(service) as client:
        stream = await client.chat.completions.create(model="m", messages=HELLO, stream=True)
        with pytest.raises(openai.APIError, match="Cannot reach the upstream"):
            async for _ in stream:
                pass


async def test_request_timeout_mid_stream_ends_with_a_504_event(
    start_service: StartService, fake_upstream: FakeUpstream
) -> None:
    service = start_service(openai_config(fake_upstream, request_timeout=0.6))
    fake_upstream.queue(Reply(chunks=["a"] * 20, chunk_delay=0.1))
    _, lines = await sse_lines(service, {"model": "m", "messages": HELLO, "stream": True})
    events = [line.removeprefix("data: ") for line in lines if line]
    assert json.loads(events[-2])["error"]["type"] == "timeout_error"
    assert events[-1] == "[DONE]"


# -- cancellation ----------------------------------------------------------------------------


async def test_client_disconnect_reaches_upstream(service: ServerThread, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(Reply(chunks=["tick"] * 200, chunk_delay=0.05))
    async with httpx.AsyncClient(timeout=10) as http:
        body = {"model": "m", "messages": HELLO, "stream": True}
        async with http.stream("POST", f"{service.url}/v1/chat/completions", json=body, headers=auth()) as response:
            async for line in response.aiter_lines():
                if "tick" in line:
                    break
    closed_at = time.monotonic()
    await wait_until(lambda: fake_upstream.disconnects > 0, 2)
    assert fake_upstream.disconnects == 1
    assert time.monotonic() - closed_at < 1
    assert fake_upstream.completed == 0


async def test_disconnect_while_waiting_for_first_token_cancels_upstream(
    service: ServerThread, fake_upstream: FakeUpstream
) -> None:
    async with httpx.AsyncClient(base_url=service.url) as http:
        metrics_before = (await http.get("/metrics")).text
    assert "model_service_in_flight_requests 0.0" in metrics_before
    fake_upstream.queue(Reply(chunks=["late"], first_delay=0.4))
    body = {"messages": HELLO, "stream": True}
    with pytest.raises(httpx.ReadTimeout):
        async with httpx.AsyncClient(timeout=0.1) as http:
            await http.post(f"{service.url}/v1/chat/completions", json=body, headers=auth())
    await asyncio.sleep(0.5)
    async with httpx.AsyncClient(base_url=service.url) as http:
        metrics = (await http.get("/metrics")).text
    assert "model_service_in_flight_requests 0.0" in metrics
    assert fake_upstream.completed == 0


# -- secrets ---------------------------------------------------------------------------------


async def test_keys_never_logged(
    start_service: StartService, fake_upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    service = start_service(openai_config(fake_upstream))
    fake_upstream.queue(Reply(status=500), Reply(chunks=["a", "b"], cut_after=1))
    async with httpx.AsyncClient(base_url=service.url) as http:
        for key in (SERVICE_KEY, "wrong-" + SERVICE_KEY):
            await http.post("/v1/chat/completions", json={"messages": HELLO}, headers=auth(key))
        await http.post("/v1/chat/completions", json={"messages": HELLO, "stream": True}, headers=auth())
    assert caplog.records, "expected some log output to check"
    assert SERVICE_KEY not in caplog.text
    assert UPSTREAM_KEY not in caplog.text
