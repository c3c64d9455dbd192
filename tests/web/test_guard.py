"""What the page refuses before Gradio reads it, over real HTTP to `python -m bot.web`: file uploads
(the page has no file input) and bodies over web.max_request_bytes."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx

from tests.web.conftest import WebServer

UPLOAD = b"not a puzzle, just someone's file " * 1_500  # ~50 KB


def stored_files(server: WebServer) -> list[str]:
    return [str(path) for path in server.gradio_cache.rglob("*") if path.is_file()]


def status_of_head(url: str, head: str) -> int:
    """Send a request head alone and read the status: a server waiting for the promised body times out."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(head.encode("latin-1"))
        first = b""
        while b"\r\n" not in first:
            received = sock.recv(4096)
            assert received, "the server closed the connection without an answer"
            first += received
    return int(first.split()[1])


def test_uploads_are_refused_and_nothing_is_stored(web_servers: tuple[WebServer, WebServer]) -> None:
    server = web_servers[0]
    before = stored_files(server)
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for route in ("gradio_api/upload", "gradio_api/upload?upload_id=abc", "gradio_api/process_recording"):
            refused = http.post(route, files={"files": ("notes.txt", UPLOAD, "text/plain")})
            assert refused.status_code == 403 and refused.text == "This page takes no file uploads.", route
        other = http.post("gradio_api/queue/join", files={"files": ("notes.txt", UPLOAD, "text/plain")})
        assert other.status_code == 403
        assert http.get("healthz").status_code == 200  # the page itself is still there
    assert stored_files(server) == before


def test_a_body_over_the_cap_is_refused_before_it_is_read(web_servers: tuple[WebServer, WebServer]) -> None:
    server = web_servers[0]
    head = (
        "POST /gradio_api/queue/join HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {300 * 2**20}\r\n\r\n"
    )
    assert status_of_head(server.url, head) == 413
    with httpx.Client(base_url=server.url, timeout=10) as http:
        padded = http.post("gradio_api/queue/join", json={"data": ["x" * 70_000]})
    assert padded.status_code == 413 and padded.text == "Request body too large: at most 65,536 bytes."
