"""The model service relays faithfully to a real server: what llama.cpp's server does with a request's own
fields (here `response_format`) happens through the service too, and the usage it reports is its own."""

from __future__ import annotations

import json

import httpx

HEADERS = {"Authorization": "Bearer service-key"}
ASK_FOR_JSON = {
    "model": "turtle-host",
    "messages": [
        {"role": "system", "content": "Answer in JSON with the fields verdict and comment."},
        {"role": "user", "content": "Is the sky green?"},
    ],
    "response_format": {"type": "json_object"},
    "temperature": 0,
    "max_tokens": 40,
}


def test_response_format_reaches_the_server_and_usage_is_its_own(relay: str) -> None:
    reply = httpx.post(f"{relay}/chat/completions", json=ASK_FOR_JSON, headers=HEADERS, timeout=120)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    content = body["choices"][0]["message"]["content"]
    # The server's grammar holds the tiny model to JSON; a cut-off object (max_tokens) still opens as one.
    assert content.lstrip().startswith("{")
    if body["choices"][0]["finish_reason"] == "stop":
        assert isinstance(json.loads(content), dict)
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_a_streamed_reply_reports_usage_when_asked(relay: str) -> None:
    request = {**ASK_FOR_JSON, "stream": True, "stream_options": {"include_usage": True}}
    usage = None
    text = ""
    with httpx.stream("POST", f"{relay}/chat/completions", json=request, headers=HEADERS, timeout=120) as reply:
        assert reply.status_code == 200
        for line in reply.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[len("data: ") :])
            for choice in chunk.get("choices") or ():
                text += choice.get("delta", {}).get("content") or ""
            usage = chunk.get("usage") or usage
    assert text.lstrip().startswith("{")
    assert usage is not None and usage["completion_tokens"] > 0
