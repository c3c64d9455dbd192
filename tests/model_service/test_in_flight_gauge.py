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

from model_service.app import create_app
from model_service.server import ServerThread
from tests.fakes.upstream import FakeUpstream, Reply
from tests.model_service.conftest import SERVICE_KEY, openai_config, wait_until

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


async def test_a_server_whose_send_yields_and_a_hang_up_before_the_body_leave_the_gauge_at_zero(
    fake_upstream: FakeUpstream,
) -> None:
    """The same hang-up at the ASGI boundary, with a server whose `send` of the response start yields to
    the loop (uvicorn's does not, which is why the HTTP test above cannot catch it): the disconnect is
    seen while the headers go out, the body task is cancelled before the events generator ever starts,
    and only cleanup owned by the response releases the request (issue 14 point 11)."""
    fake_upstream.queue(Reply(chunks=["Yes", " and", " more"]))
    app = create_app(openai_config(fake_upstream))
    body = json.dumps({"model": "m", "stream": True, "messages": [{"role": "user", "content": "Alive?"}]}).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"service"),
            (b"authorization", f"Bearer {SERVICE_KEY}".encode()),
            (b"content-type", b"application/json"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    calls = 0
    never = asyncio.Event()

    async def receive() -> dict:
        nonlocal calls
        calls += 1
        if calls == 1:
            return {"type": "http.request", "body": body, "more_body": False}
        if calls == 2:  # watched while the first token is awaited: the client is still there
            await never.wait()
        return {"type": "http.disconnect"}  # gone by the time the response starts

    sent: list[str] = []

    async def send(message: dict) -> None:
        sent.append(message["type"])
        await asyncio.sleep(0)  # a server that yields while writing

    state = app.state.service
    async with app.router.lifespan_context(app):
        await app(scope, receive, send)
        for _ in range(50):  # the release may finish a loop turn later
            if state.metrics.in_flight._value.get() == 0:
                break
            await asyncio.sleep(0.01)
    assert sent[:1] == ["http.response.start"]
    assert state.metrics.in_flight._value.get() == 0
