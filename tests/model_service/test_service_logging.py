"""A library's malformed log call (`log.warning("failed:", error)`, no `%s`) never takes the service down.

The service's own logging set-up (`configure_logging`, the redacting filter on the root handler)
is installed for real; a vendor library inside the backend logs such a call at start-up and on
every request. The line still reaches the log, with its arguments shown and secrets redacted.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import openai
import pytest

from model_service.__main__ import configure_logging
from model_service.backends.base import Delta, GenerationRequest
from model_service.backends.openai_backend import OpenAIBackend
from model_service.server import RedactingFilter
from tests.fakes.upstream import FakeUpstream, Reply
from tests.model_service.conftest import SERVICE_KEY, UPSTREAM_KEY, StartService, openai_config

vendor_log = logging.getLogger("vendor.sdk")


class BackendWithSloppyLibrary(OpenAIBackend):
    """The real relay, plus a third-party library that logs with an argument and no `%s` for it."""

    async def start(self) -> None:
        vendor_log.warning("vendor sdk: telemetry init failed:", RuntimeError(f"key {UPSTREAM_KEY} refused"))
        await super().start()

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Delta]:
        vendor_log.warning("vendor sdk: request retried:", f"Authorization: Bearer {SERVICE_KEY}")
        async for delta in super().stream(request):
            yield delta

    async def complete(self, request: GenerationRequest) -> dict[str, Any]:
        vendor_log.warning("vendor sdk: request retried:", f"Authorization: Bearer {SERVICE_KEY}")
        return await super().complete(request)


@pytest.fixture
def service_log() -> Iterator[io.StringIO]:
    """The service's real logging set-up on the root logger, its handler writing to a buffer the test
    reads; pytest's own handlers are put back afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    root.handlers.clear()  # detached, not closed: basicConfig(force=True) would close pytest's handlers
    configure_logging("INFO", [SERVICE_KEY, UPSTREAM_KEY])
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    yield buffer
    root.handlers[:], level = saved
    root.setLevel(level)


async def test_malformed_library_log_calls_at_startup_and_per_request_do_not_stop_the_service(
    service_log: io.StringIO, start_service: StartService, fake_upstream: FakeUpstream
) -> None:
    config = openai_config(fake_upstream)
    service = start_service(config, backend=BackendWithSloppyLibrary(config))  # before the fix: did not start
    fake_upstream.queue(Reply.text("Yes, he was."), Reply.text("No."))
    async with openai.AsyncOpenAI(base_url=f"{service.url}/v1", api_key=SERVICE_KEY, max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "Alive?"}], stream=True
        )
        streamed = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
        whole = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Alone?"}])
    async with httpx.AsyncClient(base_url=service.url) as http:
        assert (await http.get("/healthz")).status_code == 200
    assert (streamed, whole.choices[0].message.content) == ("Yes, he was.", "No.")

    output = service_log.getvalue()
    at_startup = (
        "vendor sdk: telemetry init failed: [unformattable log arguments: (RuntimeError('key [redacted] refused'),)]"
    )
    per_request = "vendor sdk: request retried: [unformattable log arguments: ('Authorization: Bearer [redacted]',)]"
    assert at_startup in output
    assert output.count(per_request) == 2
    assert UPSTREAM_KEY not in output and SERVICE_KEY not in output


class Unprintable:
    def __str__(self) -> str:
        raise ValueError("no text for you")

    __repr__ = __str__


def test_filter_survives_a_message_whose_str_and_repr_fail() -> None:
    record = logging.LogRecord("vendor.sdk", logging.WARNING, "/lib/sdk.py", 7, Unprintable(), (Unprintable(),), None)
    assert RedactingFilter(["s3cret"]).filter(record)
    assert record.getMessage() == "[unprintable log message from vendor.sdk at /lib/sdk.py:7]"


def test_filter_keeps_well_formed_records_lazy() -> None:
    """A record with nothing to redact keeps its msg and args (handlers and tests may read them)."""
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "asked %s", ("Was he alone?",), None)
    assert RedactingFilter(["s3cret"]).filter(record)
    assert (record.msg, record.args) == ("asked %s", ("Was he alone?",))
