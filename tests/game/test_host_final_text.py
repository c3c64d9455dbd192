"""A reply ends at the model's last event (its finish_reason), not at the end of the HTTP body: the host passes
its last text on as FinalText, and the body's end ([DONE]) is read when the consumer closes the stream, so the
connection is kept. Over real HTTP against the scripted upstream."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from bot.game import host as host_module
from bot.game.host import ModelHost
from bot.game.sse import FinalText
from bot.game.structured import VerdictForm
from common.config import ModelConfig
from tests.fakes.upstream import FakeUpstream, Reply

QUESTION = [{"role": "user", "content": "Was he alone?"}]


def host_for(upstream: FakeUpstream) -> ModelHost:
    return ModelHost(ModelConfig(base_url=upstream.base_url, api_key="k", max_retries=0, first_token_timeout=5))


@pytest.fixture
async def host(fake_upstream: FakeUpstream) -> AsyncIterator[ModelHost]:
    client = host_for(fake_upstream)
    yield client
    await client.close()


async def up_to_final(host: ModelHost, verdict: VerdictForm | None = None) -> list[str]:
    """The pieces up to FinalText, then the stream closed there, as the game's session does."""
    pieces: list[str] = []
    async with contextlib.aclosing(host.stream(QUESTION, verdict=verdict)) as deltas:
        async for piece in deltas:
            assert isinstance(piece, str)
            pieces.append(piece)
            if isinstance(piece, FinalText):
                break
    return pieces


async def test_the_last_event_ends_the_reply_and_the_connection_is_kept(
    host: ModelHost, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.queue(Reply.text("No. He was not alone."), Reply.text("Yes."))
    first = await up_to_final(host)
    assert "".join(first) == "No. He was not alone."
    assert isinstance(first[-1], FinalText) and first[-1] == ""  # this server sends finish_reason on its own
    assert not any(isinstance(piece, FinalText) for piece in first[:-1])
    second = await up_to_final(host)
    assert "".join(second) == "Yes."
    # The first body was read to its end when its stream closed: the second request came on the same connection.
    assert fake_upstream.peers[0] == fake_upstream.peers[1]


async def test_a_finish_reason_on_the_last_content_chunk_brings_that_text(
    host: ModelHost, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.queue(Reply.text("Yes. It was.", finish_on_last=True))
    pieces = await up_to_final(host)
    assert "".join(pieces) == "Yes. It was."
    assert isinstance(pieces[-1], FinalText) and pieces[-1] == "was."


async def test_reading_on_after_the_final_text_ends_the_stream_cleanly(
    host: ModelHost, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.queue(Reply.text("No."), Reply.text("Yes."))
    pieces = [piece async for piece in host.stream(QUESTION)]  # a consumer that does not know FinalText
    assert pieces == ["No.", ""] and isinstance(pieces[-1], FinalText)
    assert "".join([piece async for piece in host.stream(QUESTION)]) == "Yes."
    assert fake_upstream.peers[0] == fake_upstream.peers[1]


async def test_a_structured_verdict_ends_with_its_whole_text(host: ModelHost, fake_upstream: FakeUpstream) -> None:
    fake_upstream.queue(Reply.text('{"verdict": "no", "comment": "Someone was with him.", "facts": [2]}', size=7))
    pieces = await up_to_final(host, VerdictForm("en", 3))
    assert "".join(pieces) == "No. Someone was with him.\n[facts: 2]"
    assert isinstance(pieces[-1], FinalText)  # passed through the decoding, the reply whole by then


async def test_a_server_that_lingers_after_its_last_event_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host_module, "DRAIN_SECONDS", 0.2)
    upstream = FakeUpstream().start()  # its own: the lingering stream must not touch other tests' counts
    host = host_for(upstream)
    try:
        upstream.queue(Reply.text("No.", linger=3.0), Reply.text("Yes."))
        assert "".join(await up_to_final(host)) == "No."  # closed after 0.2 s of waiting, not 3 s
        assert "".join(await up_to_final(host)) == "Yes."
        assert upstream.peers[0] != upstream.peers[1]  # the lingering connection was given up
    finally:
        await host.close()
        upstream.stop()
