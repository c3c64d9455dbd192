"""The browser's side of the engine without a browser: session channels, refusals, limits, expiry."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.game.assembly import SECONDS_PER_DAY, build_games, load_configured_bank
from bot.game.host import ModelHost
from bot.redis_client import connect
from bot.web.clients import client_address
from bot.web.game import View, WebGames
from bot.web.limits import RateLimiter
from bot.web.sessions import channel_for, is_web_channel, new_token, valid_token
from common.config import Config, validate
from tests.fakes.redis_server import free_port
from tests.fakes.upstream import FakeUpstream, Reply


def web_config(redis_url: str, upstream: FakeUpstream, **game: object) -> Config:
    data = {
        "redis": {"url": redis_url},
        "model": {"base_url": upstream.base_url, "api_key": "k", "max_retries": 0, "first_token_timeout": 5},
        "game": {"question_cooldown": 0, "max_question_length": 40, **game},
        "web": {"actions_per_minute": 3},
    }
    return validate(data, "<test>")


@pytest.fixture
async def web(redis_url: str, fake_upstream: FakeUpstream) -> AsyncIterator[WebGames]:
    config = web_config(redis_url, fake_upstream)
    client, host = connect(config.redis), ModelHost(config.model)
    games = build_games(config, client, host, load_configured_bank(config))
    yield WebGames(games, RateLimiter(config.web.actions_per_minute))
    await host.close()
    await client.aclose()


async def last(views: AsyncIterator[View]) -> View:
    seen = [view async for view in views]
    return seen[-1]


def test_session_channels_never_meet_discord_or_terminal_ones() -> None:
    tokens = [new_token() for _ in range(2000)]
    channels = [channel_for(token) for token in tokens]
    assert all(valid_token(token) for token in tokens)
    assert all(is_web_channel(channel) for channel in channels)
    assert all(-(2**63) < channel < -(2**62) for channel in channels)  # below terminal play, within int64
    assert len(set(channels)) == len(channels)
    assert channel_for(tokens[0]) == channel_for(tokens[0])
    assert not is_web_channel(-(2**62)) and not is_web_channel(-1) and not is_web_channel(1234)
    for bad in ("", "short", "x" * 32 + "!", "../" * 11, None, 42, "a" * 33):
        assert not valid_token(bad)


async def test_a_reload_finds_the_same_game_and_a_bad_token_gets_a_new_one(web: WebGames) -> None:
    first = await web.open(None)
    again = await web.open(first.token)
    assert again.token == first.token and again.story == first.story and again.playing
    forged = await web.open("not a token")
    assert valid_token(forged.token) and forged.token != first.token


async def test_refusals_are_friendly_lines_and_limits_hold(web: WebGames, fake_upstream: FakeUpstream) -> None:
    view = await web.open(None)
    too_long = await last(web.ask(view.token, "Why? " * 20, "en"))
    assert "too long (at most 40 characters)" in too_long.notice and not too_long.accepted
    assert fake_upstream.requests == []
    fake_upstream.queue(Reply.text("No."))
    answered = await last(web.ask(view.token, "Was he hungry?", "en"))
    assert answered.chat[-1]["content"] == "❌ No." and answered.accepted
    await last(web.ask(view.token, "Was he sad?", "en"))  # the third action this minute: the last allowed
    limited = await last(web.ask(view.token, "Was he tired?", "en"))
    assert "try again in" in limited.notice and len(fake_upstream.requests) == 2
    assert limited.story == view.story and len(limited.chat) == 4 and limited.playing  # the game stays in view
    # Another session has its own allowance.
    other = await web.open(None)
    assert (await web.stop(other.token, "en")).notice


async def test_a_question_with_a_lone_surrogate_is_answered_and_stored(
    web: WebGames, fake_upstream: FakeUpstream
) -> None:
    """A browser's JSON can carry half a surrogate pair; it cannot be encoded to store or send, so it
    becomes U+FFFD instead of failing the question."""
    view = await web.open(None)
    fake_upstream.queue(Reply.text("No."))
    answered = await last(web.ask(view.token, "Was it \ud83d a storm?", "en"))
    assert answered.accepted and answered.chat[-1]["content"] == "❌ No."
    assert answered.chat[-2]["content"].endswith("Was it \ufffd a storm?")
    assert "\ufffd a storm" in fake_upstream.requests[-1]["messages"][-1]["content"]
    game = await web.games.store.load(channel_for(view.token))
    assert game is not None and game.transcript[-1].question == "Was it \ufffd a storm?"


async def test_the_answer_is_in_a_view_only_once_the_game_ended(web: WebGames, fake_upstream: FakeUpstream) -> None:
    view = await web.open(None, "zh")
    game = await web.games.current(channel_for(view.token))
    assert game is not None and game.language == "zh"
    fake_upstream.queue(Reply.text(f"是。{game.answer}", size=3))
    views = [update async for update in web.ask(view.token, "和过去有关吗？", "zh")]
    # The placeholder, then the verdict alone: the guard cuts the reply at the answer's first sentence, which
    # it knows by meaning as soon as it is whole.
    assert len(views) >= 2 and all(game.answer not in str(update) for update in [view, *views])
    assert views[-1].chat[-1]["content"].startswith("✅")
    stopped = await web.stop(view.token, "zh")
    assert game.answer in stopped.notice and not stopped.playing


async def test_web_games_expire_like_channel_games(web: WebGames, redis_url: str) -> None:
    view = await web.open(None)
    client = aioredis.from_url(redis_url)
    try:
        ttl = await client.ttl(web.games.store.keys(channel_for(view.token))[0])
    finally:
        await client.aclose()
    assert 7 * SECONDS_PER_DAY - 60 < ttl <= 7 * SECONDS_PER_DAY


async def test_an_unreachable_redis_is_one_friendly_line(fake_upstream: FakeUpstream) -> None:
    config = web_config(f"redis://127.0.0.1:{free_port()}/0", fake_upstream)
    client, host = connect(config.redis), ModelHost(config.model)
    try:
        web = WebGames(build_games(config, client, host, load_configured_bank(config)), RateLimiter(5))
        view = await web.open(None, "zh")
        assert view.notice == "游戏存储暂时无法连接，没有做任何改动。请稍后再试。" and not view.playing
    finally:
        await host.close()
        await client.aclose()


def test_the_rate_limit_is_a_sliding_minute() -> None:
    now = [1000.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.allow(1) == 0 and limiter.allow(1) == 0
    assert limiter.allow(1) == pytest.approx(60.0)
    assert limiter.allow(2) == 0  # per session
    now[0] += 30
    assert limiter.allow(1) == pytest.approx(30.0)
    now[0] += 30
    assert limiter.allow(1) == 0


@pytest.mark.parametrize("shape", ["vllm_reasoning_parser", "kimi_inline", "mid_thought"])
async def test_a_thinking_host_shows_the_page_it_thinks_never_what(
    web: WebGames, fake_upstream: FakeUpstream, shape: str
) -> None:
    view = await web.open(None, "zh")
    game = await web.games.current(channel_for(view.token))
    assert game is not None
    thought = f"斑马沉思：汤底是{game.answer}，所以回答否。"
    fake_upstream.queue(Reply.thinking(shape, thought, "否。想想别的。", size=3), Reply.text(f"<think>{thought}"))
    views = [update async for update in web.ask(view.token, "和天气有关吗？", "zh")]
    assert any(update.chat[-1]["content"] == "💭 *主持人思考中……*" for update in views)
    assert views[-1].chat[-1]["content"] == "❌ 否。想想别的。"
    cut_off = [update async for update in web.ask(view.token, "他是一个人吗？", "zh")]
    assert cut_off[-1].chat[-1]["content"] == "⚠️ *主持人想了很久，没能及时给出回答。本题不计，请再问一次。*"
    assert all("斑马沉思" not in str(update) and game.answer not in str(update) for update in [*views, *cut_off])
    stored = await web.games.store.load(channel_for(view.token))
    assert stored is not None and [exchange.reply for exchange in stored.transcript] == ["否。想想别的。"]


def test_the_client_address_is_the_peer_unless_a_trusted_proxy_header_is_configured() -> None:
    forwarded = {"x-forwarded-for": "10.0.0.1, 203.0.113.7"}
    assert client_address("127.0.0.1", forwarded, None) == "127.0.0.1"  # a header nobody vouches for is ignored
    assert client_address("127.0.0.1", forwarded, "X-Forwarded-For") == "203.0.113.7"  # the proxy's own entry
    assert client_address("127.0.0.1", {"x-real-ip": " 198.51.100.4 "}, "X-Real-IP") == "198.51.100.4"
    assert client_address("127.0.0.1", {}, "X-Forwarded-For") == "127.0.0.1"  # no header: the peer
    assert client_address(None, {"x-forwarded-for": "x" * 5000}, "X-Forwarded-For") == "x" * 100
    assert client_address(None, {}, None) == "unknown"
