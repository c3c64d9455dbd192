"""The in-flight gauge returns to 0 when a client hangs up before its stream's first byte is written.

To get there over real HTTP, the client pipelines two requests on one connection and stops
reading: the first answer (a large non-streamed reply) fills the socket, so the second, a stream,
has its first token but cannot write its headers. The client then hangs up. The body of that
stream never starts, so cleanup that lives in the body (closing the upstream stream, leaving the
gauge) never runs either.
"""

from __future__ import annotations

import asyncio
import json
import socket

import httpx

from model_service.server import ServerThread
from tests.fakes.upstream import FakeUpstream, Reply
from tests.model_service.conftest import SERVICE_KEY, wait_until

BIG_REPLY = "The lighthouse keeper switched off the lamp. " * 200_000  # ~9 MB: more than loopback buffers hold


def chat_request(stream: bool) -> bytes:
    body = json.dumps({"model": "m", "stream": stream, "messages": [{"role": "user", "content": "Alive?"}]}).encode()
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: service\r\n"
        f"Authorization: Bearer {SERVICE_KEY}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def gauge(service: ServerThread) -> float:
    async with httpx.AsyncClient(base_url=service.url) as http:
        metrics = (await http.get("/metrics")).text
    line = next(line for line in metrics.splitlines() if line.startswith("model_service_in_flight_requests "))
    return float(line.split()[1])


async def test_hang_up_before_the_stream_starts_leaves_the_gauge_at_zero(
    service: ServerThread, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.queue(Reply.text(BIG_REPLY, size=len(BIG_REPLY)), Reply(chunks=["Yes", " and", " more"]))
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a client that reads nothing
    client.connect(("127.0.0.1", service.port))
    client.sendall(chat_request(stream=False) + chat_request(stream=True))

    # The stream's first token has reached the service; its headers wait behind the unread reply.
    assert await wait_until(lambda: fake_upstream.completed == 2, within=20)
    await asyncio.sleep(0.3)
    assert await gauge(service) == 1
    client.close()

    for _ in range(50):  # the hang-up reaches the service's loop a moment later
        if await gauge(service) == 0:
            break
        await asyncio.sleep(0.05)
    assert await gauge(service) == 0
