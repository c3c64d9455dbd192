"""The key is checked, and a body's size capped, before the service reads a body: over real HTTP.

Raw sockets send the request head alone (or a chunked body), so a server that waits for the body
it was promised is caught by the socket's timeout instead of by a 300 MiB upload in the test.
"""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from common.config import ConfigError, validate
from model_service.server import ServerThread
from tests.fakes.upstream import FakeUpstream
from tests.model_service.conftest import SERVICE_KEY, StartService, openai_config

CAP = 64 * 1024
HELLO = {"messages": [{"role": "user", "content": "Is the man alive?"}]}
ANSWER_WITHIN = 5.0  # seconds; the old service waited for the whole body (forever, here)


@pytest.fixture
def capped(fake_upstream: FakeUpstream, start_service: StartService) -> ServerThread:
    return start_service(openai_config(fake_upstream, max_body_bytes=CAP))


def exchange(service: ServerThread, head: str, body: bytes = b"") -> tuple[int, dict]:
    """Send a request head (and body bytes, if any) and read the answer's status and JSON body."""
    with socket.create_connection((service.host, service.port), timeout=ANSWER_WITHIN) as sock:
        sock.sendall(head.encode("latin-1") + body)
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(65536)
        header_text, _, rest = received.partition(b"\r\n\r\n")
        lines = header_text.decode("latin-1").split("\r\n")
        length = next(int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length:"))
        while len(rest) < length:
            rest += sock.recv(65536)
    return int(lines[0].split()[1]), json.loads(rest[:length])


def head(content_length: int | None, key: str | None = None) -> str:
    lines = ["POST /v1/chat/completions HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines.append(f"Content-Length: {content_length}" if content_length is not None else "Transfer-Encoding: chunked")
    if key:
        lines.append(f"Authorization: Bearer {key}")
    return "\r\n".join(lines) + "\r\n\r\n"


def test_a_request_without_the_key_is_refused_before_its_body_is_read(service: ServerThread) -> None:
    status, body = exchange(service, head(300 * 2**20))  # 300 MiB promised, none sent
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
    status, body = exchange(service, head(300 * 2**20, key="wrong-key"))
    assert status == 401


def test_a_declared_body_over_the_cap_is_413_before_it_is_read(capped: ServerThread) -> None:
    status, body = exchange(capped, head(CAP + 1, key=SERVICE_KEY))
    assert status == 413
    assert body["error"] == {
        "message": "Request body too large: at most 65,536 bytes (model_service.max_body_bytes).",
        "type": "invalid_request_error",
        "code": "request_too_large",
        "param": None,
    }


def test_a_chunked_body_is_read_only_up_to_the_cap(capped: ServerThread) -> None:
    chunk = b"x" * 16_384
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(5))  # 80 KiB, over 64 KiB
    status, body = exchange(capped, head(None, key=SERVICE_KEY), chunks + b"0\r\n\r\n")
    assert status == 413 and body["error"]["code"] == "request_too_large"


async def test_a_body_within_the_cap_is_answered_chunked_or_not(capped: ServerThread) -> None:
    headers = {"Authorization": f"Bearer {SERVICE_KEY}"}
    padded = {**HELLO, "user": "p" * (CAP - 1_000)}  # close under the cap
    async with httpx.AsyncClient(base_url=capped.url, timeout=10) as http:
        whole = await http.post("/v1/chat/completions", json=padded, headers=headers)

        async def pieces():  # no Content-Length: sent chunked
            yield json.dumps(HELLO).encode()

        json_type = {**headers, "Content-Type": "application/json"}
        chunked = await http.post("/v1/chat/completions", content=pieces(), headers=json_type)
        metrics = (await http.get("/metrics")).text
    assert whole.status_code == 200 and chunked.status_code == 200, chunked.text
    assert whole.json()["choices"][0]["message"]["content"] and chunked.json()["choices"][0]["message"]["content"]
    assert 'path="/v1/chat/completions",status="200"} 2.0' in metrics


def test_max_body_bytes_is_validated() -> None:
    with pytest.raises(ConfigError) as caught:
        validate({"model_service": {"max_body_bytes": 10}}, "config.yaml")
    assert "model_service.max_body_bytes: input should be greater than or equal to 1024" in str(caught.value)
