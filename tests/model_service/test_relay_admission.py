"""A full relay refuses at once (429 queue_full, Retry-After) without calling the upstream."""

from __future__ import annotations

import asyncio
import threading

import httpx
import openai

from model_service.server import ServerThread
from tests.fakes.upstream import FakeUpstream, Reply
from tests.model_service.conftest import SERVICE_KEY, StartService, openai_config, wait_until

QUESTION = {"model": "m", "messages": [{"role": "user", "content": "Was he alone?"}]}


async def stream_text(http: httpx.AsyncClient) -> str:
    texts = []
    async with http.stream("POST", "/v1/chat/completions", json={**QUESTION, "stream": True}) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: {"):
                texts.append(line)
    return "".join(texts)


async def test_requests_past_max_in_flight_are_refused_before_the_upstream(
    start_service: StartService, fake_upstream: FakeUpstream
) -> None:
    service: ServerThread = start_service(openai_config(fake_upstream, openai={"max_in_flight": 2}))
    gate = threading.Event()
    fake_upstream.queue(*(Reply(chunks=["Yes", " he was."], gate=gate) for _ in range(2)))
    headers = {"Authorization": f"Bearer {SERVICE_KEY}"}
    async with httpx.AsyncClient(base_url=service.url, headers=headers, timeout=10) as http:
        held = [asyncio.create_task(stream_text(http)) for _ in range(2)]
        assert await wait_until(lambda: len(fake_upstream.requests) == 2, within=5)

        # Both held streams stay gated until gate.set() below, so a request that waited for a slot
        # would never be answered here: each answer proves it was refused at the door.
        refused = [
            await http.post("/v1/chat/completions", json={**QUESTION, "stream": stream})
            for stream in (True, False, True)
        ]
        await asyncio.sleep(0.2)  # a refused request that did reach the upstream would be recorded by now
        assert len(fake_upstream.requests) == 2
        for response in refused:
            assert response.status_code == 429
            assert response.headers["Retry-After"] == "1"
            error = response.json()["error"]
            assert (error["type"], error["code"]) == ("rate_limit_error", "queue_full")
            assert "2 requests in flight" in error["message"]

        gate.set()
        assert all("he was." in text for text in await asyncio.gather(*held))
        fake_upstream.queue(Reply(chunks=["No."]))
        assert "No." in await stream_text(http)  # the slots were given back
        metrics = (await http.get("/metrics")).text
    assert len(fake_upstream.requests) == 3
    assert 'model_service_requests_total{path="/v1/chat/completions",status="429"} 3.0' in metrics
    assert "model_service_in_flight_requests 0.0" in metrics


async def test_official_client_sees_a_rate_limit_error_with_queue_full(
    start_service: StartService, fake_upstream: FakeUpstream
) -> None:
    service = start_service(openai_config(fake_upstream, openai={"max_in_flight": 1}))
    fake_upstream.queue(Reply(hang=True))
    async with openai.AsyncOpenAI(base_url=f"{service.url}/v1", api_key=SERVICE_KEY, max_retries=0) as client:
        waiting = asyncio.create_task(client.chat.completions.create(**QUESTION, stream=True))
        assert await wait_until(lambda: len(fake_upstream.requests) == 1, within=5)
        try:
            await client.chat.completions.create(**QUESTION)
        except openai.RateLimitError as error:
            assert error.code == "queue_full"
            assert error.response.headers["retry-after"] == "1"
        else:
            raise AssertionError("the second request was not refused")
        waiting.cancel()
    assert len(fake_upstream.requests) == 1
